//! A caption for a picture with BLIP, as transformers' `BlipForConditionalGeneration.generate`
//! makes it: the decoder starts from `[DEC]` and the optional prompt's wordpieces, reads the
//! picture through cross-attention, and stops at `[SEP]`. The caption is the prompt and the
//! new tokens decoded together, special tokens left out.

use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Tensor};
use image::RgbImage;

use super::beam::{decode, Search, Stepper};
use crate::ml::models::blip::tokenize::BlipTokenizer;
use crate::ml::models::blip::{Blip, DecoderState};
use crate::ml::weights::{Locator, ModelFiles, ModelKind};
use crate::ml::{Error, Result};

/// Longest caption a user may ask for, well inside BLIP's 512 positions.
pub const MAX_TOKENS: usize = 128;
/// Most beams a user may ask for: each is a row of every decoder step.
pub const MAX_BEAMS: usize = 16;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CaptionOptions {
    /// Words the caption must start with ("a painting of").
    pub prompt: Option<String>,
    pub max_tokens: usize,
    /// 1 decodes greedily (the reference's default).
    pub beams: usize,
}

impl Default for CaptionOptions {
    /// clip-interrogator's caption length, greedy.
    fn default() -> Self {
        Self {
            prompt: None,
            max_tokens: 32,
            beams: 1,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Caption {
    pub caption: String,
    /// The new tokens, `[SEP]` included when it was reached.
    pub generated_token_ids: Vec<u32>,
    pub seconds: f64,
}

/// BLIP for the captions that prompts and poems start from, where BLIP is optional. A folder
/// given explicitly must hold a usable BLIP (`Err`); otherwise one found on disk is loaded
/// (`Ok(Ok)`), and none, or one that cannot be used, turns captions off with the reason
/// (`Ok(Err)`). Nothing is downloaded: a caption is not worth 1.9 GB unasked.
pub fn optional_captioner(
    locator: &Locator,
    explicit: Option<&Path>,
    device: &Device,
) -> Result<std::result::Result<Captioner, String>> {
    let files = match locator.find_local(ModelKind::Blip, explicit) {
        Ok(files) => files,
        Err(err) if explicit.is_some() => return Err(err.into()),
        Err(_) => return Ok(Err("no BLIP model was found".into())),
    };
    match Captioner::from_files(&files, device) {
        Ok(captioner) => Ok(Ok(captioner)),
        Err(err) if explicit.is_some() => Err(err),
        Err(err) => Ok(Err(format!(
            "the BLIP model in {} cannot be used: {err}",
            files.location.display()
        ))),
    }
}

/// BLIP with its tokenizer.
pub struct Captioner {
    pub blip: Blip,
    pub tokenizer: BlipTokenizer,
}

impl Captioner {
    pub fn new(blip: Blip, tokenizer: BlipTokenizer) -> Self {
        Self { blip, tokenizer }
    }

    /// Loads the located BLIP files.
    pub fn from_files(files: &ModelFiles, device: &Device) -> Result<Self> {
        let (blip, tokenizer) = crate::ml::models::load::blip(files, device)?;
        Ok(Self::new(blip, tokenizer))
    }

    /// `[DEC]` and the prompt's wordpieces, without `[CLS]` or `[SEP]`.
    pub fn start_ids(&self, prompt: Option<&str>) -> Result<Vec<u32>> {
        let mut ids = vec![self.blip.cfg.text_config.bos_token_id];
        if let Some(p) = prompt.map(str::trim).filter(|p| !p.is_empty()) {
            ids.extend(self.tokenizer.wordpieces(p)?);
        }
        Ok(ids)
    }

    /// The text of `ids`, special tokens left out.
    pub fn text(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer.text(ids)
    }

    fn check(&self, opts: &CaptionOptions) -> Result<()> {
        if opts.max_tokens == 0 || opts.max_tokens > MAX_TOKENS {
            return Err(Error::Input(format!(
                "a caption has between 1 and {MAX_TOKENS} new tokens, not {}",
                opts.max_tokens
            )));
        }
        if opts.beams == 0 || opts.beams > MAX_BEAMS {
            return Err(Error::Input(format!(
                "use between 1 and {MAX_BEAMS} beams, not {}",
                opts.beams
            )));
        }
        Ok(())
    }

    /// Captions a picture.
    pub fn caption(&self, img: &RgbImage, opts: &CaptionOptions) -> Result<Caption> {
        self.check(opts)?;
        let started = Instant::now();
        let image = self.blip.encode_image(&self.blip.pixels(img)?)?;
        let mut caption = self.decode_checked(&image, opts)?;
        caption.seconds = started.elapsed().as_secs_f64();
        Ok(caption)
    }

    /// Captions from the vision tower's last hidden state `[1, positions, width]`.
    pub fn caption_states(&self, image: &Tensor, opts: &CaptionOptions) -> Result<Caption> {
        self.check(opts)?;
        self.decode_checked(image, opts)
    }

    fn decode_checked(&self, image: &Tensor, opts: &CaptionOptions) -> Result<Caption> {
        let started = Instant::now();
        let start = self.start_ids(opts.prompt.as_deref())?;
        let room = self.blip.cfg.text_config.max_position_embeddings;
        if start.len() + opts.max_tokens > room {
            return Err(Error::Input(format!(
                "the caption prompt is {} wordpieces long; with {} new tokens that is more than \
                 the {room} BLIP can read",
                start.len() - 1,
                opts.max_tokens
            )));
        }
        let search = Search {
            beams: opts.beams,
            max_new_tokens: opts.max_tokens,
            end: self.blip.cfg.text_config.sep_token_id,
        };
        let new = generate_ids(&self.blip, image, &start, &search)?;
        let all: Vec<u32> = start[1..].iter().chain(&new).copied().collect();
        Ok(Caption {
            caption: self.text(&all)?.trim().to_string(),
            generated_token_ids: new,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The decoder's logits after reading `start` (`[DEC]` and a prompt), for the oracle tests.
    pub fn first_logits(&self, image: &Tensor, start: &[u32]) -> Result<Vec<f32>> {
        Ok(BlipStepper::start(&self.blip, image, start)?.1)
    }
}

/// The new token ids after `start` (`[DEC]` and a prompt's wordpieces) over `image`, the vision
/// tower's last hidden state.
pub fn generate_ids(
    blip: &Blip,
    image: &Tensor,
    start: &[u32],
    search: &Search,
) -> Result<Vec<u32>> {
    let (mut stepper, first) = BlipStepper::start(blip, image, start)?;
    decode(first, search, &mut stepper)
}

/// BLIP's decoder as a [`Stepper`]: one row per hypothesis, one picture for all.
struct BlipStepper<'a> {
    blip: &'a Blip,
    state: DecoderState,
}

impl<'a> BlipStepper<'a> {
    fn start(blip: &'a Blip, image: &Tensor, start: &[u32]) -> Result<(Self, Vec<f32>)> {
        let mut state = blip.decoder.start(image)?;
        let ids = Tensor::new(start, blip.device())?.unsqueeze(0)?;
        let logits = blip.decoder.step(&mut state, &ids)?;
        let first = logits.squeeze(0)?.to_vec1::<f32>()?;
        Ok((Self { blip, state }, first))
    }
}

impl Stepper for BlipStepper<'_> {
    fn next(&mut self, from: &[u32], tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        let rows = self.state.rows();
        let identity = from.len() == rows && from.iter().enumerate().all(|(i, &r)| r as usize == i);
        if !identity {
            self.state.select(from)?;
        }
        let ids = Tensor::new(tokens, self.blip.device())?.unsqueeze(1)?;
        let logits = self.blip.decoder.step(&mut self.state, &ids)?;
        Ok(logits.to_vec2::<f32>()?)
    }
}
