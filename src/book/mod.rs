//! The book pipeline: prompt → story → pages → an illustration per page → a saved book.
//!
//! Every setting goes into the library with the book (sampling options, the planned sentences,
//! each page's illustration options and seed), so an interrupted book can be resumed and any page
//! regenerated identically. Each page is saved the moment it is finished, under the book's lease,
//! so only one run at a time adds pages to a book.

mod draw;
pub mod search;
mod settings;
mod story;
mod text;

pub use draw::{draw_pages, regenerate_page, start_book, CHECKPOINT_EVERY};
pub use settings::{check_illustration, check_pages, describe, Corrections, MAX_PAGES};
pub use story::{write_story, Story, MAX_STORY_PASSES};
pub use text::{story_from_text, PagesBy};

use serde::{Deserialize, Serialize};

use crate::ml::illustrate::{IllustrateOptions, Illustrator, StepReport};
use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::models::gpt2::Gpt2;
use crate::ml::sampling::SamplingOptions;
use crate::store::Book;

/// What the library keeps in `story_settings`, enough to resume or redo a book.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BookRecipe {
    pub sampling: SamplingOptions,
    pub illustration: IllustrateOptions,
    /// The sentences chosen as pages, in order, including those not illustrated yet.
    pub planned_sentences: Vec<String>,
    pub story_text: String,
    #[serde(default)]
    pub keep_frames: bool,
}

impl BookRecipe {
    /// The recipe a book was saved with, or a sentence saying it has none to resume from.
    pub fn of(book: &Book) -> Result<Self, BookError> {
        serde_json::from_value(book.story_settings.clone()).map_err(|e| {
            BookError::Invalid(format!(
                "book {} has no recipe to resume from ({e}); it can still be read and exported",
                book.id
            ))
        })
    }
}

/// Progress a front end can show.
pub enum BookEvent<'a> {
    /// The pages this run draws (positions, in order) out of the book's `total`.
    Plan {
        book_id: i64,
        total: usize,
        to_draw: &'a [usize],
        iterations: usize,
    },
    PageStarted {
        position: usize,
        sentence: &'a str,
    },
    Step {
        position: usize,
        report: &'a StepReport<'a>,
    },
    PageSaved {
        position: usize,
        similarity: f32,
    },
    /// The page goes on from a checkpoint saved after `step` steps.
    Resumed {
        position: usize,
        step: usize,
    },
    /// A checkpoint saved after `step` steps was dropped: the page's sentence or settings
    /// changed since, so the page starts again.
    Restarted {
        position: usize,
        step: usize,
    },
    /// The run stopped after `step` steps of this page; its state is saved.
    Paused {
        position: usize,
        step: usize,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct PageResult {
    pub sentence: String,
    pub similarity: Option<f64>,
}

pub struct BookModels<'a> {
    pub gpt2: &'a Gpt2,
    pub gpt2_tokenizer: &'a TextTokenizer,
    pub illustrator: Illustrator<'a>,
    pub model_ids: serde_json::Value,
}

/// The illustration half of [`BookModels`], all that drawing pages needs.
pub struct DrawModels<'a> {
    pub illustrator: &'a Illustrator<'a>,
    pub model_ids: &'a serde_json::Value,
}

/// A new book as the user asked for it, checked by [`check_pages`] and [`check_illustration`].
#[derive(Debug, Clone)]
pub struct BookRequest {
    pub prompt: String,
    pub sampling: SamplingOptions,
    pub illustration: IllustrateOptions,
    pub pages: usize,
    pub keep_frames: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    #[error(transparent)]
    Ml(#[from] crate::ml::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(
        "book {book} has {count} page{}; there is no page {page}",
        if *count == 1 { "" } else { "s" }
    )]
    NoSuchPage {
        book: i64,
        /// 1-based, as the user counts.
        page: usize,
        count: usize,
    },
    #[error("{0}")]
    Invalid(String),
}

impl BookError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, BookError::Ml(crate::ml::Error::Cancelled))
    }
}

pub fn title_of(prompt: &str) -> String {
    let t: String = prompt.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut title: String = t.chars().take(60).collect();
    if t.chars().count() > 60 {
        title.push('…');
    }
    title
}

/// The page's own options: the book's, with a per-page seed so pages differ but reproduce.
pub fn page_options(recipe: &BookRecipe, position: usize) -> IllustrateOptions {
    IllustrateOptions {
        seed: recipe.illustration.seed.wrapping_add(position as u64),
        preview_every: if recipe.keep_frames {
            recipe.illustration.preview_every.max(1)
        } else {
            recipe.illustration.preview_every
        },
        ..recipe.illustration.clone()
    }
}
