//! The page editor: each page's sentence, with split, merge, move, delete and add. A row puts
//! its buttons on a second line when the window is too narrow for one, and a page whose
//! picture was drawn for older text says so, with Redraw one click away.

use super::super::actions::Action;
use super::super::draft::{PageEdit, PageView};

const BUTTONS: [&str; 5] = ["Split", "Merge", "Up", "Down", "Delete"];
/// The narrowest text field worth keeping on the buttons' line.
const MIN_FIELD: f32 = 220.0;

/// `scroll_here`: bring the page list into view (a story was just picked above it).
pub fn pages_ui(ui: &mut egui::Ui, pages: &mut [PageView], scroll_here: bool) -> Vec<Action> {
    let mut actions = Vec::new();
    let heading = ui.heading(format!("Pages ({})", pages.len()));
    if scroll_here {
        heading.scroll_to_me(Some(egui::Align::TOP));
    }
    let n = pages.len();
    let buttons = buttons_width(ui);
    for (i, page) in pages.iter_mut().enumerate() {
        let label_width = text_width(ui, &format!("Page {}", i + 1), egui::TextStyle::Body)
            + ui.spacing().item_spacing.x;
        let room = ui.available_width() - label_width - buttons;
        let one_line = room >= MIN_FIELD;
        ui.horizontal(|ui| {
            let label = ui.label(format!("Page {}", i + 1));
            let width = if one_line { room } else { ui.available_width() };
            ui.add(
                egui::TextEdit::multiline(&mut page.sentence)
                    .desired_rows(1)
                    .desired_width(width - ui.spacing().item_spacing.x),
            )
            .labelled_by(label.id);
            if one_line {
                edit_buttons_ui(ui, i, n, &mut actions);
            }
        });
        if !one_line {
            ui.horizontal_wrapped(|ui| edit_buttons_ui(ui, i, n, &mut actions));
        }
        if page.is_stale() {
            ui.horizontal_wrapped(|ui| {
                ui.weak("Its picture was drawn for earlier text.");
                if ui.button(format!("Redraw page {}", i + 1)).clicked() {
                    actions.push(Action::IllustratePage(i));
                }
            });
        }
    }
    ui.horizontal_wrapped(|ui| {
        if ui.button("Add page").clicked() {
            actions.push(Action::EditPages(PageEdit::Add));
        }
        if n > 0 && ui.button("Save to library").clicked() {
            actions.push(Action::SaveBook);
        }
        if ui.button("New book").clicked() {
            actions.push(Action::NewBook);
        }
    });
    actions
}

fn edit_buttons_ui(ui: &mut egui::Ui, i: usize, n: usize, actions: &mut Vec<Action>) {
    let edits = [
        (BUTTONS[0], true, PageEdit::Split(i)),
        (BUTTONS[1], i + 1 < n, PageEdit::MergeWithNext(i)),
        (BUTTONS[2], i > 0, PageEdit::MoveUp(i)),
        (BUTTONS[3], i + 1 < n, PageEdit::MoveDown(i)),
        (BUTTONS[4], true, PageEdit::Delete(i)),
    ];
    for (text, enabled, edit) in edits {
        if ui
            .add_enabled(enabled, egui::Button::new(text))
            .on_hover_text(format!("{text} page {}", i + 1))
            .clicked()
        {
            actions.push(Action::EditPages(edit));
        }
    }
}

fn text_width(ui: &egui::Ui, text: &str, style: egui::TextStyle) -> f32 {
    egui::WidgetText::from(text)
        .into_galley(ui, None, f32::INFINITY, style)
        .size()
        .x
}

/// The width the five edit buttons take on one line.
fn buttons_width(ui: &egui::Ui) -> f32 {
    let s = ui.spacing();
    BUTTONS
        .iter()
        .map(|t| {
            text_width(ui, t, egui::TextStyle::Button) + 2.0 * s.button_padding.x + s.item_spacing.x
        })
        .sum()
}
