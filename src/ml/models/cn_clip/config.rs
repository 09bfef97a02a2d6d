//! Chinese CLIP's configuration as transformers writes it (`ChineseCLIPConfig`): absent fields
//! take transformers' defaults, and sizes are checked before any weight is read.

use std::path::Path;

use candle_transformers::models::chinese_clip::text_model::{
    ChineseClipTextConfig, PositionEmbeddingType,
};
use candle_transformers::models::chinese_clip::Activation;
use serde::Deserialize;

use crate::ml::models::clip::VisionConfig;
use crate::ml::Result;

/// `ChineseCLIPTextConfig`: a BERT (RoBERTa-wwm-ext for the real model).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct TextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub pad_token_id: usize,
}

impl Default for TextConfig {
    fn default() -> Self {
        Self {
            vocab_size: 30522,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: "gelu".into(),
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            pad_token_id: 0,
        }
    }
}

/// `ChineseCLIPVisionConfig`: CLIP's ViT, with its defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
struct RawVision {
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    image_size: usize,
    patch_size: usize,
    hidden_act: String,
    layer_norm_eps: f64,
}

impl Default for RawVision {
    fn default() -> Self {
        Self {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            image_size: 224,
            patch_size: 32,
            hidden_act: "quick_gelu".into(),
            layer_norm_eps: 1e-5,
        }
    }
}

impl RawVision {
    fn to_clip(&self) -> VisionConfig {
        VisionConfig {
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads: self.num_attention_heads,
            image_size: self.image_size,
            patch_size: self.patch_size,
            hidden_act: self.hidden_act.clone(),
            layer_norm_eps: self.layer_norm_eps,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Raw {
    #[serde(default)]
    text_config: TextConfig,
    #[serde(default)]
    vision_config: RawVision,
    #[serde(default = "default_projection")]
    projection_dim: usize,
}

fn default_projection() -> usize {
    512
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub text: TextConfig,
    pub vision: VisionConfig,
    pub projection_dim: usize,
}

/// The activations candle's Chinese CLIP text tower knows (it panics on any other name).
const TEXT_ACTIVATIONS: [&str; 4] = ["gelu", "gelu_new", "relu", "quick_gelu"];

impl Config {
    pub fn from_file(path: &Path) -> Result<Self> {
        let raw: Raw = crate::ml::weights::config_file::read_json(path, validate)?;
        Ok(Self {
            vision: raw.vision_config.to_clip(),
            text: raw.text_config,
            projection_dim: raw.projection_dim,
        })
    }

    /// candle's text-tower config; `hidden_act` was checked when the file was read.
    pub(super) fn candle_text(&self) -> ChineseClipTextConfig {
        let t = &self.text;
        ChineseClipTextConfig {
            vocab_size: t.vocab_size,
            hidden_size: t.hidden_size,
            num_hidden_layers: t.num_hidden_layers,
            num_attention_heads: t.num_attention_heads,
            intermediate_size: t.intermediate_size,
            hidden_act: Activation::from(t.hidden_act.clone()),
            hidden_dropout_prob: 0.0,
            attention_probs_dropout_prob: 0.0,
            max_position_embeddings: t.max_position_embeddings,
            type_vocab_size: t.type_vocab_size,
            initializer_range: 0.02,
            initializer_factor: 1.0,
            layer_norm_eps: t.layer_norm_eps,
            pad_token_id: t.pad_token_id,
            position_embedding_type: PositionEmbeddingType::Absolute,
            use_cache: false,
        }
    }
}

fn validate(raw: &Raw) -> std::result::Result<(), String> {
    use crate::ml::weights::config_file::{check_sizes, most};
    let t = &raw.text_config;
    check_sizes(&[
        ("text vocab_size", t.vocab_size, most::VOCAB),
        ("text hidden_size", t.hidden_size, most::WIDTH),
        ("text intermediate_size", t.intermediate_size, most::INNER),
        ("text num_hidden_layers", t.num_hidden_layers, most::LAYERS),
        (
            "text num_attention_heads",
            t.num_attention_heads,
            most::HEADS,
        ),
        (
            "max_position_embeddings",
            t.max_position_embeddings,
            most::POSITIONS,
        ),
        ("type_vocab_size", t.type_vocab_size, most::HEADS),
        ("projection_dim", raw.projection_dim, most::WIDTH),
    ])?;
    let (width, heads) = (t.hidden_size, t.num_attention_heads);
    if !width.is_multiple_of(heads) {
        return Err(format!(
            "text hidden_size ({width}) must be a multiple of its heads ({heads})"
        ));
    }
    if !TEXT_ACTIVATIONS.contains(&t.hidden_act.as_str()) {
        return Err(format!(
            "text hidden_act '{}' is not one of {}",
            t.hidden_act,
            TEXT_ACTIVATIONS.join(", ")
        ));
    }
    raw.vision_config.to_clip().check()
}
