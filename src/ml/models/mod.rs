//! One folder per model family, each with its `Config`, checkpoint key checks and forward pass,
//! built from [`crate::ml::kernels`] and read through [`crate::ml::weights`]; [`load`] turns
//! located files into ready models. Models never use the tasks above them.

pub mod blip;
pub mod clip;
pub mod cn_clip;
pub mod gpt2;
pub mod load;
pub mod minilm;
pub mod vqgan;
