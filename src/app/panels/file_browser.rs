//! The in-app file browser, shown when the system file dialog is unavailable: a path field
//! with completion, the home and recent folders, the typed folder's entries, and the choice.

use std::path::PathBuf;

use super::super::actions::Action;
use super::super::file_browser::{home_dir, FileBrowser};

pub fn file_browser_ui(
    ctx: &egui::Context,
    browser: &mut FileBrowser,
    recent: &[PathBuf],
) -> Vec<Action> {
    let mut actions = Vec::new();
    let modal = egui::Modal::new(egui::Id::unique("file-browser")).show(ctx, |ui| {
        let width = (ctx.content_rect().width() - 80.0).clamp(240.0, 640.0);
        ui.set_width(width);
        ui.heading(browser.purpose.title());
        ui.label("The system file dialog is unavailable, so type a path or pick one below.");
        ui.horizontal_wrapped(|ui| {
            if let Some(home) = home_dir() {
                if ui
                    .button("Home")
                    .on_hover_text(home.display().to_string())
                    .clicked()
                {
                    browser.enter(&home);
                }
            }
            for folder in recent {
                let name = folder
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| folder.display().to_string());
                if ui
                    .button(name)
                    .on_hover_text(format!("Recent: {}", folder.display()))
                    .clicked()
                {
                    browser.enter(folder);
                }
            }
        });
        let label = ui.label("Path");
        let field = ui
            .add(egui::TextEdit::singleline(&mut browser.text).desired_width(f32::INFINITY))
            .labelled_by(label.id);
        if field.changed() {
            browser.error = None;
            browser.replacing = None;
        }
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        ui.horizontal(|ui| {
            if ui
                .button("Complete")
                .on_hover_text("Complete the typed name from the folder")
                .clicked()
            {
                browser.complete();
            }
            if ui.button("Up").on_hover_text("The folder above").clicked() {
                let (dir, _) = browser.split();
                if let Some(up) = dir.parent() {
                    browser.enter(up);
                }
            }
        });
        let (dir, typed) = browser.split();
        let mut suggestions = browser.suggestions();
        let matched = !suggestions.is_empty() || typed.is_empty();
        if !matched {
            // Nothing starts with the typed name (a new file's name, say): show the folder.
            let text = std::mem::replace(&mut browser.text, format!("{}/", dir.display()));
            suggestions = browser.suggestions();
            browser.text = text;
        }
        // A fixed height, so the buttons below stay put while the list changes.
        egui::ScrollArea::vertical()
            .max_height(180.0)
            .min_scrolled_height(180.0)
            .auto_shrink([false, false])
            .show(ui, |ui| {
                if !matched {
                    ui.weak(format!(
                        "Nothing here starts with “{typed}”; the folder holds:"
                    ));
                }
                if suggestions.is_empty() {
                    ui.weak("(nothing to choose here)");
                }
                for entry in suggestions {
                    let shown = if entry.is_dir {
                        format!("{}/", entry.name)
                    } else {
                        entry.name.clone()
                    };
                    // Cut long names short, so the dialog keeps its width.
                    if ui
                        .add(egui::Button::selectable(false, shown).truncate())
                        .clicked()
                    {
                        let path = dir.join(&entry.name);
                        if entry.is_dir {
                            browser.enter(&path);
                        } else {
                            browser.text = path.display().to_string();
                        }
                        browser.error = None;
                        browser.replacing = None;
                    }
                }
            });
        if let Some(error) = &browser.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        ui.separator();
        ui.horizontal(|ui| {
            let typed = super::super::file_browser::expand_home(browser.text.trim());
            let label = match &browser.replacing {
                Some(p) if *p == typed => "Replace",
                _ => browser.purpose.accept_label(),
            };
            if ui.button(label).clicked() || enter {
                actions.push(Action::BrowserAccept);
            }
            if ui.button("Cancel").clicked() {
                actions.push(Action::BrowserCancel);
            }
        });
    });
    if modal.should_close() && actions.is_empty() {
        actions.push(Action::BrowserCancel);
    }
    actions
}
