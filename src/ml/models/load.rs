//! Turns located model files into loaded models, one function per model, so every front end
//! (CLI, studio worker, benchmarks) loads the same way.

use candle_core::Device;

use crate::ml::models::blip::tokenize::BlipTokenizer;
use crate::ml::models::blip::{self, Blip};
use crate::ml::models::clip::tokenize::ClipTokenizer;
use crate::ml::models::clip::{self, Clip};
use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::models::gpt2::{self, Gpt2};
use crate::ml::models::minilm::{self, MiniLm};
use crate::ml::models::vqgan::{self, VqModel};
use crate::ml::weights::{ModelFiles, ModelKind};
use crate::ml::Result;

pub fn gpt2(files: &ModelFiles, device: &Device) -> Result<(Gpt2, TextTokenizer)> {
    let cfg = gpt2::Config::from_file(files.require("config.json")?)?;
    let model = Gpt2::from_safetensors(files.require("model.safetensors")?, &cfg, device)?;
    let tokenizer = TextTokenizer::from_file(files.require("tokenizer.json")?)?;
    Ok((model, tokenizer))
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
    let weights = match files.get("model.safetensors") {
        Some(p) => p,
        None => files.require("model.ckpt")?,
    };
    VqModel::from_file(weights, &cfg, device)
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

/// Checks a model's files the way its loader does, reading only configs, headers and
/// tokenizers (no tensor data): `Err` is the sentence its loader would give.
pub fn check(files: &ModelFiles) -> Result<()> {
    match files.kind {
        ModelKind::Gpt2 => {
            let cfg = gpt2::Config::from_file(files.require("config.json")?)?;
            gpt2::check_checkpoint(files.require("model.safetensors")?, &cfg)?;
            TextTokenizer::from_file(files.require("tokenizer.json")?)?;
        }
        ModelKind::Clip => {
            let cfg = clip::Config::from_file(files.require("config.json")?)?;
            clip::check_checkpoint(files.require("model.safetensors")?, &cfg)?;
            let context = cfg.text_config.max_position_embeddings;
            ClipTokenizer::from_file(files.require("tokenizer.json")?, context)?;
        }
        ModelKind::Vqgan => {
            let cfg = vqgan::Config::from_yaml_file(files.require("model.yaml")?)?;
            let weights = match files.get("model.safetensors") {
                Some(p) => p,
                None => files.require("model.ckpt")?,
            };
            vqgan::check_checkpoint(weights, &cfg)?;
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
