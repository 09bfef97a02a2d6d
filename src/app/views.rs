//! Runtime-only state of each panel: what the worker has told us, not what is remembered.

use egui::TextureHandle;

use crate::worker::{BookCard, ModelKind, ModelRow, PoemResult, PromptResult};

#[derive(Default)]
pub struct StoryView {
    /// Candidates as they stream in, then as finished.
    pub candidates: Vec<String>,
    pub generating: bool,
    pub status: Option<String>,
    pub tokens_per_second: Option<f64>,
    pub read_page: usize,
}

#[derive(Default)]
pub struct IllustrateView {
    pub selected: usize,
    pub running: Option<usize>,
    pub step: usize,
    pub iterations: usize,
    pub eta_seconds: Option<f64>,
    /// (step, similarity) of the running page.
    pub curve: Vec<[f64; 2]>,
    pub preview: Option<TextureHandle>,
    /// How many previews have arrived, and a hash of the last one's pixels.
    pub preview_count: u64,
    pub preview_hash: u64,
    pub status: Option<String>,
}

#[derive(Default)]
pub struct WordsView {
    pub image_name: Option<String>,
    pub image: Option<crate::worker::ImageSource>,
    pub texture: Option<TextureHandle>,
    pub prompt: Option<PromptResult>,
    pub poem: Option<PoemResult>,
    pub status: Option<String>,
}

#[derive(Default)]
pub struct LibraryView {
    pub query: String,
    pub books: Vec<(BookCard, Option<TextureHandle>)>,
    pub confirm_delete: Option<i64>,
    pub loaded: bool,
}

#[derive(Default)]
pub struct ModelsView {
    pub rows: Vec<ModelRow>,
    /// Why the user was sent here, when a job found a model missing.
    pub message: Option<String>,
    pub downloading: Option<(ModelKind, String, u64, u64)>,
}
