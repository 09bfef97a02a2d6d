//! Image to words: CLIP ranks curated lexicons against a picture, then the terms become a prompt
//! (clip-interrogator style) or the clues for a GPT-2 poem (Image2Poem / img2poem style). BLIP's
//! caption, when a BLIP model is found, leads the prompt and joins the poem's clues.

pub mod beam;
pub mod caption;
pub mod fingerprint;
pub mod interrogate;
pub mod label_cache;
pub mod lexicon;
pub mod pairs;
pub mod poem;
pub mod rank;
pub mod zh_keywords;
pub mod zh_poem;

use candle_core::Device;

use crate::ml::models::clip::tokenize::ClipTokenizer;
use crate::ml::models::clip::Clip;
use crate::ml::weights::ModelFiles;
use crate::ml::Result;
use label_cache::{CacheReport, LabelCache, LabelEmbeddings};
use lexicon::Lexicon;

/// Embedded lexicons for one CLIP model.
#[derive(Debug, Clone)]
pub struct Labels {
    pub sets: Vec<LabelEmbeddings>,
}

impl Labels {
    pub fn get(&self, lexicon: &str) -> Option<&LabelEmbeddings> {
        self.sets.iter().find(|s| s.lexicon == lexicon)
    }

    /// Embeds every lexicon, through `cache`.
    pub fn load(
        cache: &LabelCache,
        model_id: &str,
        lexicons: &[Lexicon],
        clip: &Clip,
        tokenizer: &ClipTokenizer,
    ) -> Result<(Self, Vec<CacheReport>)> {
        let mut sets = Vec::new();
        let mut reports = Vec::new();
        for lexicon in lexicons {
            let (set, report) = cache.load(model_id, lexicon, clip, tokenizer)?;
            sets.push(set);
            reports.push(report);
        }
        Ok((Self { sets }, reports))
    }
}

/// CLIP loaded with its lexicon embeddings, ready to turn images into words.
pub struct ImageWords {
    pub clip: Clip,
    pub tokenizer: ClipTokenizer,
    pub labels: Labels,
    pub cache_reports: Vec<CacheReport>,
}

impl ImageWords {
    /// Loads CLIP from `files` and its label embeddings through `cache`, keyed by the weights'
    /// content fingerprint.
    pub fn load(
        files: &ModelFiles,
        device: &Device,
        lexicons: &[Lexicon],
        cache: &LabelCache,
    ) -> Result<Self> {
        let (clip, tokenizer) = crate::ml::models::load::clip(files, device)?;
        let model_id = fingerprint::file_fingerprint(files.require("model.safetensors")?)?;
        let (labels, cache_reports) = Labels::load(cache, &model_id, lexicons, &clip, &tokenizer)?;
        Ok(Self {
            clip,
            tokenizer,
            labels,
            cache_reports,
        })
    }
}
