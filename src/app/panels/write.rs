//! Write: the prompt and story options, candidates streaming in, and the page editor.

use super::super::actions::Action;
use super::super::draft::PageView;
use super::super::presets::STYLES;
use super::super::state::State;
use super::super::views::StoryView;

pub fn write_ui(
    ui: &mut egui::Ui,
    state: &mut State,
    pages: &mut [PageView],
    story: &StoryView,
) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.heading("Write a story");
    let label = ui.label("Story prompt");
    ui.add(
        egui::TextEdit::multiline(&mut state.prompt)
            .desired_rows(2)
            .desired_width(f32::INFINITY)
            .hint_text("Once upon a time, a small fox…"),
    )
    .labelled_by(label.id);
    options_ui(ui, state);
    ui.horizontal(|ui| {
        let busy = story.generating;
        if ui
            .add_enabled(!busy, egui::Button::new("Generate"))
            .clicked()
        {
            actions.push(Action::Generate);
        }
        if busy && ui.button("Stop").clicked() {
            actions.push(Action::Cancel);
        }
        if let Some(tps) = story.tokens_per_second {
            ui.label(format!("{tps:.1} tokens/s"));
        }
    });
    for (i, text) in story.candidates.iter().enumerate() {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.strong(format!("Story {}", i + 1));
                if !story.generating && ui.button(format!("Use story {}", i + 1)).clicked() {
                    actions.push(Action::PickCandidate(i));
                }
            });
            ui.label(text);
        });
    }
    ui.separator();
    style_ui(ui, state);
    ui.separator();
    actions.extend(super::pages::pages_ui(ui, pages));
    actions
}

fn options_ui(ui: &mut egui::Ui, state: &mut State) {
    egui::CollapsingHeader::new("Story options")
        .default_open(false)
        .show(ui, |ui| {
            let s = &mut state.sampling;
            ui.add(egui::Slider::new(&mut s.temperature, 0.0..=2.0).text("temperature"));
            ui.add(egui::Slider::new(&mut s.top_k, 0..=200).text("top-k"));
            ui.add(egui::Slider::new(&mut s.top_p, 0.05..=1.0).text("top-p"));
            ui.add(
                egui::Slider::new(&mut s.repetition_penalty, 1.0..=2.0).text("repetition penalty"),
            );
            ui.add(egui::Slider::new(&mut s.min_new_tokens, 0..=200).text("min new tokens"));
            ui.add(egui::Slider::new(&mut s.max_new_tokens, 8..=400).text("max new tokens"));
            ui.add(egui::Slider::new(&mut s.num_sequences, 1..=6).text("candidates"));
            ui.add(egui::Slider::new(&mut s.seed, 0..=9999).text("seed"));
            ui.checkbox(&mut s.trim_to_sentence, "End on a full sentence");
            super::text_field(ui, "Banned words (comma separated)", &mut state.banned);
        });
}

fn style_ui(ui: &mut egui::Ui, state: &mut State) {
    ui.horizontal(|ui| {
        egui::ComboBox::from_label("Style")
            .selected_text(if state.style_preset.is_empty() {
                "None"
            } else {
                state.style_preset.as_str()
            })
            .show_ui(ui, |ui| {
                for (name, prefix, suffix) in STYLES {
                    if ui
                        .selectable_label(state.style_preset == name, name)
                        .clicked()
                    {
                        state.style_preset = name.to_string();
                        state.illustration.style_prefix = prefix.to_string();
                        state.illustration.style_suffix = suffix.to_string();
                    }
                }
            });
    });
    super::text_field(ui, "Style prefix", &mut state.illustration.style_prefix);
    super::text_field(ui, "Style suffix", &mut state.illustration.style_suffix);
}
