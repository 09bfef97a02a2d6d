//! The library thread's keeping of the book in progress: the studio's draft (pages, pictures,
//! how each was drawn) to and from the draft file beside the library, so a restart shows every
//! picture again.

use std::path::{Path, PathBuf};

use super::pictures;
use super::protocol::*;
use crate::store::draft::{DraftPageRecord, DraftRecord, DraftStore};

/// The draft file, opened on first use. A file that cannot be used is reported once per
/// command as a sentence and never written.
pub struct DraftJobs {
    path: PathBuf,
    store: Option<DraftStore>,
}

impl DraftJobs {
    pub fn beside(library: &Path) -> Self {
        Self {
            path: DraftStore::path_for(library),
            store: None,
        }
    }

    fn store(&mut self) -> Result<&mut DraftStore, String> {
        if self.store.is_none() {
            self.store = Some(DraftStore::open(&self.path).map_err(|e| e.to_string())?);
        }
        self.store
            .as_mut()
            .ok_or_else(|| "the draft file is not open".to_string())
    }

    pub fn load(&mut self) -> Result<Option<Box<OpenedBook>>, String> {
        let record = self.store()?.load().map_err(|e| e.to_string())?;
        Ok(record.map(|r| {
            let pictures = r
                .pages
                .iter()
                .map(|p| p.png.as_deref().and_then(|b| pictures::from_bytes(b).ok()))
                .collect();
            Box::new(OpenedBook {
                unsaved: r.unsaved,
                draft: book_of(r),
                pictures,
            })
        }))
    }

    pub fn save(&mut self, draft: &BookDraft, unsaved: bool) -> Result<(), String> {
        let record = record_of(draft, unsaved);
        self.store()?.save(&record).map_err(|e| e.to_string())
    }
}

fn record_of(draft: &BookDraft, unsaved: bool) -> DraftRecord {
    DraftRecord {
        book_id: draft.book_id,
        stamp: draft.stamp,
        story: draft.story.clone(),
        unsaved,
        pages: draft
            .pages
            .iter()
            .map(|p| DraftPageRecord {
                sentence: p.sentence.clone(),
                drawn_for: p.drawn_for.clone(),
                settings: p
                    .settings
                    .as_ref()
                    .and_then(|s| serde_json::to_value(s).ok())
                    .unwrap_or_default(),
                seed: p.seed,
                iterations: p.iterations,
                similarity: p.similarity.map(f64::from),
                png: p.png.clone(),
                checkpoint: p.checkpoint.as_ref().map(|c| {
                    (
                        c.sentence.clone(),
                        serde_json::to_value(&c.options).unwrap_or_default(),
                        c.step,
                        c.state.to_vec(),
                    )
                }),
            })
            .collect(),
    }
}

fn book_of(record: DraftRecord) -> BookDraft {
    BookDraft {
        book_id: record.book_id,
        stamp: record.stamp,
        story: record.story,
        pages: record
            .pages
            .into_iter()
            .map(|p| DraftPage {
                // A picture kept without its text (an older file) belongs to the page's text.
                drawn_for: p
                    .drawn_for
                    .or_else(|| p.png.as_ref().map(|_| p.sentence.clone())),
                sentence: p.sentence,
                settings: serde_json::from_value(p.settings).ok(),
                seed: p.seed,
                iterations: p.iterations,
                similarity: p.similarity.map(|s| s as f32),
                png: p.png,
                // A checkpoint whose options no longer read (a hand-edited file) is dropped.
                checkpoint: p.checkpoint.and_then(|(sentence, options, step, state)| {
                    Some(PageCheckpoint {
                        sentence,
                        options: serde_json::from_value(options).ok()?,
                        step,
                        state: state.into(),
                    })
                }),
            })
            .collect(),
        ..BookDraft::default()
    }
}
