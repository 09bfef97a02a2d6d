//! GPT-2's configuration, read from transformers' `config.json`.

use std::path::Path;

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::ml::Result;

fn default_eps() -> f64 {
    1e-5
}
fn default_activation() -> String {
    "gelu_new".into()
}
fn default_true() -> bool {
    true
}

/// The fields of transformers' `GPT2Config` that change the computation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub n_positions: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    #[serde(default)]
    pub n_inner: Option<usize>,
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    #[serde(default = "default_activation")]
    pub activation_function: String,
    #[serde(default = "default_true")]
    pub scale_attn_weights: bool,
    #[serde(default)]
    pub scale_attn_by_inverse_layer_idx: bool,
    #[serde(default)]
    pub eos_token_id: Option<u32>,
    #[serde(default = "default_true")]
    pub tie_word_embeddings: bool,
}

impl Config {
    /// GPT-2 124M, `openai-community/gpt2`.
    pub fn gpt2_124m() -> Self {
        Self {
            vocab_size: 50257,
            n_positions: 1024,
            n_embd: 768,
            n_layer: 12,
            n_head: 12,
            n_inner: None,
            layer_norm_epsilon: 1e-5,
            activation_function: default_activation(),
            scale_attn_weights: true,
            scale_attn_by_inverse_layer_idx: false,
            eos_token_id: Some(50256),
            tie_word_embeddings: true,
        }
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        crate::ml::weights::config_file::read_json(path, Self::validate)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        use crate::ml::weights::config_file::{check_sizes, most};
        check_sizes(&[
            ("vocab_size", self.vocab_size, most::VOCAB),
            ("n_positions", self.n_positions, most::POSITIONS),
            ("n_embd", self.n_embd, most::WIDTH),
            ("n_layer", self.n_layer, most::LAYERS),
            ("n_head", self.n_head, most::HEADS),
            ("n_inner", self.inner_dim(), most::INNER),
        ])?;
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(format!(
                "n_embd ({}) must be divisible by n_head ({})",
                self.n_embd, self.n_head
            ));
        }
        if self.scale_attn_by_inverse_layer_idx {
            return Err("scale_attn_by_inverse_layer_idx is not supported".into());
        }
        Activation::parse(&self.activation_function)?;
        Ok(())
    }

    pub fn inner_dim(&self) -> usize {
        self.n_inner.unwrap_or(self.n_embd.saturating_mul(4))
    }

    pub fn head_dim(&self) -> usize {
        self.n_embd / self.n_head
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Activation {
    GeluTanh,
    GeluErf,
    Relu,
    QuickGelu,
}

impl Activation {
    pub(super) fn parse(name: &str) -> std::result::Result<Self, String> {
        Ok(match name {
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Self::GeluTanh,
            "gelu" => Self::GeluErf,
            "relu" => Self::Relu,
            "quick_gelu" => Self::QuickGelu,
            other => return Err(format!("activation_function '{other}' is not supported")),
        })
    }

    pub(super) fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::GeluTanh => crate::ml::kernels::gelu::gelu_tanh(x),
            Self::GeluErf => x.gelu_erf(),
            Self::Relu => x.relu(),
            Self::QuickGelu => x.broadcast_mul(&candle_nn::ops::sigmoid(&(x * 1.702)?)?),
        }
    }
}
