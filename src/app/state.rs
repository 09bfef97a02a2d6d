//! What the studio remembers between runs (through eframe storage), kept apart from runtime-only
//! state such as textures, progress and the worker.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::worker::{EngineSettings, IllustrateOptions, PromptMode, SamplingOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Tab {
    #[default]
    Write,
    Illustrate,
    Read,
    Words,
    Library,
    Models,
    Settings,
}

impl Tab {
    pub const ALL: [Tab; 7] = [
        Tab::Write,
        Tab::Illustrate,
        Tab::Read,
        Tab::Words,
        Tab::Library,
        Tab::Models,
        Tab::Settings,
    ];

    /// The name `gui --tab` takes.
    pub fn from_name(name: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Tab::Write => "write",
            Tab::Illustrate => "illustrate",
            Tab::Read => "read",
            Tab::Words => "words",
            Tab::Library => "library",
            Tab::Models => "models",
            Tab::Settings => "settings",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Tab::Write => "Write",
            Tab::Illustrate => "Illustrate",
            Tab::Read => "Read",
            Tab::Words => "Image to words",
            Tab::Library => "Library",
            Tab::Models => "Models",
            Tab::Settings => "Settings",
        }
    }
}

/// A page's text as eframe storage keeps it. Pictures are never kept here: the book in progress,
/// pictures and all, is kept in the draft file beside the library (see `keeping`); this text is
/// what comes back if that file cannot be read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SavedPage {
    pub sentence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub tab: Tab,
    pub prompt: String,
    pub sampling: SamplingOptions,
    /// Banned words as typed, comma separated.
    pub banned: String,
    pub illustration: IllustrateOptions,
    pub style_preset: String,
    pub engine: EngineSettings,
    pub prompt_mode: PromptMode,
    pub prompt_top: usize,
    pub poem_lines: usize,
    pub poem_candidates: usize,
    /// Start prompts and poems from BLIP's caption when BLIP is on disk.
    pub use_caption: bool,
    /// Image to words in classical Chinese (Chinese CLIP, a Chinese poem GPT-2).
    pub words_chinese: bool,
    /// Characters per line of a Chinese poem: 5 or 7.
    pub poem_form: usize,
    /// The book being written, so a restart does not lose its text.
    pub book_id: Option<i64>,
    /// The library's change stamp of `book_id` that this version is based on.
    pub book_stamp: Option<i64>,
    pub story: String,
    pub pages: Vec<SavedPage>,
    /// The book in progress had edits not saved to the library.
    pub unsaved: bool,
    /// Folders files were recently chosen in, newest first (the in-app file browser's list).
    pub recent_folders: Vec<PathBuf>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            tab: Tab::Write,
            prompt: String::new(),
            sampling: SamplingOptions::default(),
            banned: String::new(),
            illustration: crate::app::presets::draft(),
            style_preset: String::new(),
            engine: EngineSettings::default(),
            prompt_mode: PromptMode::Fast,
            prompt_top: 5,
            poem_lines: 4,
            poem_candidates: 3,
            use_caption: true,
            words_chinese: false,
            poem_form: 5,
            book_id: None,
            book_stamp: None,
            story: String::new(),
            pages: Vec::new(),
            unsaved: false,
            recent_folders: Vec::new(),
        }
    }
}
