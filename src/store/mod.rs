//! The library: every book, page, image and setting in one local SQLite file.
//! Depends on rusqlite and image only; never on the UI or the ML layer.

mod books;
mod checkpoints;
pub mod draft;
mod error;
mod frames;
mod lease;
mod listing;
mod migrations;
mod open;
mod search;
pub mod thumbnail;
mod vectors;
mod writer;

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

pub use checkpoints::Checkpoint;
pub use error::{Result, StoreError};
pub use lease::{Holder, Lease, LEASE_TTL_MS};
pub use migrations::LATEST as SCHEMA_VERSION;
pub use open::Create;
pub use search::{fts_query, is_cjk, segment, SearchMode};
pub use vectors::{PageRef, VectorIndex, VectorKind};

/// An open library file.
pub struct Library {
    conn: Connection,
    path: PathBuf,
}

/// What a new book starts with; its settings are JSON so the store needs no ML types.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewBook {
    pub title: String,
    pub prompt: String,
    pub story_settings: serde_json::Value,
    pub story_seed: u64,
    pub style_prefix: String,
    pub style_suffix: String,
    pub model_ids: serde_json::Value,
    /// Pages the book will have when finished; fewer saved pages mean it can be resumed.
    pub planned_pages: usize,
}

/// A page to store: its sentence, how it was illustrated, and the image if there is one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewPage {
    pub sentence: String,
    pub settings: serde_json::Value,
    pub seed: u64,
    pub iterations: usize,
    pub similarity: Option<f64>,
    #[serde(skip)]
    pub png: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    pub id: i64,
    pub position: usize,
    pub sentence: String,
    pub settings: serde_json::Value,
    pub seed: u64,
    pub iterations: usize,
    pub similarity: Option<f64>,
    #[serde(skip)]
    pub png: Option<Vec<u8>>,
    #[serde(skip)]
    pub thumbnail: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Book {
    pub id: i64,
    pub title: String,
    pub prompt: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub story_settings: serde_json::Value,
    pub story_seed: u64,
    pub style_prefix: String,
    pub style_suffix: String,
    pub model_ids: serde_json::Value,
    pub planned_pages: usize,
    pub pages: Vec<Page>,
}

impl Book {
    /// Fewer pages than planned: the book was interrupted and can be resumed.
    pub fn is_complete(&self) -> bool {
        self.pages.len() >= self.planned_pages && self.pages.iter().all(|p| p.png.is_some())
    }

    /// Saved pages without a picture.
    pub fn unillustrated(&self) -> usize {
        self.pages.iter().filter(|p| p.png.is_none()).count()
    }
}

/// One row of the library list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BookSummary {
    pub id: i64,
    pub title: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub page_count: usize,
    pub planned_pages: usize,
    #[serde(skip)]
    pub cover_thumbnail: Option<Vec<u8>>,
    /// Saved pages that have no picture yet (`book --resume` draws them).
    pub unillustrated: usize,
}

impl BookSummary {
    /// Pages still to be added: never negative, however the plan and the pages disagree.
    pub fn pages_to_add(&self) -> usize {
        self.planned_pages.saturating_sub(self.page_count)
    }
}

impl Library {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The platform's data folder (`~/.local/share/storybook-studio/library.sqlite` on Linux),
    /// unless `STORYBOOK_LIBRARY` names another file.
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os("STORYBOOK_LIBRARY") {
            return PathBuf::from(p);
        }
        directories::ProjectDirs::from("", "", "storybook-studio")
            .map(|d| d.data_dir().join("library.sqlite"))
            .unwrap_or_else(|| PathBuf::from("library.sqlite"))
    }

    /// `PRAGMA integrity_check`: "ok" for a healthy file.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
