//! The Models panel's jobs: where each model was found, and downloading one with progress.

use std::path::PathBuf;
use std::sync::Arc;

use super::job_thread::Outbox;
use super::protocol::{Event, ModelKind, ModelRow};
use crate::ml::weights::hub::DownloadProgress;
use crate::ml::weights::{CancelCheck, Locator};

pub fn scan(locator: &Locator, explicit: impl Fn(ModelKind) -> Option<PathBuf>) -> Vec<ModelRow> {
    ModelKind::ALL
        .into_iter()
        .map(|kind| {
            let hub = locator.source(kind);
            let explicit = explicit(kind);
            match locator.find_local(kind, explicit.as_deref()) {
                Ok(files) => ModelRow {
                    kind,
                    name: kind.display_name().to_string(),
                    found: Some((
                        format!("{} ({})", files.location.display(), files.origin),
                        files.total_bytes(),
                    )),
                    note: String::new(),
                    explicit,
                    downloadable: locator.allow_download,
                },
                // The folder set in Settings is what every job uses, so a download elsewhere
                // would not help: the row says so instead of offering one.
                Err(err @ crate::ml::weights::LocateError::Explicit { .. }) => ModelRow {
                    kind,
                    name: kind.display_name().to_string(),
                    found: None,
                    note: format!(
                        "{err}. This folder is set in Settings; fix it there, or clear it to use \
                         the models folder or a download."
                    ),
                    explicit,
                    downloadable: locator.allow_download,
                },
                Err(_) if !locator.allow_download => ModelRow {
                    kind,
                    name: kind.display_name().to_string(),
                    found: None,
                    note: format!(
                        "not found, and downloads are off (Never download, in Settings); turn \
                         that off to download {} from {}, or choose its folder",
                        hub.name, hub.repo
                    ),
                    explicit,
                    downloadable: false,
                },
                Err(_) => ModelRow {
                    kind,
                    name: kind.display_name().to_string(),
                    found: None,
                    note: format!(
                        "not found; download {} from {} (revision {}) or choose its folder",
                        hub.name, hub.repo, hub.revision
                    ),
                    explicit,
                    downloadable: locator.allow_download,
                },
            }
        })
        .collect()
}

struct Progress<'a> {
    out: &'a Outbox,
    kind: ModelKind,
    file: String,
    done: u64,
    total: u64,
}

impl DownloadProgress for Progress<'_> {
    fn start(&mut self, file: &str, total_bytes: u64) {
        self.file = file.to_string();
        self.done = 0;
        self.total = total_bytes;
        self.report();
    }

    fn advance(&mut self, bytes: u64) {
        let before = self.done * 100 / self.total.max(1);
        self.done += bytes;
        // One event per percent keeps the channel quiet on big files.
        if self.done * 100 / self.total.max(1) != before {
            self.report();
        }
    }

    fn finish(&mut self) {
        self.done = self.total;
        self.report();
    }
}

impl Progress<'_> {
    fn report(&self) {
        self.out.send(Event::DownloadProgress {
            kind: self.kind,
            file: self.file.clone(),
            done: self.done,
            total: self.total,
        });
    }
}

/// Downloads `kind` with progress events; the studio's Cancel stops it within a second, keeping
/// the partial file for the next try.
pub fn download(
    locator: &Locator,
    kind: ModelKind,
    out: &Outbox,
) -> Result<(), crate::ml::weights::LocateError> {
    let mut progress = Progress {
        out,
        kind,
        file: String::new(),
        done: 0,
        total: 0,
    };
    let mut locator = locator.clone();
    let cancel = out.cancel_handle();
    locator.cancel = Some(CancelCheck(Arc::new(move || {
        cancel.load(std::sync::atomic::Ordering::Relaxed)
    })));
    locator.locate(kind, None, &mut progress)?;
    Ok(())
}
