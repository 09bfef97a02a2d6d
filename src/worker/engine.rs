//! The engine thread's jobs: it owns the device and loads each model the first time a job needs
//! it, telling the UI what it is loading. A missing model becomes a `ModelMissing` event that
//! sends the user to the Models panel.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::Context;
use candle_core::Device;

use super::job_thread::{Jobs, Outbox};
use super::protocol::*;
use crate::ml::models::clip::tokenize::ClipTokenizer;
use crate::ml::models::clip::Clip;
use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::models::gpt2::Gpt2;
use crate::ml::models::vqgan::VqModel;
use crate::ml::weights::{LocateError, Locator, ModelFiles};
use crate::ml::words::label_cache::LabelCache;
use crate::ml::words::lexicon::Lexicon;
use crate::ml::words::Labels;

pub struct Engine {
    settings: EngineSettings,
    device: Option<Device>,
    pub(super) gpt2: Option<(Gpt2, TextTokenizer)>,
    /// Why GPT-2 writes with other weights than the settings ask, said with each story.
    gpt2_note: Option<String>,
    pub(super) clip: Option<(Clip, ClipTokenizer, String)>,
    pub(super) labels: Option<Labels>,
    pub(super) blip: Option<Box<crate::ml::words::caption::Captioner>>,
    /// Chinese CLIP with the imagery keywords, and the Chinese poem GPT-2.
    pub(super) zh_words: Option<Box<crate::ml::words::zh_keywords::ChineseWords>>,
    pub(super) gpt2_zh: Option<(Gpt2, TextTokenizer)>,
    pub(super) vqgan: Option<VqModel>,
    /// CLIP embeddings of prompts already illustrated, so redoing a page skips the text encoder.
    pub(super) prompt_targets: HashMap<String, Vec<(candle_core::Tensor, f32)>>,
}

/// Signals "a model is missing" through `?` after the event has been sent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Missing(String);

impl Engine {
    pub fn new(settings: EngineSettings) -> Self {
        Self {
            settings,
            device: None,
            gpt2: None,
            gpt2_note: None,
            clip: None,
            labels: None,
            blip: None,
            zh_words: None,
            gpt2_zh: None,
            vqgan: None,
            prompt_targets: HashMap::new(),
        }
    }

    pub(super) fn locator(&self) -> Locator {
        let mut locator =
            Locator::from_env(self.settings.models_dir.clone(), self.settings.offline);
        locator.endpoint = self.settings.hub_mirror.clone();
        if let Some(cache) = &self.settings.hub_cache {
            locator.hf_cache = Some(cache.clone());
        }
        // Settings only offers known names; an unknown one (a hand-edited file) keeps the default.
        let name = self.settings.vqgan_model.trim();
        match name {
            "" => locator,
            _ => locator.clone().with_vqgan_model(name).unwrap_or(locator),
        }
    }

    pub(super) fn explicit(&self, kind: ModelKind) -> Option<PathBuf> {
        match kind {
            ModelKind::Gpt2 => self.settings.gpt2.clone(),
            ModelKind::Clip => self.settings.clip.clone(),
            ModelKind::Vqgan => self.settings.vqgan.clone(),
            ModelKind::Minilm => self.settings.minilm.clone(),
            ModelKind::Blip => self.settings.blip.clone(),
            ModelKind::ChineseClip => self.settings.cn_clip.clone(),
            ModelKind::Gpt2Chinese => self.settings.gpt2_zh.clone(),
        }
    }

    /// Local files only: a download is the user's choice, made in the Models panel.
    pub(super) fn find(&self, kind: ModelKind, out: &Outbox) -> anyhow::Result<ModelFiles> {
        match self
            .locator()
            .find_local(kind, self.explicit(kind).as_deref())
        {
            Ok(files) => Ok(files),
            Err(err) => {
                let message = match &err {
                    LocateError::NotFound { .. } => {
                        format!("{err}\nOpen the Models panel to download it or choose its folder.")
                    }
                    LocateError::Explicit { .. } | LocateError::Cancelled { .. } => err.to_string(),
                };
                out.send(Event::ModelMissing {
                    kind,
                    message: message.clone(),
                });
                Err(Missing(message).into())
            }
        }
    }

    pub(super) fn device(&mut self) -> anyhow::Result<Device> {
        if self.device.is_none() {
            let name = if self.settings.device.is_empty() {
                "cpu"
            } else {
                &self.settings.device
            };
            self.device = Some(crate::ml::device::open(name)?);
        }
        Ok(self.device.clone().unwrap_or(Device::Cpu))
    }

