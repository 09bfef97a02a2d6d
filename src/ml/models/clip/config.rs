//! CLIP's configuration as transformers writes it (`config.json`), with ViT-B/32's values as a
//! preset and the checks that keep a wrong file from reaching the model.

use std::path::Path;

use serde::Deserialize;

use super::encoder;
use crate::ml::Result;

fn default_eps() -> f64 {
    1e-5
}
fn default_act() -> String {
    "quick_gelu".into()
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TextConfig {
    #[serde(default = "TextConfig::default_vocab")]
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default = "TextConfig::default_positions")]
    pub max_position_embeddings: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
}

impl TextConfig {
    fn default_vocab() -> usize {
        49408
    }
    fn default_positions() -> usize {
        77
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VisionConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default = "VisionConfig::default_image")]
    pub image_size: usize,
    #[serde(default = "VisionConfig::default_patch")]
    pub patch_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
}

impl VisionConfig {
    fn default_image() -> usize {
        224
    }
    fn default_patch() -> usize {
        32
    }
    pub fn num_positions(&self) -> usize {
        (self.image_size / self.patch_size).pow(2) + 1
    }
}

/// The fields of transformers' `CLIPConfig` that change the computation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Config {
    pub text_config: TextConfig,
    pub vision_config: VisionConfig,
    pub projection_dim: usize,
}

impl Config {
    /// `openai/clip-vit-base-patch32`.
    pub fn vit_b_32() -> Self {
        Self {
            text_config: TextConfig {
                vocab_size: 49408,
                hidden_size: 512,
                intermediate_size: 2048,
                num_hidden_layers: 12,
                num_attention_heads: 8,
                max_position_embeddings: 77,
                hidden_act: default_act(),
                layer_norm_eps: 1e-5,
            },
            vision_config: VisionConfig {
                hidden_size: 768,
                intermediate_size: 3072,
                num_hidden_layers: 12,
                num_attention_heads: 12,
                image_size: 224,
                patch_size: 32,
                hidden_act: default_act(),
                layer_norm_eps: 1e-5,
            },
            projection_dim: 512,
        }
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        crate::ml::weights::config_file::read_json(path, Self::validate)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        use crate::ml::weights::config_file::{check_sizes, most};
        let t = &self.text_config;
        let v = &self.vision_config;
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
            ("projection_dim", self.projection_dim, most::WIDTH),
        ])?;
        let (width, heads) = (t.hidden_size, t.num_attention_heads);
        if !width.is_multiple_of(heads) {
            return Err(format!(
                "text hidden_size ({width}) must be a positive multiple of its heads ({heads})"
            ));
        }
        encoder::Activation::parse(&t.hidden_act)?;
        v.check()
    }
}

impl VisionConfig {
    /// The checks that keep a wrong vision config from reaching the model; CLIP and Chinese
    /// CLIP share the tower, so they share these.
    pub fn check(&self) -> std::result::Result<(), String> {
        use crate::ml::weights::config_file::{check_sizes, most};
        check_sizes(&[
            ("vision hidden_size", self.hidden_size, most::WIDTH),
            (
                "vision intermediate_size",
                self.intermediate_size,
                most::INNER,
            ),
            (
                "vision num_hidden_layers",
                self.num_hidden_layers,
                most::LAYERS,
            ),
            (
                "vision num_attention_heads",
                self.num_attention_heads,
                most::HEADS,
            ),
            ("image_size", self.image_size, most::IMAGE_SIDE),
            ("patch_size", self.patch_size, most::IMAGE_SIDE),
        ])?;
        let (width, heads) = (self.hidden_size, self.num_attention_heads);
        if !width.is_multiple_of(heads) {
            return Err(format!(
                "vision hidden_size ({width}) must be a positive multiple of its heads ({heads})"
            ));
        }
        if !self.image_size.is_multiple_of(self.patch_size) {
            return Err(format!(
                "image_size ({}) must be a multiple of patch_size ({})",
                self.image_size, self.patch_size
            ));
        }
        encoder::Activation::parse(&self.hidden_act).map(|_| ())
    }
}
