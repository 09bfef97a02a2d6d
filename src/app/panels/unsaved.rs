//! The question asked before the book in progress, with edits not saved to the library, is
//! replaced (Open, New book, `--open-book`) or the window closes: Save, Discard or Cancel.

use super::super::actions::Action;
use super::super::keeping::Replace;

pub fn unsaved_ui(ctx: &egui::Context, next: Replace) -> Vec<Action> {
    let mut actions = Vec::new();
    let what = match next {
        Replace::NewBook => "start a new book",
        Replace::OpenBook(_) => "open another book",
        Replace::Quit => "close the studio",
    };
    let modal = egui::Modal::new(egui::Id::unique("unsaved-edits")).show(ctx, |ui| {
        ui.set_max_width(420.0);
        ui.heading("Save the book in progress?");
        ui.label(format!(
            "It has edits that are not in the library yet. Save them before you {what}, or \
             discard them (the library keeps its last saved version)."
        ));
        ui.horizontal_wrapped(|ui| {
            if ui.button("Save").clicked() {
                actions.push(Action::UnsavedSave(next));
            }
            if ui.button("Discard").clicked() {
                actions.push(Action::UnsavedDiscard(next));
            }
            if ui.button("Cancel").clicked() {
                actions.push(Action::UnsavedCancel);
            }
        });
    });
    if modal.should_close() && actions.is_empty() {
        actions.push(Action::UnsavedCancel);
    }
    actions
}
