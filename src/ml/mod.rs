//! Machine learning: candle models, tokenizers, sampling and the weights locator.
//! Depends on candle and the file system only; never on the UI or the store.

pub mod banned;
pub mod bench;
pub mod bench_conv;
pub mod bench_words;
pub mod clip;
pub mod config_file;
pub mod conv_gemm;
pub mod device;
pub mod error;
pub mod fast_math;
pub mod finetune;
pub mod frozen;
pub mod frozen_linear;
pub mod frozen_mlp;
pub mod frozen_norm;
pub mod gemm_view;
pub mod generate;
pub mod gpt2;
pub mod hub;
pub mod illustrate;
pub mod image_io;
pub mod layer_norm_rows;
pub mod load;
pub mod minilm;
pub mod nn;
pub mod safetensors_check;
pub mod sampling;
pub mod text;
pub mod vqgan;
pub mod weights;
pub mod winograd;
pub mod winograd_tiles;
pub mod words;

pub use error::{Error, Result};
