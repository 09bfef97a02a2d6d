//! Why a model could not be found, as one message: every place tried, and how to get it, by
//! download or by hand into the folder the search will look in.

use std::path::{Path, PathBuf};

use super::kinds::file_groups;
use super::{HubSource, ModelKind};

/// Why a model could not be found: every place tried, and how to get it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LocateError {
    #[error("{} was not found at {}: {reason}", kind.display_name(), path.display())]
    Explicit {
        kind: ModelKind,
        path: PathBuf,
        reason: String,
    },
    #[error("{}", not_found_message(self))]
    NotFound {
        kind: ModelKind,
        tried: Vec<String>,
        download_error: Option<String>,
        /// Where files placed by hand are found: `--models DIR`, else `models/`.
        models_dir: PathBuf,
        /// Whether to suggest `models download`: not right after that very command failed.
        suggest_download: bool,
        /// Where the model comes from, and its folder name under `models_dir`.
        from: &'static HubSource,
        folder: String,
    },
    #[error(
        "the download of {} was cancelled; what arrived is kept, and the next try continues it",
        kind.display_name()
    )]
    Cancelled { kind: ModelKind },
}

impl LocateError {
    /// The same error without the advice to run `models download`: for when that very command
    /// just failed, and running it again would fail the same way.
    pub fn without_download_advice(mut self) -> Self {
        if let Self::NotFound {
            suggest_download, ..
        } = &mut self
        {
            *suggest_download = false;
        }
        self
    }

    pub fn kind(&self) -> ModelKind {
        match self {
            Self::Explicit { kind, .. }
            | Self::NotFound { kind, .. }
            | Self::Cancelled { kind } => *kind,
        }
    }

    /// Whether the user stopped a download (Ctrl-C, the studio's Cancel).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled { .. })
    }
}

fn not_found_message(err: &LocateError) -> String {
    let LocateError::NotFound {
        kind,
        tried,
        download_error,
        models_dir,
        suggest_download,
        from,
        folder,
    } = err
    else {
        return String::new();
    };
    let kind = *kind;
    let hub = from;
    let mut msg = if tried.is_empty() {
        match download_error {
            Some(err) => format!("the download of {} failed: {err}", kind.display_name()),
            None => format!("{} was not found.", kind.display_name()),
        }
    } else {
        let mut msg = format!("{} was not found. Looked in:", kind.display_name());
        for (i, place) in tried.iter().enumerate() {
            msg.push_str(&format!("\n  {}. {place}", i + 1));
        }
        if let Some(err) = download_error {
            msg.push_str(&format!(
                "\n  {}. a download from the Hugging Face hub, which failed: {err}",
                tried.len() + 1
            ));
        }
        msg
    };
    let files: Vec<&str> = hub.files.iter().map(|f| f.remote).collect();
    let by_hand = format!(
        "fetch {} from https://huggingface.co/{} (revision {}) and put them in {} as {}",
        files.join(", "),
        hub.repo,
        hub.revision,
        folder_display(&models_dir.join(folder)),
        file_groups(kind)
            .iter()
            .map(|names| names.join(" or "))
            .collect::<Vec<_>>()
            .join(" + ")
    );
    if *suggest_download {
        msg.push_str(&format!(
            "\nTo fix it, run `storybook-studio models download {kind}{}`, or {by_hand}.",
            if kind == ModelKind::Vqgan && hub.name != super::VQGAN_SOURCES[0].name {
                format!(" --vqgan-model {}", hub.name)
            } else {
                String::new()
            }
        ));
    } else {
        msg.push_str(&format!(
            "\nTo fix it, check the network connection (HF_ENDPOINT can name a mirror) and try \
             again, or {by_hand}."
        ));
    }
    msg
}

/// A folder as a user would type it, with a trailing slash.
fn folder_display(dir: &Path) -> String {
    let shown = dir.display().to_string();
    if shown.ends_with(std::path::MAIN_SEPARATOR) {
        shown
    } else {
        format!("{shown}{}", std::path::MAIN_SEPARATOR)
    }
}
