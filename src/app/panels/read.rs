//! Read: the book page by page, picture and sentence, with save and export.

use super::super::actions::Action;
use super::super::draft::PageView;
use super::super::state::State;

pub fn read_ui(
    ui: &mut egui::Ui,
    state: &State,
    pages: &[PageView],
    current: &mut usize,
) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.heading(if state.prompt.is_empty() {
        "Your book"
    } else {
        state.prompt.as_str()
    });
    ui.horizontal(|ui| {
        if ui.button("Save to library").clicked() {
            actions.push(Action::SaveBook);
        }
        if ui
            .add_enabled(state.book_id.is_some(), egui::Button::new("Export…"))
            .on_disabled_hover_text("Save the book first")
            .on_hover_text("HTML or PDF, by the file name's extension")
            .clicked()
        {
            actions.push(Action::ExportCurrent);
        }
    });
    if pages.is_empty() {
        ui.label("The book has no pages yet.");
        return actions;
    }
    *current = (*current).min(pages.len() - 1);
    let page = &pages[*current];
    ui.horizontal(|ui| {
        if ui
            .add_enabled(*current > 0, egui::Button::new("Previous page"))
            .clicked()
        {
            *current -= 1;
        }
        ui.label(format!("Page {} of {}", *current + 1, pages.len()));
        if ui
            .add_enabled(*current + 1 < pages.len(), egui::Button::new("Next page"))
            .clicked()
        {
            *current += 1;
        }
    });
    if let Some(t) = &page.texture {
        let side = ui.available_width().min(384.0);
        ui.add(egui::Image::new(t).fit_to_exact_size(egui::vec2(side, side)));
        if page.is_stale() {
            ui.weak("This picture was drawn for earlier text; redraw it in Illustrate.");
        }
    } else {
        ui.weak("(not illustrated yet)");
    }
    ui.label(egui::RichText::new(&page.sentence).size(20.0));
    actions
}
