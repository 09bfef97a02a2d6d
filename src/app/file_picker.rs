//! File dialogs behind a trait, so tests inject answers instead of opening a real dialog. A
//! picker answers with a path, nothing (the user cancelled), or a sentence saying the system
//! dialog could not be used; the studio then offers its own file browser.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `Ok(None)`: cancelled. `Err`: the dialog could not be shown, as a sentence.
pub type Picked = Result<Option<PathBuf>, String>;

pub trait FilePicker {
    fn open_image(&mut self) -> Picked;
    fn save_file(&mut self, default_name: &str) -> Picked;
    fn pick_folder(&mut self) -> Picked;
}

/// Set to `builtin` to skip the system dialog and use the studio's own file browser.
pub const DIALOG_ENV: &str = "STORYBOOK_FILE_DIALOG";

/// A dialog that comes back empty sooner than this never reached the user: nobody cancels a
/// dialog within a quarter of a second, but a missing portal or zenity fails that fast.
const TOO_FAST: Duration = Duration::from_millis(250);

/// The system dialogs (through the desktop portal on Linux, or zenity).
pub struct SystemPicker;

impl SystemPicker {
    fn run(&self, dialog: impl FnOnce() -> Option<PathBuf>) -> Picked {
        if std::env::var(DIALOG_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("builtin")) {
            return Err(format!(
                "the studio is set to use its own file browser ({DIALOG_ENV}=builtin)"
            ));
        }
        if let Some(why) = unavailable() {
            return Err(why);
        }
        let started = Instant::now();
        match dialog() {
            Some(path) => Ok(Some(path)),
            None if started.elapsed() < TOO_FAST => Err(
                "the system file dialog did not open (no desktop portal or zenity answered)".into(),
            ),
            None => Ok(None),
        }
    }
}

/// Why no system dialog can open here, checked before trying one.
fn unavailable() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        || std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|d| PathBuf::from(d).join("bus").exists());
    if bus || on_path("zenity") {
        None
    } else {
        Some("no desktop portal session and no zenity".into())
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

impl FilePicker for SystemPicker {
    fn open_image(&mut self) -> Picked {
        self.run(|| {
            rfd::FileDialog::new()
                .add_filter("Images", &["png", "jpg", "jpeg", "webp", "gif", "bmp"])
                .pick_file()
        })
    }

    fn save_file(&mut self, default_name: &str) -> Picked {
        self.run(|| {
            rfd::FileDialog::new()
                .set_file_name(default_name)
                .save_file()
        })
    }

    fn pick_folder(&mut self) -> Picked {
        self.run(|| rfd::FileDialog::new().pick_folder())
    }
}

/// Answers from a list, for tests: each call takes the next answer; none left is a cancel.
#[derive(Default)]
pub struct ScriptedPicker {
    pub answers: std::collections::VecDeque<Picked>,
}

impl ScriptedPicker {
    fn next(&mut self) -> Picked {
        self.answers.pop_front().unwrap_or(Ok(None))
    }
}

impl FilePicker for ScriptedPicker {
    fn open_image(&mut self) -> Picked {
        self.next()
    }

    fn save_file(&mut self, _default_name: &str) -> Picked {
        self.next()
    }

    fn pick_folder(&mut self) -> Picked {
        self.next()
    }
}
