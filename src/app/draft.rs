//! The book being made: its pages and where each stands, with the page edits of the Write panel
//! (split, merge, move, delete, add) as plain functions on the page list. An edit never drops a
//! picture: a page whose text changed keeps it, marked stale, until it is redrawn.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::story::sentences::split_sentences;
use crate::worker::{BookDraft, DraftPage, IllustrateOptions, PageCheckpoint};

#[derive(Debug, Clone, PartialEq, Default)]
pub enum PageStatus {
    #[default]
    NotStarted,
    Queued,
    Running,
    Done,
    Cancelled,
    /// Stopped by Pause (or the window closing) at this step; Resume goes on from it.
    Paused(usize),
    Failed(String),
}

impl PageStatus {
    pub fn label(&self) -> String {
        match self {
            Self::NotStarted => "not illustrated".into(),
            Self::Queued => "queued".into(),
            Self::Running => "illustrating".into(),
            Self::Done => "done".into(),
            Self::Cancelled => "cancelled".into(),
            Self::Paused(step) => format!("paused at step {step}"),
            Self::Failed(why) => format!("failed: {why}"),
        }
    }
}

#[derive(Clone, Default)]
pub struct PageView {
    pub sentence: String,
    pub status: PageStatus,
    pub png: Option<Vec<u8>>,
    pub texture: Option<egui::TextureHandle>,
    pub options: Option<IllustrateOptions>,
    pub seed: u64,
    pub iterations: usize,
    pub similarity: Option<f32>,
    /// The text the picture was drawn for.
    pub drawn_for: Option<String>,
    /// Tells one picture from the next without comparing bytes (0: none yet).
    pub picture_id: u64,
    /// The state of a paused (or running) illustration, so Resume goes on from it.
    pub checkpoint: Option<PageCheckpoint>,
}

