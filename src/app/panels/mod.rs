//! One panel per file; each `*_ui` draws and returns the actions the user asked for.

pub mod file_browser;
pub mod illustrate;
pub mod library;
pub mod models;
pub mod pages;
pub mod read;
pub mod settings;
pub mod top_bar;
pub mod unsaved;
pub mod words;
pub mod write;

/// A labelled single-line text field, tied to its label for screen readers and tests.
pub fn text_field(ui: &mut egui::Ui, label: &str, value: &mut String) -> egui::Response {
    ui.horizontal(|ui| {
        let l = ui.label(label);
        ui.add(egui::TextEdit::singleline(value).desired_width(f32::INFINITY))
            .labelled_by(l.id)
    })
    .inner
}
