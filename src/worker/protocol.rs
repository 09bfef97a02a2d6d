//! The messages between the studio window and the worker threads. Everything here is plain data
//! (no tensors, no egui types), so the UI can depend on it without depending on candle.

pub use crate::store::SearchMode;
use std::path::PathBuf;

pub use crate::ml::illustrate::{IllustrateOptions, Precision};
pub use crate::ml::sampling::SamplingOptions;
pub use crate::ml::weights::ModelKind;
pub use crate::ml::words::interrogate::{PromptMode, PromptResult};
pub use crate::ml::words::poem::{PoemOptions, PoemResult};
pub use crate::ml::words::rank::Ranked;
pub use crate::ml::words::zh_poem::{ZhPoemOptions, ZhPoemResult};

/// An RGBA8 picture ready for a texture.
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Picture({}x{})", self.width, self.height)
    }
}

/// An image the user gave us: a dropped or opened file, or bytes from a drop without a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    Path(PathBuf),
    Bytes {
        name: String,
        bytes: std::sync::Arc<[u8]>,
    },
}

impl ImageSource {
    pub fn name(&self) -> String {
        match self {
            Self::Path(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string()),
            Self::Bytes { name, .. } => name.clone(),
        }
    }
}

/// Where the engine finds its models and library; changing it drops loaded models.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct EngineSettings {
    pub models_dir: Option<PathBuf>,
    pub gpt2: Option<PathBuf>,
    pub clip: Option<PathBuf>,
    pub vqgan: Option<PathBuf>,
    pub minilm: Option<PathBuf>,
    pub blip: Option<PathBuf>,
    pub cn_clip: Option<PathBuf>,
    pub gpt2_zh: Option<PathBuf>,
    pub offline: bool,
    /// The illustrator to find or download (a name of `VQGAN_SOURCES`; empty: the default).
    pub vqgan_model: String,
    /// A hub mirror for downloads (default: `HF_ENDPOINT`, else huggingface.co).
    pub hub_mirror: Option<String>,
    /// The Hugging Face cache to search and download into (default: `HF_HUB_CACHE`, else
    /// `$HF_HOME/hub`, else `~/.cache/huggingface/hub`).
    pub hub_cache: Option<PathBuf>,
    pub device: String,
    /// How GPT-2 keeps its weights while writing: "q8" or "bf16" (CPU only), empty for f32.
    pub gpt2_weights: String,
    pub library: Option<PathBuf>,
    /// Where lexicon embeddings are cached (default: the platform cache folder).
    pub label_cache: Option<PathBuf>,
}

/// A page's illustration paused mid-way: the state that continues it exactly, the options it
/// runs with, and the sentence it draws (a checkpoint for other text is not resumed).
#[derive(Debug, Clone, PartialEq)]
pub struct PageCheckpoint {
    pub sentence: String,
    pub options: IllustrateOptions,
    pub step: usize,
    pub state: std::sync::Arc<[u8]>,
}

/// A page to save: its sentence and, when illustrated, the PNG and how it was made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DraftPage {
    pub sentence: String,
    pub png: Option<Vec<u8>>,
    pub settings: Option<IllustrateOptions>,
    pub seed: u64,
    pub iterations: usize,
    pub similarity: Option<f32>,
    /// The text the picture was drawn for; it differs from `sentence` once the text is edited.
    pub drawn_for: Option<String>,
    /// A paused illustration of this page, kept in the draft (not in the saved book).
    pub checkpoint: Option<PageCheckpoint>,
}

/// A book as the studio edits it, to be saved into (or over) a library book.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BookDraft {
    pub book_id: Option<i64>,
    /// The library's change stamp (`updated_at`) of `book_id` when this version was opened or
    /// last saved: a Save over a book changed since then by another program (the CLI's redraw,
    /// say) goes to a new book instead, so neither side's work is lost.
    pub stamp: Option<i64>,
    pub title: String,
    pub prompt: String,
    pub story: String,
    pub sampling: SamplingOptions,
    pub illustration: IllustrateOptions,
    pub pages: Vec<DraftPage>,
}

/// A book handed to the studio: opened from the library, or the book in progress kept from the
/// last run, with each page's picture decoded for a texture.
#[derive(Debug, Clone, Default)]
pub struct OpenedBook {
    pub draft: BookDraft,
    pub pictures: Vec<Option<Picture>>,
    /// It had edits not yet saved to the library.
    pub unsaved: bool,
}

/// One library entry as the grid shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct BookCard {
    pub id: i64,
    pub title: String,
    pub pages: usize,
    pub planned_pages: usize,
    pub updated_at: i64,
    pub cover: Option<Picture>,
    /// The page that matched a search by meaning or picture: "page 3: The fox …".
    pub matched: Option<String>,
}

