//! Choosing files: the system dialog first; when it cannot be used, a notice saying so and the
//! in-app file browser, whose choice goes the same way a dialog's would. What a choice leads to
//! is returned as an action, applied like a panel's.

use std::path::{Path, PathBuf};

use super::action::Action;
use super::file_browser::{home_dir, remember, FileBrowser, PickPurpose};
use super::file_picker::Picked;
use super::StudioApp;
use crate::worker::{Command, ImageSource};

pub fn open_image(app: &mut StudioApp) -> Option<Action> {
    let picked = app.picker.open_image();
    answer(app, PickPurpose::OpenImage, picked)
}

pub fn export_book(app: &mut StudioApp, id: i64) -> Option<Action> {
    let picked = app.picker.save_file("book.html");
    answer(app, PickPurpose::ExportBook(id), picked)
}

pub fn choose_models_folder(app: &mut StudioApp) -> Option<Action> {
    let picked = app.picker.pick_folder();
    answer(app, PickPurpose::ModelsFolder, picked)
}

fn answer(app: &mut StudioApp, purpose: PickPurpose, picked: Picked) -> Option<Action> {
    match picked {
        Ok(Some(path)) => chosen(app, purpose, path),
        Ok(None) => None,
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
            None
        }
    }
}

pub fn browser_accept(app: &mut StudioApp) -> Option<Action> {
    let browser = app.browser.as_mut()?;
    match browser.accept() {
        Ok(path) => {
            let purpose = browser.purpose;
            app.browser = None;
            chosen(app, purpose, path)
        }
        Err(why) => {
            browser.error = Some(why);
            None
        }
    }
}

/// A path chosen by either way: used, and its folder remembered.
fn chosen(app: &mut StudioApp, purpose: PickPurpose, path: PathBuf) -> Option<Action> {
    if let Some(folder) = purpose.folder_of(&path) {
        remember(&mut app.state.recent_folders, Path::new(&folder));
    }
    Some(match purpose {
        PickPurpose::OpenImage => Action::UseImage(ImageSource::Path(path)),
        PickPurpose::ExportBook(id) => Action::Send(Command::ExportBook { id, path }),
        PickPurpose::ModelsFolder => {
            app.state.engine.models_dir = Some(path);
            Action::ApplyEngineSettings
        }
    })
}
