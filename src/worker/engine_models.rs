//! The Models panel's jobs: where each model was found, and downloading one with progress.

use std::path::PathBuf;

use super::job_thread::Outbox;
use super::protocol::{Event, ModelKind, ModelRow};
use crate::ml::weights::hub::DownloadProgress;
use crate::ml::weights::Locator;

pub fn scan(locator: &Locator, explicit: impl Fn(ModelKind) -> Option<PathBuf>) -> Vec<ModelRow> {
    ModelKind::ALL
        .into_iter()
        .map(|kind| {
            let hub = kind.hub();
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
                },
                Err(_) => ModelRow {
                    kind,
                    name: kind.display_name().to_string(),
                    found: None,
                    note: format!(
                        "not found; download {} (revision {}) or choose its folder",
                        hub.repo, hub.revision
                    ),
                    explicit,
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

pub fn download(locator: &Locator, kind: ModelKind, out: &Outbox) -> anyhow::Result<()> {
    let mut progress = Progress {
        out,
        kind,
        file: String::new(),
        done: 0,
        total: 0,
    };
    let mut locator = locator.clone();
    locator.allow_download = true;
    locator.locate(kind, None, &mut progress)?;
    Ok(())
}