/// A model's status for the Models panel.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    pub kind: ModelKind,
    pub name: String,
    /// Where it was found and how many bytes its files take.
    pub found: Option<(String, u64)>,
    /// Why it was not found, or what to download.
    pub note: String,
    /// The folder set for it in Settings, which wins over every other place.
    pub explicit: Option<PathBuf>,
    /// Whether a Download button would work: off when Settings says never download.
    pub downloadable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    Story,
    Illustrate {
        page: usize,
    },
    Words,
    Models,
    Library,
    /// Keeping the book in progress in the draft file.
    Draft,
}

#[derive(Debug, Clone)]
pub enum Command {
    Configure(Box<EngineSettings>),
    Generate {
        prompt: String,
        options: SamplingOptions,
    },
    Illustrate {
        page: usize,
        sentence: String,
        options: IllustrateOptions,
        /// A paused run's state to continue from (saved with the same options).
        resume: Option<std::sync::Arc<[u8]>>,
    },
    LoadImage(ImageSource),
    Prompt {
        image: ImageSource,
        mode: PromptMode,
        top: usize,
        /// Start from BLIP's caption when BLIP is on disk.
        caption: bool,
    },
    Poem {
        image: ImageSource,
        options: PoemOptions,
        caption: bool,
    },
    /// A classical Chinese poem: Chinese CLIP's keywords, a Chinese poem GPT-2.
    ZhPoem {
        image: ImageSource,
        options: ZhPoemOptions,
    },
    ScanModels,
    Download(ModelKind),
    ListBooks {
        query: String,
        mode: SearchMode,
    },
    /// Books whose pictures look like this image, closest first.
    FindSimilar(ImageSource),
    OpenBook(i64),
    SaveBook(Box<BookDraft>),
    DeleteBook(i64),
    DuplicateBook(i64),
    ExportBook {
        id: i64,
        path: PathBuf,
    },
    /// Read the book in progress kept beside the library (answered by `DraftLoaded`).
    LoadDraft,
    /// Keep the book in progress beside the library, pictures and all.
    SaveDraft {
        draft: Box<BookDraft>,
        unsaved: bool,
    },
}

impl Command {
    /// Library work runs on its own thread so browsing never waits behind an illustration.
    pub fn is_library(&self) -> bool {
        matches!(
            self,
            Self::ListBooks { .. }
                | Self::FindSimilar(_)
                | Self::OpenBook(_)
                | Self::SaveBook(_)
                | Self::DeleteBook(_)
                | Self::DuplicateBook(_)
                | Self::ExportBook { .. }
                | Self::LoadDraft
                | Self::SaveDraft { .. }
        )
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    /// What a job is doing now ("Loading GPT-2…").
    Status {
        job: Job,
        text: String,
    },
    StoryToken {
        sequence: usize,
        text: String,
    },
    StoryDone {
        candidates: Vec<String>,
        tokens_per_second: f64,
        /// How GPT-2 kept its weights while writing ("f32", "bf16", "q8").
        weights: String,
        warnings: Vec<String>,
    },
    IllustrateStep {
        page: usize,
        step: usize,
        iterations: usize,
        similarity: f32,
        loss: f32,
        seconds_per_step: f64,
        /// The run's own estimate, which knows a half-size start ends with slower steps.
        seconds_left: Option<f64>,
        preview: Option<Picture>,
    },
    PageDone {
        page: usize,
        /// The text it was drawn for, so an edited or moved page is not mistaken for it.
        sentence: String,
        png: Vec<u8>,
        picture: Picture,
        options: IllustrateOptions,
        similarity: f32,
        iterations: usize,
        /// The optimisation loop's mean seconds per step, measured as `illustrate` does.
        seconds_per_step: f64,
    },
    ImageLoaded {
        name: String,
        picture: Picture,
    },
    PromptDone(Box<PromptResult>),
    PoemDone(Box<PoemResult>),
    ZhPoemDone(Box<ZhPoemResult>),
    Models(Vec<ModelRow>),
    DownloadProgress {
        kind: ModelKind,
        file: String,
        done: u64,
        total: u64,
    },
    /// A page's state, every few seconds and when it is stopped: kept so a pause, a crash or
    /// a closed window loses at most a few seconds.
    IllustrateCheckpoint {
        page: usize,
        checkpoint: PageCheckpoint,
    },
    Books(Vec<BookCard>),
    /// What the library search is doing or could not do (`None`: nothing to say).
    SearchNote(Option<String>),
    BookOpened(Box<OpenedBook>),
    /// The book in progress from the last run (`None`: nothing kept); `Err` is a sentence.
    DraftLoaded(Result<Option<Box<OpenedBook>>, String>),
    BookSaved {
        id: i64,
        /// The saved book's change stamp, for the next Save.
        stamp: Option<i64>,
        /// Why it was saved as a new book instead of over the one opened, if it was.
        note: Option<String>,
    },
    BookDeleted {
        id: i64,
    },
    Exported {
        path: PathBuf,
        /// Words the format could not keep, as a sentence.
        warning: Option<String>,
    },
    Cancelled {
        job: Job,
    },
    Finished {
        job: Job,
    },
    /// A model could not be found; `message` says where we looked and what to download.
    ModelMissing {
        kind: ModelKind,
        message: String,
    },
    Error {
        job: Job,
        message: String,
    },
}
