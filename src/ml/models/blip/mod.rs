//! BLIP, the captioner: the words that say what is happening in a picture.
//!
//! Paper: Li et al. 2022, "BLIP: Bootstrapping Language-Image Pre-training for Unified
//! Vision-Language Understanding and Generation". Reference implementation: Hugging Face
//! transformers `BlipForConditionalGeneration` (`modeling_blip.py`, `modeling_blip_text.py`).
//! Hub id: `Salesforce/blip-image-captioning-large` at `refs/pr/18`, the revision whose
//! `model.safetensors` candle's own BLIP example loads.
//!
//! Written here rather than taken from candle-transformers' `blip`, which we read: its decoder
//! recomputes the picture's cross-attention keys and values at every token, keeps its cache
//! inside the model (so beams cannot be reordered), and needs the tied
//! `cls.predictions.decoder.weight` that transformers no longer saves.

mod config;
mod text;
pub mod tokenize;
mod vision;

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use image::RgbImage;

use crate::ml::weights::safetensors_check::{check_keys, read_header};
use crate::ml::Result;
pub use config::{Activation, Config, TextConfig, VisionConfig};
pub use text::{DecoderState, TextDecoder};
pub use vision::{preprocess, Vision};

/// The head's output matrix and bias: tied to the word embeddings and to
/// `cls.predictions.bias`, so a file may leave them out (transformers 5 does when the config
/// ties them); the published checkpoint stores both.
const OWN_HEAD: &str = "text_decoder.cls.predictions.decoder.weight";
const OWN_HEAD_BIAS: &str = "text_decoder.cls.predictions.decoder.bias";

/// Every weight the model reads, with its shape, named as in the published file.
type Keys = BTreeMap<String, Vec<usize>>;

fn linear(keys: &mut Keys, name: String, d_in: usize, d_out: usize) {
    keys.insert(format!("{name}.weight"), vec![d_out, d_in]);
    keys.insert(format!("{name}.bias"), vec![d_out]);
}

fn norm(keys: &mut Keys, name: String, d: usize) {
    keys.insert(format!("{name}.weight"), vec![d]);
    keys.insert(format!("{name}.bias"), vec![d]);
}

/// Every weight the model reads, with its shape, named as in the published file.
pub fn expected_keys(cfg: &Config) -> Keys {
    let (v, t) = (&cfg.vision_config, &cfg.text_config);
    let mut keys = Keys::new();
    let k = &mut keys;
    let (d, inner) = (v.hidden_size, v.intermediate_size);
    let e = "vision_model.embeddings";
    k.insert(format!("{e}.class_embedding"), vec![1, 1, d]);
    k.insert(format!("{e}.position_embedding"), vec![1, v.positions(), d]);
    k.insert(
        format!("{e}.patch_embedding.weight"),
        vec![d, 3, v.patch_size, v.patch_size],
    );
    k.insert(format!("{e}.patch_embedding.bias"), vec![d]);
    for i in 0..v.num_hidden_layers {
        let l = format!("vision_model.encoder.layers.{i}");
        linear(k, format!("{l}.self_attn.qkv"), d, 3 * d);
        linear(k, format!("{l}.self_attn.projection"), d, d);
        linear(k, format!("{l}.mlp.fc1"), d, inner);
        linear(k, format!("{l}.mlp.fc2"), inner, d);
        norm(k, format!("{l}.layer_norm1"), d);
        norm(k, format!("{l}.layer_norm2"), d);
    }
    norm(k, "vision_model.post_layernorm".into(), d);

    let (h, inner, vocab) = (t.hidden_size, t.intermediate_size, t.vocab_size);
    let e = "text_decoder.bert.embeddings";
    k.insert(format!("{e}.word_embeddings.weight"), vec![vocab, h]);
    k.insert(
        format!("{e}.position_embeddings.weight"),
        vec![t.max_position_embeddings, h],
    );
    norm(k, format!("{e}.LayerNorm"), h);
    for i in 0..t.num_hidden_layers {
        let l = format!("text_decoder.bert.encoder.layer.{i}");
        for (part, kv_in) in [("attention", h), ("crossattention", t.encoder_hidden_size)] {
            linear(k, format!("{l}.{part}.self.query"), h, h);
            linear(k, format!("{l}.{part}.self.key"), kv_in, h);
            linear(k, format!("{l}.{part}.self.value"), kv_in, h);
            linear(k, format!("{l}.{part}.output.dense"), h, h);
            norm(k, format!("{l}.{part}.output.LayerNorm"), h);
        }
        linear(k, format!("{l}.intermediate.dense"), h, inner);
        linear(k, format!("{l}.output.dense"), inner, h);
        norm(k, format!("{l}.output.LayerNorm"), h);
    }
    let p = "text_decoder.cls.predictions";
    k.insert(format!("{p}.bias"), vec![vocab]);
    k.insert(OWN_HEAD.into(), vec![vocab, h]);
    k.insert(OWN_HEAD_BIAS.into(), vec![vocab]);
    linear(k, format!("{p}.transform.dense"), h, h);
    norm(k, format!("{p}.transform.LayerNorm"), h);
    keys
}

/// The position-id buffer some files hold is not a weight.
fn ignorable(name: &str) -> bool {
    name.ends_with("embeddings.position_ids")
}

/// Checks a BLIP checkpoint's keys and shapes against its config; `Ok(true)` when the head has
/// its own output matrix (an untied config), `Ok(false)` when the word embeddings serve. The
/// tied copies may be absent; an untied head's matrix may not.
pub fn check_checkpoint(path: &Path, cfg: &Config) -> Result<bool> {
    let header = read_header(path)?;
    let mut expected = expected_keys(cfg);
    let optional: &[&str] = match cfg.tied_head() {
        true => &[OWN_HEAD, OWN_HEAD_BIAS],
        false => &[OWN_HEAD_BIAS],
    };
    for key in optional {
        if !header.tensors.contains_key(*key) {
            expected.remove(*key);
        }
    }
    check_keys(path, &header, &expected, ignorable)?;
    Ok(!cfg.tied_head())
}

/// The captioner: vision tower and text decoder, both frozen.
#[derive(Debug, Clone)]
pub struct Blip {
    pub vision: Vision,
    pub decoder: TextDecoder,
    pub cfg: Config,
    device: Device,
}

impl Blip {
    pub fn load(vb: VarBuilder, cfg: &Config, own_head: bool) -> candle_core::Result<Self> {
        Ok(Self {
            vision: Vision::load(vb.pp("vision_model"), &cfg.vision_config)?,
            decoder: TextDecoder::load(vb.pp("text_decoder"), &cfg.text_config, own_head)?,
            cfg: cfg.clone(),
            device: vb.device().clone(),
        })
    }

    /// Checks the file against `cfg`, then maps it.
    pub fn from_safetensors(path: &Path, cfg: &Config, device: &Device) -> Result<Self> {
        let own_head = check_checkpoint(path, cfg)?;
        // SAFETY: the file is memory-mapped read-only and is not modified while loaded.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, device)? };
        Ok(Self::load(vb, cfg, own_head)?)
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// `[1, 3, size, size]` pixel values for `img`, as `BlipImageProcessor` makes them.
    pub fn pixels(&self, img: &RgbImage) -> Result<Tensor> {
        preprocess(img, self.cfg.vision_config.image_size, &self.device)
    }

    /// The vision tower's last hidden state `[b, positions, width]` for pixel values.
    pub fn encode_image(&self, pixels: &Tensor) -> Result<Tensor> {
        self.vision.forward(pixels)
    }
}
