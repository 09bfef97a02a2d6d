//! Runtime-only state of each panel: what the worker has told us, not what is remembered.

use egui::TextureHandle;

use crate::worker::{BookCard, EngineSettings, ModelKind, ModelRow, PoemResult, PromptResult};

#[derive(Default)]
pub struct StoryView {
    /// Candidates as they stream in, then as finished.
    pub candidates: Vec<String>,
    pub generating: bool,
    /// The prompt of the last Generate: a candidate still equal to it got no words.
    pub prompt_used: String,
    pub status: Option<String>,
    pub tokens_per_second: Option<f64>,
    /// The weights the last story was written with.
    pub weights: Option<String>,
    pub read_page: usize,
    /// The candidate that became the book's text, and whether the pages still need scrolling
    /// into view to show it.
    pub picked: Option<usize>,
    pub scroll_to_pages: bool,
}

impl StoryView {
    /// Drops candidates that never got a word (a Generate that failed or was stopped early).
    pub fn drop_empty_candidates(&mut self) {
        let prompt = self.prompt_used.trim().to_string();
        self.candidates.retain(|c| c.trim() != prompt);
    }
}

/// How the page shown in the progress area ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Running,
    Done,
    Cancelled,
    Failed,
}

#[derive(Default)]
pub struct IllustrateView {
    pub selected: usize,
    /// Pause was pressed: the page that stops keeps its state.
    pub pausing: bool,
    pub running: Option<usize>,
    /// The page whose progress, curve and preview are shown (it stays after the page ends).
    pub shown: Option<usize>,
    pub outcome: Option<RunOutcome>,
    pub step: usize,
    pub iterations: usize,
    pub eta_seconds: Option<f64>,
    /// The last finished page's mean seconds per step.
    pub seconds_per_step: Option<f64>,
    /// (step, similarity) of the shown page.
    pub curve: Vec<[f64; 2]>,
    pub preview: Option<TextureHandle>,
    /// The step the preview was taken at.
    pub preview_step: usize,
    /// How many previews have arrived, and a hash of the last one's pixels.
    pub preview_count: u64,
    pub preview_hash: u64,
    pub status: Option<String>,
    /// Pages queued since the queue was last empty, and how many of them have ended.
    pub batch: Vec<usize>,
    pub batch_ended: usize,
}

impl IllustrateView {
    /// A different book: nothing of the last run belongs to it.
    pub fn forget_run(&mut self) {
        self.shown = None;
        self.outcome = None;
        self.curve.clear();
        self.preview = None;
        self.batch.clear();
        self.batch_ended = 0;
    }

    /// One queued page ended (drawn, cancelled or failed); the queue empties at the last.
    pub fn page_ended(&mut self) {
        self.batch_ended += 1;
        if self.batch_ended >= self.batch.len() {
            self.batch.clear();
            self.batch_ended = 0;
        }
    }
}

#[derive(Default)]
pub struct WordsView {
    pub image_name: Option<String>,
    pub image: Option<crate::worker::ImageSource>,
    /// The image is being read; a failure then forgets it, so nothing runs on a refused file.
    pub loading: bool,
    pub texture: Option<TextureHandle>,
    pub prompt: Option<PromptResult>,
    pub poem: Option<PoemResult>,
    pub zh_poem: Option<crate::worker::ZhPoemResult>,
    pub status: Option<String>,
    /// Whether the running or last request asked for BLIP's caption (the tick box may have
    /// changed since), so a missing caption is explained only when one was asked for.
    pub caption_asked: bool,
}

#[derive(Default)]
pub struct LibraryView {
    pub query: String,
    /// Words, meaning, or both (the default).
    pub mode: crate::worker::SearchMode,
    /// What the last search did or could not do, under the search box.
    pub note: Option<String>,
    pub books: Vec<(BookCard, Option<TextureHandle>)>,
    pub confirm_delete: Option<i64>,
    pub loaded: bool,
}

#[derive(Default)]
pub struct ModelsView {
    pub rows: Vec<ModelRow>,
    /// Why the user was sent here, when a job found a model missing, and which model.
    pub message: Option<String>,
    pub message_kind: Option<ModelKind>,
    pub downloading: Option<(ModelKind, String, u64, u64)>,
    /// The engine settings last applied, to say what an Apply changed.
    pub applied: EngineSettings,
}
