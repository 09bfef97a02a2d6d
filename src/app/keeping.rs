//! Keeping the user's work: whether the book in progress has edits the library lacks, keeping it
//! (pictures and all) in the draft file beside the library as it changes, and bringing it back
//! after a restart. The draft is written through the library thread, at most once a second while
//! edits come in, and once more when the window closes.

use std::time::{Duration, Instant};

use super::draft::{fingerprint, next_picture_id, to_draft, PageStatus, PageView};
use super::{textures, StudioApp};
use crate::worker::{Command, OpenedBook};

/// The least time between two writes of the draft while the user types.
const DRAFT_EVERY: Duration = Duration::from_secs(1);

/// What the user asked for that would replace the book in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    NewBook,
    OpenBook(i64),
    Quit,
}

#[derive(Debug, Default)]
pub struct Keeping {
    /// The book's fingerprint when it was last saved to (or opened from) the library.
    pub saved: u64,
    /// The fingerprint sent with a Save still on its way.
    pub saving: Option<u64>,
    /// What to do once that Save lands (the user chose Save in the unsaved-edits question).
    pub after_save: Option<Replace>,
    /// The question being asked, if any.
    pub asking: Option<Replace>,
    /// The fingerprint last sent to the draft file.
    pub kept: u64,
    /// The draft file has been read (so writing cannot overwrite a draft not yet shown), and
    /// can be written.
    pub draft_ready: bool,
    /// The answer to reading the draft file has come, usable or not.
    pub draft_read: bool,
    pub kept_at: Option<Instant>,
    /// The user agreed to close; the close request is let through.
    pub quitting: bool,
    /// A book to open once the draft is read (`gui --open-book`).
    pub open_on_start: Option<i64>,
    /// The book's fingerprint when the studio started: a kept draft replaces the book only if
    /// the user has not changed it since.
    pub started_with: u64,
}

impl StudioApp {
    /// The book's text and pictures: what the library may lack.
    pub fn book_fingerprint(&self) -> u64 {
        fingerprint(None, &self.state.story, &self.pages)
    }

    /// Everything the draft file keeps: the book, which library book it is, and whether it
    /// has unsaved edits.
    pub fn draft_fingerprint(&self) -> u64 {
        let unsaved = if self.has_unsaved_edits() {
            0x5bd1_e995
        } else {
            0
        };
        fingerprint(self.state.book_id, &self.state.story, &self.pages)
            ^ unsaved
            ^ super::draft::checkpoint_steps(&self.pages)
    }

    /// The book in progress has pages with edits the library does not have.
    pub fn has_unsaved_edits(&self) -> bool {
        !self.pages.is_empty() && self.book_fingerprint() != self.keeping.saved
    }

    /// The book as it is now counts as saved.
    pub fn mark_saved(&mut self) {
        self.keeping.saved = self.book_fingerprint();
    }

    /// Replaces the book in progress with `book` (opened from the library, or kept from the
    /// last run), loading each page's picture as a texture.
    pub fn load_book(&mut self, ctx: &egui::Context, book: OpenedBook) {
        let OpenedBook {
            draft,
            pictures,
            unsaved,
        } = book;
        self.state.book_id = draft.book_id;
        self.state.book_stamp = draft.stamp;
        if !draft.prompt.is_empty() {
            self.state.prompt = draft.prompt;
        }
        self.state.story = draft.story;
        self.pages = draft
            .pages
            .into_iter()
            .zip(pictures.into_iter().chain(std::iter::repeat(None)))
            .map(|(p, picture)| {
                let picture_id = if p.png.is_some() {
                    next_picture_id()
                } else {
                    0
                };
                PageView {
                    status: match (&p.png, &p.checkpoint) {
                        (Some(_), _) => PageStatus::Done,
                        (None, Some(c)) => PageStatus::Paused(c.step),
                        (None, None) => PageStatus::NotStarted,
                    },
                    checkpoint: p.checkpoint,
                    texture: picture
                        .map(|pic| textures::load(ctx, &format!("picture-{picture_id}"), &pic)),
                    sentence: p.sentence,
                    png: p.png,
                    options: p.settings,
                    seed: p.seed,
                    iterations: p.iterations,
                    similarity: p.similarity,
                    drawn_for: p.drawn_for,
                    picture_id,
                }
            })
            .collect();
        self.story.read_page = 0;
        self.illustrate.forget_run();
        if unsaved {
            self.keeping.saved = 0;
        } else {
            self.mark_saved();
        }
    }

    /// Empties the book in progress (New book, or Discard).
    pub fn clear_book(&mut self) {
        self.pages.clear();
        self.state.story.clear();
        self.state.book_id = None;
        self.state.book_stamp = None;
        self.story.candidates.clear();
        self.story.picked = None;
        self.illustrate.forget_run();
        self.mark_saved();
    }

    /// Sends the book in progress to the draft file when it changed, at most once a second
    /// unless `now` (the window is closing). Returns how long until a held-back change is due.
    pub fn keep_draft(&mut self, now: bool) -> Option<Duration> {
        if !self.keeping.draft_ready {
            return None;
        }
        let fp = self.draft_fingerprint();
        if fp == self.keeping.kept {
            return None;
        }
        let since = self.keeping.kept_at.map(|t| t.elapsed());
        if let Some(since) = since.filter(|s| !now && *s < DRAFT_EVERY) {
            return Some(DRAFT_EVERY - since);
        }
        let mut draft = to_draft(
            self.state.book_id,
            &self.state.prompt,
            &self.state.story,
            &self.state.sampling,
            &self.state.illustration,
            &self.pages,
        );
        draft.stamp = self.state.book_stamp;
        let unsaved = self.has_unsaved_edits();
        self.state.unsaved = unsaved;
        if self
            .worker
            .send(Command::SaveDraft {
                draft: Box::new(draft),
                unsaved,
            })
            .is_ok()
        {
            self.keeping.kept = fp;
            self.keeping.kept_at = Some(Instant::now());
        }
        None
    }
}
