//! The page editor: each page's sentence, with split, merge, move, delete and add.

use super::super::actions::Action;
use super::super::draft::{PageEdit, PageView};

pub fn pages_ui(ui: &mut egui::Ui, pages: &mut [PageView]) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.heading(format!("Pages ({})", pages.len()));
    let n = pages.len();
    for (i, page) in pages.iter_mut().enumerate() {
        ui.horizontal(|ui| {
            let label = ui.label(format!("Page {}", i + 1));
            ui.add(
                egui::TextEdit::multiline(&mut page.sentence)
                    .desired_rows(1)
                    .desired_width(ui.available_width() - 260.0),
            )
            .labelled_by(label.id);
            let mut edit = |ui: &mut egui::Ui, text: &str, enabled: bool, e: PageEdit| {
                let hover = format!("{text} page {}", i + 1);
                if ui
                    .add_enabled(enabled, egui::Button::new(text))
                    .on_hover_text(hover)
                    .clicked()
                {
                    actions.push(Action::EditPages(e));
                }
            };
            edit(ui, "Split", true, PageEdit::Split(i));
            edit(ui, "Merge", i + 1 < n, PageEdit::MergeWithNext(i));
            edit(ui, "Up", i > 0, PageEdit::MoveUp(i));
            edit(ui, "Down", i + 1 < n, PageEdit::MoveDown(i));
            edit(ui, "Delete", true, PageEdit::Delete(i));
        });
    }
    ui.horizontal(|ui| {
        if ui.button("Add page").clicked() {
            actions.push(Action::EditPages(PageEdit::Add));
        }
        if !pages.is_empty() && ui.button("Save to library").clicked() {
            actions.push(Action::SaveBook);
        }
        if ui.button("New book").clicked() {
            actions.push(Action::NewBook);
        }
    });
    actions
}
