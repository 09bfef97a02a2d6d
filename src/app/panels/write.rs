//! Write: the prompt and story options, candidates streaming in, and the page editor.

use super::super::actions::Action;
use super::super::draft::PageView;
use super::super::presets::STYLES;
use super::super::state::{State, Tab};
use super::super::views::{ModelsView, StoryView};

pub fn write_ui(
    ui: &mut egui::Ui,
    state: &mut State,
    pages: &mut [PageView],
    story: &mut StoryView,
    models: &ModelsView,
) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.heading("Write a story");
    models_line_ui(ui, models, &mut actions);
    let label = ui.label("Story prompt");
    ui.add(
        egui::TextEdit::multiline(&mut state.prompt)
            .desired_rows(2)
            .desired_width(f32::INFINITY)
            .hint_text("Once upon a time, a small fox…"),
    )
    .labelled_by(label.id);
    options_ui(ui, state);
    ui.horizontal_wrapped(|ui| {
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
            let weights = story.weights.as_deref().unwrap_or("f32");
            ui.label(format!("{tps:.1} tokens/s, {weights} weights"));
        }
    });
    for (i, text) in story.candidates.iter().enumerate() {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.strong(format!("Story {}", i + 1));
                if story.picked == Some(i) {
                    ui.weak(format!("in use: its {} pages are below", pages.len()));
                } else if !story.generating && ui.button(format!("Use story {}", i + 1)).clicked() {
                    actions.push(Action::PickCandidate(i));
                }
            });
            ui.label(text);
        });
    }
    ui.separator();
    style_ui(ui, state);
    ui.separator();
    actions.extend(super::pages::pages_ui(ui, pages, story.scroll_to_pages));
    story.scroll_to_pages = false;
    actions
}

/// Whether the models a story and its pictures need are present, on the first screen.
/// Always one child ui, whatever it holds, so the widgets below keep their ids when the rows
/// arrive.
fn models_line_ui(ui: &mut egui::Ui, models: &ModelsView, actions: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| models_line_inner_ui(ui, models, actions));
}

fn models_line_inner_ui(ui: &mut egui::Ui, models: &ModelsView, actions: &mut Vec<Action>) {
    if models.rows.is_empty() {
        ui.weak("Looking for the models…");
        return;
    }
    let missing: Vec<&str> = models
        .rows
        .iter()
        .filter_map(|r| match (r.found.is_some(), r.kind) {
            (false, crate::worker::ModelKind::Gpt2) => Some("GPT-2"),
            (false, crate::worker::ModelKind::Clip) => Some("CLIP"),
            (false, crate::worker::ModelKind::Vqgan) => Some("VQGAN"),
            _ => None,
        })
        .collect();
    if missing.is_empty() {
        ui.weak("Models: GPT-2, CLIP and VQGAN are ready.");
    } else {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("Missing models: {}.", missing.join(", ")),
        );
        if ui.button("Open Models").clicked() {
            actions.push(Action::SwitchTab(Tab::Models));
        }
    }
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
