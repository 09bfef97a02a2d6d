//! Models: where each model was found and its size, download with progress, choose a folder,
//! and the compute device.

use super::super::actions::Action;
use super::super::state::State;
use super::super::views::ModelsView;
use crate::worker::ModelKind;

pub fn models_ui(ui: &mut egui::Ui, state: &mut State, view: &ModelsView) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.heading("Models");
    ui.weak("What each job would use now, with the settings applied.");
    for row in &view.rows {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.strong(&row.name);
            match &row.found {
                Some((place, bytes)) => {
                    ui.add(
                        egui::Label::new(format!("Found: {place}, {:.1} MB", *bytes as f64 / 1e6))
                            .wrap(),
                    );
                }
                None => {
                    // Why a job was sent here, in the row it is about; else what is missing.
                    let why = match (&view.message, view.message_kind) {
                        (Some(m), Some(k)) if k == row.kind => m.as_str(),
                        _ => row.note.as_str(),
                    };
                    ui.add(
                        egui::Label::new(
                            egui::RichText::new(why).color(ui.visuals().warn_fg_color),
                        )
                        .wrap(),
                    );
                }
            }
            // Only a row with something to offer gets a line of buttons.
            let offers = row.explicit.is_some() || row.found.is_none();
            if offers {
                ui.horizontal_wrapped(|ui| {
                    if let Some(path) = &row.explicit {
                        ui.weak(format!("Folder set in Settings: {}", path.display()));
                        if ui
                            .button(format!("Clear the {} setting", row.kind))
                            .clicked()
                        {
                            actions.push(Action::ClearModelPath(row.kind));
                        }
                    } else if row.found.is_none()
                        && row.downloadable
                        && ui.button(format!("Download {}", row.kind)).clicked()
                    {
                        actions.push(Action::Download(row.kind));
                    }
                });
            }
            if row.kind == ModelKind::Vqgan && view.downloading.is_none() {
                actions.extend(vqgan_choice_ui(ui, state));
            }
            if let Some((kind, file, done, total)) = &view.downloading {
                if *kind == row.kind {
                    let f = *done as f32 / (*total).max(1) as f32;
                    ui.add(egui::ProgressBar::new(f).text(format!("{file}: {:.0}%", f * 100.0)));
                    // The partial file stays; the next Download continues where this stopped.
                    if ui.button("Cancel download").clicked() {
                        actions.push(Action::CancelDownload);
                    }
                }
            }
        });
    }
    ui.horizontal_wrapped(|ui| {
        if ui.button("Choose models folder…").clicked() {
            actions.push(Action::ChooseModelsFolder);
        }
        if ui.button("Look again").clicked() {
            actions.push(Action::Send(crate::worker::Command::ScanModels));
        }
    });
    ui.horizontal(|ui| {
        let before = state.engine.device.clone();
        egui::ComboBox::from_label("Device")
            .selected_text(if before.is_empty() {
                "cpu"
            } else {
                before.as_str()
            })
            .show_ui(ui, |ui| {
                for d in crate::worker::available_devices() {
                    ui.selectable_value(&mut state.engine.device, d.to_string(), d);
                }
            });
        if state.engine.device != before {
            actions.push(Action::ApplyEngineSettings);
        }
    });
    actions.extend(gpt2_weights_ui(ui, state));
    actions
}

/// How GPT-2 keeps its weights while writing; a change applies at once, like the device.
fn gpt2_weights_ui(ui: &mut egui::Ui, state: &mut State) -> Vec<Action> {
    let choices = crate::worker::gpt2_weight_choices();
    choice_ui(
        ui,
        "Story weights",
        &choices,
        &mut state.engine.gpt2_weights,
    )
}

/// Which illustrator the VQGAN row is about; a change applies at once, like the device.
fn vqgan_choice_ui(ui: &mut egui::Ui, state: &mut State) -> Vec<Action> {
    let choices = crate::worker::vqgan_choices();
    choice_ui(
        ui,
        "Illustrator model",
        &choices,
        &mut state.engine.vqgan_model,
    )
}

/// A setting picked from named `choices` (name, a few words on it), the first the default,
/// with the chosen one's words beside it; a change asks for the settings to be applied.
fn choice_ui(
    ui: &mut egui::Ui,
    label: &str,
    choices: &[(&'static str, &'static str)],
    value: &mut String,
) -> Vec<Action> {
    let before = value.clone();
    let shown = super::super::settings_diff::chosen_name(&before, choices).to_string();
    ui.horizontal_wrapped(|ui| {
        egui::ComboBox::from_label(label)
            .selected_text(&shown)
            .show_ui(ui, |ui| {
                for (i, (name, about)) in choices.iter().enumerate() {
                    // The default is stored as empty, so a later default change follows.
                    let option = if i == 0 {
                        String::new()
                    } else {
                        name.to_string()
                    };
                    ui.selectable_value(value, option, *name)
                        .on_hover_text(*about);
                }
            });
        if let Some((_, about)) = choices.iter().find(|(n, _)| *n == shown) {
            ui.weak(*about);
        }
    });
    if *value != before {
        vec![Action::ApplyEngineSettings]
    } else {
        Vec::new()
    }
}
