//! Image to words: drop an image (anywhere on the window) or open one, then get a prompt with
//! ranked terms, or a poem with its poetic clues, each after BLIP's caption when BLIP is on
//! disk; copy any of them or use it as a story prompt.

use super::super::actions::Action;
use super::super::state::State;
use super::super::views::WordsView;
use crate::worker::{PromptMode, Ranked};

pub fn words_ui(ui: &mut egui::Ui, state: &mut State, view: &WordsView) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.heading("Image to words");
    drop_zone_ui(ui, view, &mut actions);
    ui.horizontal(|ui| {
        ui.label("Language:");
        ui.selectable_value(&mut state.words_chinese, false, "English");
        ui.selectable_value(&mut state.words_chinese, true, "中文")
            .on_hover_text("A classical Chinese poem: Chinese CLIP picks imagery keywords, a Chinese poem GPT-2 writes.");
    });
    if state.words_chinese {
        chinese_ui(ui, state, view, &mut actions);
        return actions;
    }
    ui.horizontal_wrapped(|ui| {
        egui::ComboBox::from_label("Prompt mode")
            .selected_text(mode_name(state.prompt_mode))
            .show_ui(ui, |ui| {
                for m in [PromptMode::Fast, PromptMode::Best, PromptMode::Negative] {
                    ui.selectable_value(&mut state.prompt_mode, m, mode_name(m));
                }
            });
        ui.add(egui::Slider::new(&mut state.prompt_top, 1..=10).text("terms"));
    });
    ui.horizontal_wrapped(|ui| {
        ui.add(egui::Slider::new(&mut state.poem_lines, 1..=12).text("lines"));
        ui.add(egui::Slider::new(&mut state.poem_candidates, 1..=6).text("poems to rank"));
    });
    ui.checkbox(&mut state.use_caption, "Start from BLIP's caption")
        .on_hover_text("What is happening in the picture, in words; needs BLIP (Models tab).");
    ui.horizontal(|ui| {
        let ready = view.image.is_some() && view.status.is_none();
        if ui.add_enabled(ready, egui::Button::new("Prompt")).clicked() {
            actions.push(Action::RunPrompt);
        }
        if ui.add_enabled(ready, egui::Button::new("Poem")).clicked() {
            actions.push(Action::RunPoem);
        }
        if let Some(s) = &view.status {
            // A still marker: a spinner would repaint the window every frame.
            ui.label(format!("• {s}"));
        }
    });
    if let Some(r) = &view.prompt {
        if r.mode.wants_caption() {
            caption_ui(ui, r.caption.as_deref(), view.caption_asked, &mut actions);
        }
        result_ui(ui, "Prompt", &r.prompt, "Use as story prompt", &mut actions);
        ui.label(format!("CLIP similarity to the image: {:.3}", r.similarity));
        for (lexicon, terms) in &r.terms {
            terms_ui(ui, lexicon, terms);
        }
    }
    if let Some(p) = &view.poem {
        caption_ui(ui, p.caption.as_deref(), view.caption_asked, &mut actions);
        result_ui(ui, "Poem", &p.poem, "Use as story prompt", &mut actions);
        ui.strong("Poetic clues");
        for (clue, terms) in &p.clues {
            terms_ui(ui, clue, terms);
        }
        egui::CollapsingHeader::new("All candidates").show(ui, |ui| {
            for c in &p.candidates {
                ui.label(format!("score {:.3}", c.score));
                ui.label(&c.poem);
                ui.separator();
            }
        });
    }
    actions
}

/// The Chinese side: the form, then the poem with its keywords and the ranked candidates.
fn chinese_ui(ui: &mut egui::Ui, state: &mut State, view: &WordsView, actions: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Form:");
        ui.selectable_value(&mut state.poem_form, 5, "五言 (5)");
        ui.selectable_value(&mut state.poem_form, 7, "七言 (7)");
        ui.add(egui::Slider::new(&mut state.poem_lines, 1..=12).text("lines"));
        ui.add(egui::Slider::new(&mut state.poem_candidates, 1..=6).text("poems to rank"));
    });
    ui.horizontal(|ui| {
        let ready = view.image.is_some() && view.status.is_none();
        if ui
            .add_enabled(ready, egui::Button::new("写诗 Poem"))
            .clicked()
        {
            actions.push(Action::RunPoem);
        }
        if let Some(s) = &view.status {
            ui.label(format!("• {s}"));
        }
    });
    let Some(p) = &view.zh_poem else {
        return;
    };
    result_ui(ui, "Poem", &p.poem, "Use as story prompt", actions);
    let keywords: Vec<String> = p
        .keywords
        .iter()
        .map(|k| format!("{} ({:.3})", k.term, k.score))
        .collect();
    ui.label(format!("意象 keywords: {}", keywords.join("、")));
    egui::CollapsingHeader::new("All candidates").show(ui, |ui| {
        for c in &p.candidates {
            ui.label(format!("score {:.3}", c.score));
            ui.label(&c.poem);
            ui.separator();
        }
    });
}

fn drop_zone_ui(ui: &mut egui::Ui, view: &WordsView, actions: &mut Vec<Action>) {
    let hovering = ui.ctx().input(|i| !i.raw.hovered_files.is_empty());
    let stroke = if hovering {
        ui.visuals().selection.stroke
    } else {
        ui.visuals().widgets.noninteractive.bg_stroke
    };
    egui::Frame::group(ui.style())
        .stroke(stroke)
        .show(ui, |ui| {
            ui.set_min_height(120.0);
            ui.horizontal(|ui| {
                if let Some(t) = &view.texture {
                    ui.add(egui::Image::new(t).fit_to_exact_size(egui::vec2(160.0, 160.0)));
                }
                ui.vertical(|ui| {
                    ui.label(match &view.image_name {
                        Some(n) => format!("Image: {n}"),
                        None => "Drop an image anywhere on this window".into(),
                    });
                    if ui.button("Open…").clicked() {
                        actions.push(Action::OpenImage);
                    }
                });
            });
        });
}

/// BLIP's caption above the terms, or why there is none.
fn caption_ui(ui: &mut egui::Ui, caption: Option<&str>, wanted: bool, actions: &mut Vec<Action>) {
    match caption {
        // The caption's own button says so: both buttons can be on screen at once.
        Some(text) => result_ui(ui, "Caption", text, "Use caption as story prompt", actions),
        None if wanted => {
            ui.separator();
            ui.weak("No caption: no usable BLIP is on disk. The Models tab can download it.");
        }
        None => {}
    }
}

fn result_ui(
    ui: &mut egui::Ui,
    title: &str,
    text: &str,
    use_label: &str,
    actions: &mut Vec<Action>,
) {
    ui.separator();
    ui.strong(title);
    ui.label(egui::RichText::new(text).monospace());
    ui.horizontal(|ui| {
        if ui
            .button(format!("Copy {}", title.to_lowercase()))
            .clicked()
        {
            actions.push(Action::Copy(text.to_string()));
        }
        if ui.button(use_label).clicked() {
            actions.push(Action::UseAsStoryPrompt(text.to_string()));
        }
    });
}

fn terms_ui(ui: &mut egui::Ui, name: &str, terms: &[Ranked]) {
    let list: Vec<String> = terms
        .iter()
        .map(|t| format!("{} ({:.3})", t.term, t.score))
        .collect();
    ui.label(format!("{name}: {}", list.join(", ")));
}

fn mode_name(m: PromptMode) -> &'static str {
    match m {
        PromptMode::Fast => "fast",
        PromptMode::Best => "best",
        PromptMode::Negative => "negative",
    }
}
