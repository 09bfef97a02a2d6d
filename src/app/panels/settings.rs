//! Settings: where models, the library and the lexicon cache live; applied on request.

use std::path::PathBuf;

use super::super::actions::Action;
use super::super::state::State;

pub fn settings_ui(ui: &mut egui::Ui, state: &mut State) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.heading("Settings");
    let e = &mut state.engine;
    path_field(ui, "Models folder", &mut e.models_dir);
    path_field(ui, "GPT-2 folder", &mut e.gpt2);
    path_field(ui, "CLIP folder", &mut e.clip);
    path_field(ui, "VQGAN folder or checkpoint", &mut e.vqgan);
    path_field(ui, "MiniLM folder", &mut e.minilm);
    path_field(ui, "BLIP folder", &mut e.blip);
    path_field(ui, "Chinese CLIP folder", &mut e.cn_clip);
    path_field(ui, "Chinese poem GPT-2 folder", &mut e.gpt2_zh);
    path_field(ui, "Library file", &mut e.library);
    path_field(ui, "Lexicon cache folder", &mut e.label_cache);
    path_field(ui, "Hugging Face cache folder", &mut e.hub_cache);
    let mut mirror = e.hub_mirror.clone().unwrap_or_default();
    if super::text_field(ui, "Hub mirror (like HF_ENDPOINT)", &mut mirror).changed() {
        e.hub_mirror = Some(mirror.trim().to_string()).filter(|m| !m.is_empty());
    }
    ui.checkbox(&mut e.offline, "Never download");
    ui.horizontal_wrapped(|ui| {
        if ui.button("Apply settings").clicked() {
            actions.push(Action::ApplyEngineSettings);
        }
        ui.weak("Empty fields use the usual places; Apply says what changed.");
    });
    actions
}

fn path_field(ui: &mut egui::Ui, label: &str, value: &mut Option<PathBuf>) {
    let mut text = value
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if super::text_field(ui, label, &mut text).changed() {
        *value = if text.trim().is_empty() {
            None
        } else {
            Some(PathBuf::from(text.trim()))
        };
    }
}
