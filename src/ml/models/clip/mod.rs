//! CLIP, the judge of the illustrator and the ranker of image-to-words.
//!
//! Paper: Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
//! Supervision". Reference implementation: Hugging Face transformers `CLIPModel`
//! (`modeling_clip.py`). Hub id: `openai/clip-vit-base-patch32` at revision `refs/pr/15`.
//!
//! Written here rather than taken from candle-transformers because the image path must be
//! differentiable end to end: candle's fused LayerNorm and softmax record no backward pass.

mod block;
mod checkpoint;
mod config;
mod encoder;
pub mod image;
pub mod tokenize;
pub mod vision;

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::VarBuilder;

use crate::ml::kernels::frozen_norm::FrozenLayerNorm as LayerNorm;
use crate::ml::{Error, Result};
pub use checkpoint::{check_checkpoint, expected_keys};
pub use config::{Config, TextConfig, VisionConfig};
use encoder::Encoder;
use vision::VisionTower;

#[derive(Debug, Clone)]
struct TextTransformer {
    token_embedding: candle_nn::Embedding,
    position_embedding: Tensor,
    encoder: Encoder,
    final_layer_norm: LayerNorm,
}

/// CLIP's two towers and their projections into the shared embedding space.
#[derive(Debug, Clone)]
pub struct Clip {
    /// `None` once [`Clip::free_text_tower`] ran.
    text: Option<TextTransformer>,
    vision: VisionTower,
    text_projection: Tensor,
    pub logit_scale: f32,
    cfg: Config,
    device: Device,
    image_bf16: bool,
}

/// The end-of-text id; text is pooled at its first occurrence.
pub const END_OF_TEXT: u32 = 49407;

impl Clip {
    pub fn load(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let (t, v) = (&cfg.text_config, &cfg.vision_config);
        let tvb = vb.pp("text_model");
        let te = tvb.pp("embeddings");
        let text = TextTransformer {
            token_embedding: candle_nn::embedding(
                t.vocab_size,
                t.hidden_size,
                te.pp("token_embedding"),
            )?,
            position_embedding: te.get(
                (t.max_position_embeddings, t.hidden_size),
                "position_embedding.weight",
            )?,
            encoder: Encoder::load(
                tvb.pp("encoder"),
                t.num_hidden_layers,
                t.hidden_size,
                t.intermediate_size,
                t.num_attention_heads,
                t.layer_norm_eps,
                &t.hidden_act,
            )?,
            final_layer_norm: LayerNorm::load(
                tvb.pp("final_layer_norm"),
                t.hidden_size,
                t.layer_norm_eps,
            )?,
        };
        let vision = VisionTower::load(&vb, v, cfg.projection_dim)?;
        let logit_scale = vb.get((), "logit_scale")?.to_scalar::<f32>()?;
        Ok(Self {
            text: Some(text),
            vision,
            text_projection: vb.get(
                (cfg.projection_dim, t.hidden_size),
                "text_projection.weight",
            )?,
            logit_scale,
            cfg: cfg.clone(),
            device: vb.device().clone(),
            image_bf16: false,
        })
    }

    /// Loads `model.safetensors` after checking its keys and shapes against `cfg`.
    pub fn from_safetensors(path: &Path, cfg: &Config, device: &Device) -> Result<Self> {
        check_checkpoint(path, cfg)?;
        // SAFETY: the file is memory-mapped read-only; candle copies tensors out of the map.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, device)? };
        Ok(Self::load(vb, cfg)?)
    }

    /// Runs the image tower's products in bf16 (on AMX or AVX512-BF16) from now on; the text
    /// tower stays f32.
    /// `false`, with the model unchanged, where the CPU or its system runs no bf16 kernel.
    pub fn image_tower_to_bf16(&mut self) -> Result<bool> {
        // Switched layer by layer in place, each f32 weight freed as its bf16 copy is made (a
        // copy of the whole tower measured 80 MB more peak memory in the steps, from the
        // heap's fragments). A failure midway still marks the model bf16, so nothing takes
        // it for an f32 one: the worker loads CLIP again. The fused CPU ops are the only ones
        // that read bf16.
        if !self.image_bf16 && self.device.is_cpu() && !crate::ml::kernels::composed_forced() {
            if !crate::ml::kernels::bf16_gemm::available() {
                return Ok(false);
            }
            self.image_bf16 = true;
            if !self.vision.switch_to_bf16()? {
                return Err(Error::Input(
                    "CLIP's image tower could not be switched to bf16; load it again".into(),
                ));
            }
        }
        Ok(self.image_bf16)
    }

    /// Frees the text tower's weights (253 MB for ViT-B/32) once every prompt is encoded: a
    /// drawing then only looks at images, and the CLI draws one picture per process.
    pub fn free_text_tower(&mut self) {
        self.text = None;
    }

    /// Whether the image tower runs in bf16.
    pub fn image_tower_is_bf16(&self) -> bool {
        self.image_bf16
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Text encoder output after `final_layer_norm`, `[n, seq, hidden]`, causal mask only
    /// (as OpenAI's model; HF's padding mask changes only padded rows, never the pooled one).
    pub fn text_hidden(&self, input_ids: &Tensor) -> Result<Tensor> {
        let (_, seq) = input_ids.dims2()?;
        let max = self.cfg.text_config.max_position_embeddings;
        if seq > max {
            return Err(Error::Input(format!(
                "the text is {seq} tokens long but CLIP reads at most {max}"
            )));
        }
        let text = self.text.as_ref().ok_or_else(|| {
            Error::Input("this CLIP's text tower was freed; load the model again".into())
        })?;
        let x = text
            .token_embedding
            .forward(input_ids)?
            .broadcast_add(&text.position_embedding.narrow(0, 0, seq)?)?;
        let x = text.encoder.forward(&x, true)?;
        Ok(text.final_layer_norm.forward(&x)?)
    }

    /// Unnormalised text embeddings `[n, projection_dim]`, pooled at the first end-of-text.
    pub fn text_embeds(&self, input_ids: &Tensor) -> Result<Tensor> {
        let hidden = self.text_hidden(input_ids)?;
        let ids = input_ids.to_vec2::<u32>()?;
        let rows = ids
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let pos = row
                    .iter()
                    .position(|&t| t == END_OF_TEXT)
                    .unwrap_or(row.len() - 1);
                hidden.get(i)?.get(pos)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let pooled = Tensor::stack(&rows, 0)?;
        Ok(pooled.matmul(&self.text_projection.t()?)?)
    }

    /// Vision encoder output before `post_layernorm`, `[n, positions, hidden]`.
    pub fn vision_hidden(&self, pixel_values: &Tensor) -> Result<Tensor> {
        self.vision.hidden(pixel_values)
    }

    /// Unnormalised image embeddings `[n, projection_dim]` from normalised pixel values.
    /// Differentiable with respect to `pixel_values`.
    pub fn image_embeds(&self, pixel_values: &Tensor) -> Result<Tensor> {
        self.vision.embeds(pixel_values)
    }
}

/// Rows scaled to unit length.
pub fn normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
    Ok(x.broadcast_div(&norm)?)
}
