//! What the studio remembers between runs (through eframe storage), kept apart from runtime-only
//! state such as textures, progress and the worker.

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

/// A page as it is persisted: its text and, once saved, where its picture lives (the library).
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
    /// The book being written, so a restart does not lose its text.
    pub book_id: Option<i64>,
    pub story: String,
    pub pages: Vec<SavedPage>,
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
            book_id: None,
            story: String::new(),
            pages: Vec::new(),
        }
    }
}
