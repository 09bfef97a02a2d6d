//! Library: a grid of books with covers, search, open, duplicate, delete (confirmed) and export.

use super::super::actions::Action;
use super::super::views::LibraryView;
use crate::worker::SearchMode;

pub fn library_ui(ui: &mut egui::Ui, view: &mut LibraryView) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.heading("Library");
    ui.horizontal(|ui| {
        let label = ui.label("Search");
        let r = ui
            .add(
                egui::TextEdit::singleline(&mut view.query)
                    .hint_text("words, or what happens on a page"),
            )
            .labelled_by(label.id);
        // Words search as you type; a search by meaning embeds the text with MiniLM, so it
        // waits for Enter or the button instead of running at every keystroke.
        let entered = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let typed = r.changed() && (view.mode == SearchMode::Words || view.query.is_empty());
        if typed || entered || ui.button("Search").clicked() {
            actions.push(Action::SearchLibrary);
        }
    });
    ui.horizontal(|ui| {
        ui.label("Find by");
        for (mode, name, tip) in [
            (
                SearchMode::Hybrid,
                "Both",
                "pages with the words, and pages that mean the same",
            ),
            (SearchMode::Words, "Words", "pages that contain every word"),
            (
                SearchMode::Meaning,
                "Meaning",
                "pages closest in meaning, whatever their words",
            ),
        ] {
            if ui
                .selectable_label(view.mode == mode, name)
                .on_hover_text(tip)
                .clicked()
                && view.mode != mode
            {
                view.mode = mode;
                actions.push(Action::SearchLibrary);
            }
        }
        ui.weak("· drop a picture here to find pages that look like it");
    });
    if let Some(note) = &view.note {
        ui.label(note);
    }
    if view.books.is_empty() {
        ui.label(if view.query.trim().is_empty() {
            "No books yet. Write one, then Save to library."
        } else {
            "No book matches."
        });
    }
    let width = ui.available_width().max(200.0);
    let columns = ((width / 220.0).floor() as usize).max(1);
    egui::Grid::new("books")
        .spacing([12.0, 12.0])
        .show(ui, |ui| {
            for (i, (card, cover)) in view.books.iter().enumerate() {
                ui.vertical(|ui| {
                    ui.set_width(200.0);
                    match cover {
                        Some(t) => {
                            ui.add(egui::Image::new(t).fit_to_exact_size(egui::vec2(128.0, 128.0)));
                        }
                        None => {
                            ui.add_sized([128.0, 128.0], egui::Label::new("no cover"));
                        }
                    }
                    ui.strong(&card.title);
                    if let Some(page) = &card.matched {
                        ui.label(egui::RichText::new(page).italics());
                    }
                    let unfinished = if card.pages < card.planned_pages {
                        format!(" (interrupted: {} of {})", card.pages, card.planned_pages)
                    } else {
                        String::new()
                    };
                    ui.weak(format!(
                        "{} page{}{unfinished}",
                        card.pages,
                        if card.pages == 1 { "" } else { "s" }
                    ));
                    ui.horizontal_wrapped(|ui| {
                        if ui
                            .button("Open")
                            .on_hover_text(format!("Open {}", card.title))
                            .clicked()
                        {
                            actions.push(Action::OpenBook(card.id));
                        }
                        if ui.button("Duplicate").clicked() {
                            actions.push(Action::DuplicateBook(card.id));
                        }
                        if ui.button("Delete").clicked() {
                            actions.push(Action::AskDelete(card.id));
                        }
                        if ui.button("Export").clicked() {
                            actions.push(Action::ExportBook(card.id));
                        }
                    });
                });
                if (i + 1) % columns == 0 {
                    ui.end_row();
                }
            }
        });
    actions
}

/// A modal asking before a book is deleted for good.
pub fn confirm_delete_ui(ctx: &egui::Context, view: &LibraryView, id: i64) -> Vec<Action> {
    let mut actions = Vec::new();
    let title = view
        .books
        .iter()
        .find(|(c, _)| c.id == id)
        .map(|(c, _)| c.title.clone())
        .unwrap_or_else(|| format!("book {id}"));
    egui::Modal::new(egui::Id::unique("confirm-delete")).show(ctx, |ui| {
        ui.heading("Delete this book?");
        ui.label(format!(
            "“{title}” and all its pictures will be removed from the library."
        ));
        ui.horizontal(|ui| {
            if ui.button("Delete for good").clicked() {
                actions.push(Action::ConfirmDelete(id));
            }
            if ui.button("Keep it").clicked() {
                actions.push(Action::CancelDelete);
            }
        });
    });
    actions
}
