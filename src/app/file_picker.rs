//! File dialogs behind a trait, so tests inject answers instead of opening a real dialog.

use std::path::PathBuf;

pub trait FilePicker {
    fn open_image(&mut self) -> Option<PathBuf>;
    fn save_file(&mut self, default_name: &str) -> Option<PathBuf>;
    fn pick_folder(&mut self) -> Option<PathBuf>;
}

/// The system dialogs (through xdg-portal on Linux; `None` at once where no portal runs).
pub struct SystemPicker;

impl FilePicker for SystemPicker {
    fn open_image(&mut self) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .add_filter("Images", &["png", "jpg", "jpeg", "webp", "gif", "bmp"])
            .pick_file()
    }

    fn save_file(&mut self, default_name: &str) -> Option<PathBuf> {
        rfd::FileDialog::new()
            .set_file_name(default_name)
            .save_file()
    }

    fn pick_folder(&mut self) -> Option<PathBuf> {
        rfd::FileDialog::new().pick_folder()
    }
}

/// Answers from a list, for tests: each call takes the next answer.
#[derive(Default)]
pub struct ScriptedPicker {
    pub answers: std::collections::VecDeque<Option<PathBuf>>,
}

impl FilePicker for ScriptedPicker {
    fn open_image(&mut self) -> Option<PathBuf> {
        self.answers.pop_front().flatten()
    }

    fn save_file(&mut self, _default_name: &str) -> Option<PathBuf> {
        self.answers.pop_front().flatten()
    }

    fn pick_folder(&mut self) -> Option<PathBuf> {
        self.answers.pop_front().flatten()
    }
}
