//! `storybook-studio caption IMAGE`: what BLIP says is happening in a picture; and the caption
//! that `prompt` and `poem` start from when a BLIP model is on disk.

use std::path::PathBuf;

use anyhow::Context;
use clap::builder::TypedValueParser;
use image::RgbImage;

use super::progress::TerminalDownload;
use super::GlobalArgs;
use crate::ml::image_io::load_rgb;
use crate::ml::weights::ModelKind;
use crate::ml::words::caption::{CaptionOptions, Captioner, MAX_BEAMS, MAX_TOKENS};

#[derive(Debug, clap::Args)]
pub struct CaptionArgs {
    pub image: PathBuf,
    /// BLIP folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long, value_name = "DIR")]
    pub blip: Option<PathBuf>,
    /// Words the caption must start with, such as "a painting of".
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
    /// Most new tokens (wordpieces) after the prompt.
    #[arg(long, default_value_t = CaptionOptions::default().max_tokens,
          value_parser = clap::value_parser!(u16).range(1..=MAX_TOKENS as i64).map(usize::from))]
    pub max_tokens: usize,
    /// Beam search over N hypotheses; 1 decodes greedily.
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=MAX_BEAMS as i64).map(usize::from))]
    pub beams: usize,
}

/// Where prompt and poem look for BLIP, and whether they may.
#[derive(Debug, Clone, clap::Args)]
pub struct CaptionChoice {
    /// BLIP folder for the caption (default: found like every model, never downloaded here).
    #[arg(long, value_name = "DIR", conflicts_with = "no_caption")]
    pub blip: Option<PathBuf>,
    /// Leave BLIP's caption out, even when a BLIP model is on disk.
    #[arg(long)]
    pub no_caption: bool,
}

fn load(global: &GlobalArgs, files: &crate::ml::weights::ModelFiles) -> anyhow::Result<Captioner> {
    let device = crate::ml::device::open(&global.device)?;
    Captioner::from_files(files, &device)
        .with_context(|| format!("could not load BLIP from {}", files.location.display()))
}

pub fn run(global: &GlobalArgs, args: CaptionArgs) -> anyhow::Result<()> {
    let image = load_rgb(&args.image)?;
    let files = global.locator().locate(
        ModelKind::Blip,
        args.blip.as_deref(),
        &mut TerminalDownload::new(global.json),
    )?;
    let captioner = load(global, &files)?;
    let opts = CaptionOptions {
        prompt: args.prompt,
        max_tokens: args.max_tokens,
        beams: args.beams,
    };
    let caption = captioner.caption(&image, &opts)?;
    if global.json {
        return super::print_json(&caption);
    }
    println!("{}", caption.caption);
    Ok(())
}

/// BLIP for the captions a prompt, poem or evaluation starts from: `None` when the user turned
/// captions off, or when no usable BLIP is on disk (then said once, on stderr, with the reason).
/// A folder given with `--blip` must hold a usable BLIP.
pub fn optional_captioner(
    global: &GlobalArgs,
    choice: &CaptionChoice,
) -> anyhow::Result<Option<Captioner>> {
    if choice.no_caption {
        return Ok(None);
    }
    let device = crate::ml::device::open(&global.device)?;
    let locator = global.locator();
    let explicit = choice.blip.as_deref();
    match crate::ml::words::caption::optional_captioner(&locator, explicit, &device) {
        Ok(Ok(captioner)) => Ok(Some(captioner)),
        Ok(Err(reason)) => {
            eprintln!(
                "note: captions are off: {reason} (`storybook-studio models download blip` \
                 fetches one; --no-caption silences this)"
            );
            Ok(None)
        }
        Err(err) => Err(anyhow::Error::new(err).context(format!(
            "could not load BLIP from {}",
            explicit.map_or(String::new(), |p| p.display().to_string())
        ))),
    }
}

/// BLIP's caption of `image`, with the default options, when there is a captioner.
pub fn caption_of(
    captioner: Option<&Captioner>,
    image: &RgbImage,
) -> anyhow::Result<Option<String>> {
    match captioner {
        Some(c) => Ok(Some(c.caption(image, &CaptionOptions::default())?.caption)),
        None => Ok(None),
    }
}