    pub(super) fn ensure_gpt2(&mut self, job: Job, out: &Outbox) -> anyhow::Result<()> {
        if self.gpt2.is_none() {
            let files = self.find(ModelKind::Gpt2, out)?;
            status(out, job, "Loading GPT-2…");
            let device = self.device()?;
            // Empty is the default (`gpt2::WRITING_WEIGHTS`), which is never a complaint; a
            // value no choice names (an edited settings file) falls back to it, and says so.
            let (asked, unknown) = match self.settings.gpt2_weights.as_str() {
                "" => (None, None),
                w => match w.parse::<crate::ml::kernels::packed_weight::WeightFormat>() {
                    Ok(f) => (Some(f), None),
                    Err(e) => (
                        None,
                        Some(format!(
                            "Story weights in Settings: {e}; writing with {}",
                            crate::ml::models::gpt2::WRITING_WEIGHTS
                        )),
                    ),
                },
            };
            let (mut model, tok) = crate::ml::models::load::gpt2(&files, &device)?;
            self.gpt2_note = unknown.or(model.pack_for_writing(asked));
            self.gpt2 = Some((model, tok));
        }
        Ok(())
    }

    /// CLIP, loaded once and kept; `bf16` asks for its image tower in bf16 (only drawing
    /// does). Every other job reads f32, so a bf16 model is loaded again for them.
    pub(super) fn ensure_clip(&mut self, job: Job, out: &Outbox, bf16: bool) -> anyhow::Result<()> {
        if !bf16
            && self
                .clip
                .as_ref()
                .is_some_and(|c| c.0.image_tower_is_bf16())
        {
            self.clip = None;
        }
        if self.clip.is_none() {
            let files = self.find(ModelKind::Clip, out)?;
            status(out, job, "Loading CLIP…");
            let device = self.device()?;
            let (clip, tok) = crate::ml::models::load::clip(&files, &device)?;
            let id = crate::ml::words::fingerprint::file_fingerprint(
                files.require("model.safetensors")?,
            )?;
            self.clip = Some((clip, tok, id));
        }
        Ok(())
    }

    pub(super) fn label_cache(&self) -> LabelCache {
        match &self.settings.label_cache {
            Some(dir) => LabelCache::at(dir),
            None => LabelCache::default_location(),
        }
    }

    pub(super) fn ensure_labels(&mut self, out: &Outbox) -> anyhow::Result<()> {
        self.ensure_clip(Job::Words, out, false)?;
        if self.labels.is_none() {
            if let Some((clip, tok, id)) = &self.clip {
                status(out, Job::Words, "Preparing the lexicons…");
                let cache = self.label_cache();
                let (labels, _) = Labels::load(&cache, id, &Lexicon::all_builtin(), clip, tok)?;
                self.labels = Some(labels);
            }
        }
        Ok(())
    }

    fn generate(
        &mut self,
        prompt: String,
        options: SamplingOptions,
        out: &Outbox,
    ) -> anyhow::Result<()> {
        self.ensure_gpt2(Job::Story, out)?;
        let Some((model, tok)) = &self.gpt2 else {
            return Ok(());
        };
        status(out, Job::Story, "Writing…");
        let generation = crate::ml::generate::generate(model, tok, &prompt, &options, |t| {
            if !t.text.is_empty() {
                out.send(Event::StoryToken {
                    sequence: t.sequence,
                    text: t.text.to_string(),
                });
            }
            if out.cancelled() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        if out.cancelled() {
            return Ok(());
        }
        out.send(Event::StoryDone {
            candidates: generation.sequences.into_iter().map(|s| s.text).collect(),
            tokens_per_second: generation.tokens_per_second,
            weights: generation.weights.to_string(),
            warnings: generation
                .warnings
                .into_iter()
                .chain(self.gpt2_note.clone())
                .collect(),
        });
        Ok(())
    }
}

pub(super) fn status(out: &Outbox, job: Job, text: &str) {
    out.send(Event::Status {
        job,
        text: text.to_string(),
    });
}

impl Jobs for Engine {
    fn run(&mut self, command: Command, out: &Outbox) -> anyhow::Result<()> {
        let result = match command {
            Command::Configure(settings) => {
                if *settings != self.settings {
                    *self = Engine::new(*settings);
                }
                Ok(())
            }
            Command::Generate { prompt, options } => self.generate(prompt, options, out),
            Command::Illustrate {
                page,
                sentence,
                options,
                resume,
            } => self.illustrate(page, sentence, options, resume, out),
            c @ (Command::LoadImage(_)
            | Command::Prompt { .. }
            | Command::Poem { .. }
            | Command::ZhPoem { .. }) => self.words(c, out),
            Command::ScanModels => {
                out.send(Event::Models(super::engine_models::scan(
                    &self.locator(),
                    |k| self.explicit(k),
                )));
                Ok(())
            }
            Command::Download(kind) => {
                match super::engine_models::download(&self.locator(), kind, out) {
                    // The job loop reports the cancel; the partial file waits for the next try.
                    Err(err) if err.is_cancelled() => return Ok(()),
                    other => other.context("the download failed")?,
                }
                // The rows after a download say what a job would use now, Settings included.
                out.send(Event::Models(super::engine_models::scan(
                    &self.locator(),
                    |k| self.explicit(k),
                )));
                Ok(())
            }
            _ => Ok(()),
        };
        match result {
            // Already reported as ModelMissing, with the way out.
            Err(e) if e.is::<Missing>() => Ok(()),
            other => other,
        }
    }
}
