//! Choosing files: the system dialog first; when it cannot be used, a notice saying so and the
//! in-app file browser, whose choice goes the same way a dialog's would.

use std::path::{Path, PathBuf};

use super::actions::{apply, send, Action};
use super::file_browser::{home_dir, remember, FileBrowser, PickPurpose};
use super::file_picker::Picked;
use super::StudioApp;
use crate::worker::{Command, ImageSource};

pub fn open_image(app: &mut StudioApp, ctx: &egui::Context) {
    let picked = app.picker.open_image();
    answer(app, ctx, PickPurpose::OpenImage, picked);
}

pub fn export_book(app: &mut StudioApp, ctx: &egui::Context, id: i64) {
    let picked = app.picker.save_file("book.html");
    answer(app, ctx, PickPurpose::ExportBook(id), picked);
}

pub fn choose_models_folder(app: &mut StudioApp, ctx: &egui::Context) {
    let picked = app.picker.pick_folder();
    answer(app, ctx, PickPurpose::ModelsFolder, picked);
}

fn answer(app: &mut StudioApp, ctx: &egui::Context, purpose: PickPurpose, picked: Picked) {
    match picked {
        Ok(Some(path)) => chosen(app, ctx, purpose, path),
        Ok(None) => {}
        Err(why) => {
            app.notices.info(format!(
                "The system file dialog cannot be used here ({why}), so the studio's own file \
                 browser is open."
            ));
            let start = app
                .state
                .recent_folders
                .first()
                .cloned()
                .or_else(home_dir)
                .unwrap_or_else(|| PathBuf::from("."));
            let name = match purpose {
                PickPurpose::ExportBook(_) => "book.html",
                _ => "",
            };
            app.browser = Some(FileBrowser::new(purpose, &start, name));
        }
    }
}

pub fn browser_accept(app: &mut StudioApp, ctx: &egui::Context) {
    let Some(browser) = &mut app.browser else {
        return;
    };
    match browser.accept() {
        Ok(path) => {
            let purpose = browser.purpose;
            app.browser = None;
            chosen(app, ctx, purpose, path);
        }
        Err(why) => browser.error = Some(why),
    }
}

/// A path chosen by either way: used, and its folder remembered.
fn chosen(app: &mut StudioApp, ctx: &egui::Context, purpose: PickPurpose, path: PathBuf) {
    if let Some(folder) = purpose.folder_of(&path) {
        remember(&mut app.state.recent_folders, Path::new(&folder));
    }
    match purpose {
        PickPurpose::OpenImage => apply(app, ctx, Action::UseImage(ImageSource::Path(path))),
        PickPurpose::ExportBook(id) => send(app, Command::ExportBook { id, path }),
        PickPurpose::ModelsFolder => {
            app.state.engine.models_dir = Some(path);
            apply(app, ctx, Action::ApplyEngineSettings);
        }
    }
}
