//! BLIP's `config.json` (transformers' `BlipConfig`): a ViT vision tower and a BERT text decoder
//! with cross-attention. Absent fields take transformers' defaults, as `from_pretrained` does,
//! because published configs often leave the defaults out.

use std::path::Path;

use serde::Deserialize;

use crate::ml::weights::config_file::{check_sizes, most, read_json};
use crate::ml::Result;

/// The activation a config names; BLIP uses the exact (erf) GELU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Activation {
    #[serde(rename = "gelu")]
    Gelu,
    /// The tanh approximation, which a few fine-tuned variants ask for.
    #[serde(alias = "gelu_new", alias = "gelu_pytorch_tanh")]
    GeluTanh,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct VisionConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
}

impl Default for VisionConfig {
    fn default() -> Self {
        Self {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            image_size: 384,
            patch_size: 16,
            hidden_act: Activation::Gelu,
            layer_norm_eps: 1e-5,
        }
    }
}

impl VisionConfig {
    /// Patches per side: the image is cut into `side × side` squares.
    pub fn patches_per_side(&self) -> usize {
        self.image_size / self.patch_size.max(1)
    }

    /// Tokens the decoder attends to: one per patch and the class token.
    pub fn positions(&self) -> usize {
        self.patches_per_side().pow(2) + 1
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct TextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub encoder_hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
    /// `[DEC]`, the token every caption starts from.
    pub bos_token_id: u32,
    /// `[SEP]`, where a caption ends.
    pub sep_token_id: u32,
    pub pad_token_id: u32,
    /// Whether the head's output matrix is the word embeddings; the top level's when absent.
    pub tie_word_embeddings: Option<bool>,
}

impl Default for TextConfig {
    fn default() -> Self {
        Self {
            vocab_size: 30524,
            hidden_size: 768,
            encoder_hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            max_position_embeddings: 512,
            hidden_act: Activation::Gelu,
            layer_norm_eps: 1e-12,
            bos_token_id: 30522,
            sep_token_id: 102,
            pad_token_id: 0,
            tie_word_embeddings: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct Config {
    pub vision_config: VisionConfig,
    pub text_config: TextConfig,
    /// transformers' default: the head reuses the word embeddings.
    pub tie_word_embeddings: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            vision_config: VisionConfig::default(),
            text_config: TextConfig::default(),
            tie_word_embeddings: true,
        }
    }
}

impl Config {
    /// Whether the head's output matrix is the word embeddings (then a stored copy is ignored,
    /// as transformers ignores it).
    pub fn tied_head(&self) -> bool {
        self.text_config
            .tie_word_embeddings
            .unwrap_or(self.tie_word_embeddings)
    }

    /// `Salesforce/blip-image-captioning-large`: ViT-L/16 at 384 px and a BERT-base decoder.
    pub fn captioning_large() -> Self {
        Self {
            vision_config: VisionConfig {
                hidden_size: 1024,
                intermediate_size: 4096,
                num_hidden_layers: 24,
                num_attention_heads: 16,
                ..VisionConfig::default()
            },
            text_config: TextConfig {
                encoder_hidden_size: 1024,
                num_attention_heads: 12,
                ..TextConfig::default()
            },
            tie_word_embeddings: true,
        }
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let mut cfg: Self = read_json(path, Self::validate)?;
        // As transformers' `BlipConfig` does: the decoder reads the vision tower's width,
        // whatever the text config says.
        cfg.text_config.encoder_hidden_size = cfg.vision_config.hidden_size;
        Ok(cfg)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let (v, t) = (&self.vision_config, &self.text_config);
        check_sizes(&[
            ("vision_config.hidden_size", v.hidden_size, most::WIDTH),
            (
                "vision_config.intermediate_size",
                v.intermediate_size,
                most::INNER,
            ),
            (
                "vision_config.num_hidden_layers",
                v.num_hidden_layers,
                most::LAYERS,
            ),
            (
                "vision_config.num_attention_heads",
                v.num_attention_heads,
                most::HEADS,
            ),
            ("vision_config.image_size", v.image_size, most::IMAGE_SIDE),
            ("vision_config.patch_size", v.patch_size, most::IMAGE_SIDE),
            ("text_config.vocab_size", t.vocab_size, most::VOCAB),
            ("text_config.hidden_size", t.hidden_size, most::WIDTH),
            (
                "text_config.intermediate_size",
                t.intermediate_size,
                most::INNER,
            ),
            (
                "text_config.num_hidden_layers",
                t.num_hidden_layers,
                most::LAYERS,
            ),
            (
                "text_config.num_attention_heads",
                t.num_attention_heads,
                most::HEADS,
            ),
            (
                "text_config.max_position_embeddings",
                t.max_position_embeddings,
                most::POSITIONS,
            ),
        ])?;
        for (name, width, heads) in [
            ("vision_config", v.hidden_size, v.num_attention_heads),
            ("text_config", t.hidden_size, t.num_attention_heads),
        ] {
            if !width.is_multiple_of(heads) {
                return Err(format!(
                    "{name}.hidden_size {width} is not a multiple of num_attention_heads {heads}"
                ));
            }
        }
        if v.image_size % v.patch_size != 0 {
            return Err(format!(
                "vision_config.image_size {} is not a multiple of patch_size {}",
                v.image_size, v.patch_size
            ));
        }
        for (name, id) in [
            ("bos_token_id", t.bos_token_id),
            ("sep_token_id", t.sep_token_id),
            ("pad_token_id", t.pad_token_id),
        ] {
            if id as usize >= t.vocab_size {
                return Err(format!(
                    "text_config.{name} {id} is outside the vocabulary of {}",
                    t.vocab_size
                ));
            }
        }
        Ok(())
    }
}