/// A number no picture has had before in this run.
pub fn next_picture_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl PageView {
    /// The checkpoint to resume this page from: one saved for its current text.
    pub fn resumable(&self) -> Option<&PageCheckpoint> {
        self.checkpoint
            .as_ref()
            .filter(|c| c.sentence == self.sentence)
    }

    pub fn new(sentence: impl Into<String>) -> Self {
        Self {
            sentence: sentence.into(),
            ..Self::default()
        }
    }

    /// It has a picture, drawn for text that has since changed.
    pub fn is_stale(&self) -> bool {
        self.png.is_some()
            && self
                .drawn_for
                .as_deref()
                .is_some_and(|d| d.trim() != self.sentence.trim())
    }

    /// What the page list shows: its status, or that its picture no longer matches its text.
    pub fn status_label(&self) -> String {
        if self.status == PageStatus::Done && self.is_stale() {
            "picture out of date: the text changed after it was drawn".into()
        } else {
            self.status.label()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageEdit {
    Split(usize),
    MergeWithNext(usize),
    MoveUp(usize),
    MoveDown(usize),
    Delete(usize),
    Add,
}

/// Applies an edit; out-of-range edits do nothing.
pub fn apply_edit(pages: &mut Vec<PageView>, edit: PageEdit) {
    let n = pages.len();
    match edit {
        PageEdit::Split(i) if i < n => {
            let parts = split_text(&pages[i].sentence);
            if parts.len() > 1 {
                // The first part keeps the picture (now stale); the others start without one.
                let mut parts = parts.into_iter();
                let mut first = pages[i].clone();
                first.sentence = parts.next().unwrap_or_default();
                let new: Vec<PageView> = std::iter::once(first)
                    .chain(parts.map(PageView::new))
                    .collect();
                pages.splice(i..=i, new);
            }
        }
        PageEdit::MergeWithNext(i) if i + 1 < n => {
            let next = pages.remove(i + 1);
            let page = &mut pages[i];
            page.sentence = format!("{} {}", page.sentence.trim(), next.sentence.trim());
            if page.png.is_none() && next.png.is_some() {
                // Keep whichever picture there is; it is stale until redrawn.
                let sentence = std::mem::take(&mut page.sentence);
                *page = PageView { sentence, ..next };
            }
        }
        PageEdit::MoveUp(i) if i > 0 && i < n => pages.swap(i, i - 1),
        PageEdit::MoveDown(i) if i + 1 < n => pages.swap(i, i + 1),
        PageEdit::Delete(i) if i < n => {
            pages.remove(i);
        }
        PageEdit::Add => pages.push(PageView::new("")),
        _ => {}
    }
}

/// Several sentences split into sentences; one sentence splits at the comma (or else the word
/// boundary) nearest its middle; a single word does not split.
pub fn split_text(text: &str) -> Vec<String> {
    let sentences = split_sentences(text);
    if sentences.len() > 1 {
        return sentences;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() < 2 {
        return vec![text.trim().to_string()];
    }
    let middle = words.len() as f32 / 2.0;
    // A comma within a third of the sentence from the middle beats the exact middle.
    let no_comma = words.len() as f32 / 3.0;
    let cut = (1..words.len())
        .min_by(|&a, &b| {
            let score = |i: usize| {
                let comma = if words[i - 1].ends_with([',', ';', ':']) {
                    0.0
                } else {
                    no_comma
                };
                (i as f32 - middle).abs() + comma
            };
            score(a).total_cmp(&score(b))
        })
        .unwrap_or(1);
    vec![words[..cut].join(" "), words[cut..].join(" ")]
}

/// The pages of a chosen story: its sentences.
pub fn pages_of(story: &str) -> Vec<PageView> {
    split_sentences(story)
        .into_iter()
        .map(PageView::new)
        .collect()
}

pub fn to_draft(
    book_id: Option<i64>,
    prompt: &str,
    story: &str,
    sampling: &crate::worker::SamplingOptions,
    illustration: &IllustrateOptions,
    pages: &[PageView],
) -> BookDraft {
    BookDraft {
        book_id,
        stamp: None,
        title: String::new(),
        prompt: prompt.to_string(),
        story: story.to_string(),
        sampling: sampling.clone(),
        illustration: illustration.clone(),
        pages: pages
            .iter()
            .map(|p| DraftPage {
                sentence: p.sentence.clone(),
                png: p.png.clone(),
                settings: p.options.clone(),
                seed: p.seed,
                iterations: p.iterations,
                similarity: p.similarity,
                drawn_for: p.drawn_for.clone(),
                checkpoint: p.checkpoint.clone(),
            })
            .collect(),
    }
}

/// A cheap digest of the book in progress: it changes with any edit or new picture, so the
/// studio can tell unsaved edits and a draft that needs keeping without comparing pictures.
/// Paused pages' checkpoints are kept in the draft only, so [`checkpoint_steps`] is mixed
/// into the draft's fingerprint, never the book's.
pub fn fingerprint(book_id: Option<i64>, story: &str, pages: &[PageView]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
        // A separator, so "ab" + "c" differs from "a" + "bc".
        h = (h ^ 0xff).wrapping_mul(0x100_0000_01b3);
    };
    eat(&book_id.unwrap_or(-1).to_le_bytes());
    eat(story.as_bytes());
    for p in pages {
        eat(p.sentence.as_bytes());
        eat(&p.picture_id.to_le_bytes());
        eat(&p.seed.to_le_bytes());
    }
    h
}

/// The steps of the pages' checkpoints: a new one is worth keeping in the draft file.
pub fn checkpoint_steps(pages: &[PageView]) -> u64 {
    pages.iter().enumerate().fold(0, |h, (i, p)| {
        let step = p.checkpoint.as_ref().map_or(0, |c| c.step as u64 + 1);
        h.wrapping_mul(0x100_0000_01b3) ^ (step << 8 | i as u64 & 0xff)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(pages: &[PageView]) -> Vec<&str> {
        pages.iter().map(|p| p.sentence.as_str()).collect()
    }

    #[test]
    fn edits_split_merge_move_and_delete() {
        let mut pages = pages_of("The fox ran. It was late, and the moon rose over the hill.");
        assert_eq!(
            texts(&pages),
            [
                "The fox ran.",
                "It was late, and the moon rose over the hill."
            ]
        );
        apply_edit(&mut pages, PageEdit::Split(1));
        assert_eq!(
            texts(&pages),
            [
                "The fox ran.",
                "It was late,",
                "and the moon rose over the hill."
            ]
        );
        apply_edit(&mut pages, PageEdit::MoveUp(2));
        assert_eq!(pages[1].sentence, "and the moon rose over the hill.");
        apply_edit(&mut pages, PageEdit::MergeWithNext(1));
        assert_eq!(
            pages[1].sentence,
            "and the moon rose over the hill. It was late,"
        );
        apply_edit(&mut pages, PageEdit::Delete(0));
        apply_edit(&mut pages, PageEdit::Add);
        assert_eq!(pages.len(), 2);
        apply_edit(&mut pages, PageEdit::Delete(9));
        apply_edit(&mut pages, PageEdit::MoveDown(1));
        assert_eq!(pages.len(), 2);
        assert_eq!(split_text("Hello"), vec!["Hello"]);
    }
}
