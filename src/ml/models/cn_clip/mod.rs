//! Chinese CLIP: a Chinese BERT text tower beside CLIP's ViT, trained on Chinese image-text
//! pairs. It ranks classical-imagery keywords against a picture for Chinese poems.
//!
//! Paper: Yang et al. 2022, "Chinese CLIP: Contrastive Vision-Language Pretraining in Chinese".
//! Reference implementation: transformers `ChineseCLIPModel` (`modeling_chinese_clip.py`). Hub
//! id: `OFA-Sys/chinese-clip-vit-base-patch16`.
//!
//! The text tower is candle-transformers' `chinese_clip` text model, which pools the `[CLS]`
//! position exactly as transformers does; the vision tower is our CLIP's ([`VisionTower`]),
//! whose fused kernels candle's copy lacks. The text embedding is
//! `text_projection(hidden[:, 0])`: no pooler layer.

mod config;
pub mod tokenize;

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::chinese_clip::text_model::ChineseClipTextTransformer;

use crate::ml::kernels::frozen_linear::FrozenLinear;
use crate::ml::models::clip::vision::{self, VisionTower};
use crate::ml::models::minilm::{bert_keys, BertShape};
use crate::ml::weights::safetensors_check::check_keys;
use crate::ml::weights::tensor_file;
use crate::ml::Result;
pub use config::{Config, TextConfig};

#[derive(Debug, Clone)]
pub struct ChineseClip {
    text: ChineseClipTextTransformer,
    text_projection: FrozenLinear,
    vision: VisionTower,
    pub logit_scale: f32,
    cfg: Config,
    device: Device,
}

/// Every weight the model reads, with its shape, as `save_pretrained` names them.
pub fn expected_keys(cfg: &Config) -> BTreeMap<String, Vec<usize>> {
    let t = &cfg.text;
    let mut keys = bert_keys(
        "text_model.",
        BertShape {
            vocab: t.vocab_size,
            positions: t.max_position_embeddings,
            token_types: t.type_vocab_size,
            hidden: t.hidden_size,
            inner: t.intermediate_size,
            layers: t.num_hidden_layers,
        },
    );
    keys.insert("logit_scale".into(), vec![]);
    keys.insert(
        "text_projection.weight".into(),
        vec![cfg.projection_dim, t.hidden_size],
    );
    vision::expected_keys(&mut keys, &cfg.vision, cfg.projection_dim);
    keys
}

/// Checks a checkpoint's keys and shapes (safetensors or `pytorch_model.bin`) against `cfg`.
pub fn check_checkpoint(path: &Path, cfg: &Config) -> Result<()> {
    let header = tensor_file::header(path)?;
    // Buffers, and a text pooler that transformers' ChineseCLIPModel builds but never uses.
    let ignorable = |name: &str| {
        name.ends_with("position_ids")
            || name.ends_with("token_type_ids")
            || name.starts_with("text_model.pooler.")
    };
    check_keys(path, &header, &expected_keys(cfg), ignorable)
}

impl ChineseClip {
    pub fn load(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let text = ChineseClipTextTransformer::new(vb.pp("text_model"), &cfg.candle_text())?;
        let (t, p) = (cfg.text.hidden_size, cfg.projection_dim);
        Ok(Self {
            text,
            text_projection: FrozenLinear::new(vb.get((p, t), "text_projection.weight")?, None)?,
            vision: VisionTower::load(&vb, &cfg.vision, p)?,
            logit_scale: vb.get((), "logit_scale")?.to_scalar::<f32>()?,
            cfg: cfg.clone(),
            device: vb.device().clone(),
        })
    }

    /// Loads `model.safetensors` or `pytorch_model.bin` after checking its keys and shapes.
    pub fn from_file(path: &Path, cfg: &Config, device: &Device) -> Result<Self> {
        check_checkpoint(path, cfg)?;
        let vb = tensor_file::var_builder(path, device)?;
        Ok(Self::load(vb, cfg)?)
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Unnormalised text embeddings `[n, projection_dim]` from ids and their attention mask
    /// (both `[n, seq]`, as [`tokenize::CnClipTokenizer::batch`] makes them).
    pub fn text_embeds(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let cls = self.text.forward(input_ids, None, Some(attention_mask))?;
        Ok(self.text_projection.forward(&cls.contiguous()?)?)
    }

    /// Vision encoder output before `post_layernorm`, `[n, positions, hidden]`.
    pub fn vision_hidden(&self, pixel_values: &Tensor) -> Result<Tensor> {
        self.vision.hidden(pixel_values)
    }

    /// Unnormalised image embeddings `[n, projection_dim]` from normalised pixel values
    /// (see [`preprocess`]).
    pub fn image_embeds(&self, pixel_values: &Tensor) -> Result<Tensor> {
        self.vision.embeds(pixel_values)
    }
}

/// `[1, 3, size, size]` pixel values: bicubic straight to the square, no crop, CLIP's mean/std.
pub fn preprocess(img: &image::RgbImage, size: usize, device: &Device) -> Result<Tensor> {
    crate::ml::models::clip::image::preprocess_straight(img, size, device)
}
