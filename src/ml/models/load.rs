//! Turns located model files into loaded models, one function per model, so every front end
//! (CLI, studio worker, benchmarks) loads the same way.

use candle_core::Device;

use crate::ml::models::blip::tokenize::BlipTokenizer;
use crate::ml::models::blip::{self, Blip};
use crate::ml::models::clip::tokenize::ClipTokenizer;
use crate::ml::models::clip::{self, Clip};
use crate::ml::models::cn_clip::tokenize::CnClipTokenizer;
use crate::ml::models::cn_clip::{self, ChineseClip};
use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::models::gpt2::{self, Gpt2};
use crate::ml::models::minilm::{self, MiniLm};
use crate::ml::models::vqgan::{self, VqModel};
use crate::ml::weights::{ModelFiles, ModelKind};
use crate::ml::Result;

pub fn gpt2(files: &ModelFiles, device: &Device) -> Result<(Gpt2, TextTokenizer)> {
    let cfg = gpt2::Config::from_file(files.require("config.json")?)?;
    let model = Gpt2::from_file(files.weights()?, &cfg, device)?;
    Ok((model, gpt2_tokenizer(files)?))
}

fn gpt2_tokenizer(files: &ModelFiles) -> Result<TextTokenizer> {
    TextTokenizer::from_files(files.get("tokenizer.json"), files.get("vocab.txt"))
}

/// A Chinese poem GPT-2: a GPT-2 whose tokenizer is WordPiece over Chinese characters. An
/// English GPT-2 given in its place is refused with a sentence.
pub fn gpt2_chinese(files: &ModelFiles, device: &Device) -> Result<(Gpt2, TextTokenizer)> {
    let cfg = gpt2::Config::from_file(files.require("config.json")?)?;
    let tokenizer = gpt2_tokenizer(files)?;
    check_chinese_tokenizer(files, &tokenizer, &cfg)?;
    let model = Gpt2::from_file(files.weights()?, &cfg, device)?;
    Ok((model, tokenizer))
}

fn check_chinese_tokenizer(
    files: &ModelFiles,
    tokenizer: &TextTokenizer,
    cfg: &gpt2::Config,
) -> Result<()> {
    let at = files.location.display();
    if !tokenizer.is_wordpiece() || tokenizer.token_id("月").is_none() {
        let what = match tokenizer.is_wordpiece() {
            true => "a WordPiece tokenizer without Chinese characters",
            false => "an English (byte-level BPE) tokenizer",
        };
        return Err(crate::ml::Error::Input(format!(
            "the GPT-2 in {at} has {what}; Chinese poems need a Chinese poem GPT-2 (such as \
             uer/gpt2-chinese-poem) whose tokenizer is WordPiece over Chinese characters"
        )));
    }
    if tokenizer.vocab_size() > cfg.vocab_size {
        return Err(crate::ml::Error::Input(format!(
            "the tokenizer in {at} has {} tokens but the model only {}; they do not belong together",
            tokenizer.vocab_size(),
            cfg.vocab_size
        )));
    }
    Ok(())
}

pub fn clip(files: &ModelFiles, device: &Device) -> Result<(Clip, ClipTokenizer)> {
    let cfg = clip::Config::from_file(files.require("config.json")?)?;
    let model = Clip::from_safetensors(files.require("model.safetensors")?, &cfg, device)?;
    let context = cfg.text_config.max_position_embeddings;
    let tokenizer = ClipTokenizer::from_file(files.require("tokenizer.json")?, context)?;
    Ok((model, tokenizer))
}

/// Prefers the safetensors copy, which loads faster and without a pickle.
pub fn vqgan(files: &ModelFiles, device: &Device) -> Result<VqModel> {
    let cfg = vqgan::Config::from_yaml_file(files.require("model.yaml")?)?;
    VqModel::from_file(files.weights()?, &cfg, device)
}

pub fn minilm(files: &ModelFiles, device: &Device) -> Result<MiniLm> {
    let cfg = minilm::Config::from_file(files.require("config.json")?)?;
    MiniLm::from_files(
        files.require("model.safetensors")?,
        &cfg,
        files.require("tokenizer.json")?,
        device,
    )
}

pub fn blip(files: &ModelFiles, device: &Device) -> Result<(Blip, BlipTokenizer)> {
    let cfg = blip::Config::from_file(files.require("config.json")?)?;
    let model = Blip::from_safetensors(files.require("model.safetensors")?, &cfg, device)?;
    let tokenizer = BlipTokenizer::from_file(files.require("tokenizer.json")?)?;
    Ok((model, tokenizer))
}

pub fn cn_clip(files: &ModelFiles, device: &Device) -> Result<(ChineseClip, CnClipTokenizer)> {
    let cfg = cn_clip::Config::from_file(files.require("config.json")?)?;
    let model = ChineseClip::from_file(files.weights()?, &cfg, device)?;
    Ok((model, cn_clip_tokenizer(files)?))
}

fn cn_clip_tokenizer(files: &ModelFiles) -> Result<CnClipTokenizer> {
    CnClipTokenizer::from_files(files.get("tokenizer.json"), files.get("vocab.txt"))
}

/// Checks a model's files the way its loader does, reading only configs, headers and
/// tokenizers (no tensor data): `Err` is the sentence its loader would give.
pub fn check(files: &ModelFiles) -> Result<()> {
    match files.kind {
        ModelKind::Gpt2 | ModelKind::Gpt2Chinese => {
            let cfg = gpt2::Config::from_file(files.require("config.json")?)?;
            gpt2::check_checkpoint(files.weights()?, &cfg)?;
            let tokenizer = gpt2_tokenizer(files)?;
            if files.kind == ModelKind::Gpt2Chinese {
                check_chinese_tokenizer(files, &tokenizer, &cfg)?;
            }
        }
        ModelKind::ChineseClip => {
            let cfg = cn_clip::Config::from_file(files.require("config.json")?)?;
            cn_clip::check_checkpoint(files.weights()?, &cfg)?;
            cn_clip_tokenizer(files)?;
        }
        ModelKind::Clip => {
            let cfg = clip::Config::from_file(files.require("config.json")?)?;
            clip::check_checkpoint(files.require("model.safetensors")?, &cfg)?;
            let context = cfg.text_config.max_position_embeddings;
            ClipTokenizer::from_file(files.require("tokenizer.json")?, context)?;
        }
        ModelKind::Vqgan => {
            let cfg = vqgan::Config::from_yaml_file(files.require("model.yaml")?)?;
            vqgan::check_checkpoint(files.weights()?, &cfg)?;
        }
        ModelKind::Blip => {
            let cfg = blip::Config::from_file(files.require("config.json")?)?;
            blip::check_checkpoint(files.require("model.safetensors")?, &cfg)?;
            BlipTokenizer::from_file(files.require("tokenizer.json")?)?;
        }
        ModelKind::Minilm => {
            let cfg = minilm::Config::from_file(files.require("config.json")?)?;
            minilm::check_checkpoint(files.require("model.safetensors")?, &cfg)?;
            crate::ml::weights::config_file::read_tokenizer(files.require("tokenizer.json")?)?;
        }
    }
    Ok(())
}
