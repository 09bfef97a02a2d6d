//! CLIP's vision tower and its projection, shared by CLIP and Chinese CLIP: both publish the
//! same ViT under `vision_model.` with `visual_projection` beside it.

use std::collections::BTreeMap;

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::encoder::{self, Encoder};
use super::VisionConfig;
use crate::ml::kernels::frozen_linear::FrozenLinear;
use crate::ml::kernels::frozen_norm::FrozenLayerNorm as LayerNorm;
use crate::ml::{Error, Result};

#[derive(Debug, Clone)]
pub struct VisionTower {
    /// The stride-`patch` convolution, as a matmul over flattened patches (`[hidden, 3*p*p]`).
    patch_embedding: FrozenLinear,
    class_embedding: Tensor,
    position_embedding: Tensor,
    pre_layrnorm: LayerNorm,
    encoder: Encoder,
    post_layernorm: LayerNorm,
    projection: FrozenLinear,
    cfg: VisionConfig,
}

impl VisionTower {
    /// Reads `vision_model.*` and `visual_projection.weight` from the checkpoint's root.
    pub fn load(
        root: &VarBuilder,
        v: &VisionConfig,
        projection_dim: usize,
    ) -> candle_core::Result<Self> {
        let vvb = root.pp("vision_model");
        let ve = vvb.pp("embeddings");
        let patch_weight = ve.get(
            (v.hidden_size, 3, v.patch_size, v.patch_size),
            "patch_embedding.weight",
        )?;
        Ok(Self {
            patch_embedding: FrozenLinear::new(
                patch_weight.reshape((v.hidden_size, 3 * v.patch_size * v.patch_size))?,
                None,
            )?,
            class_embedding: ve.get(v.hidden_size, "class_embedding")?,
            position_embedding: ve.get(
                (v.num_positions(), v.hidden_size),
                "position_embedding.weight",
            )?,
            pre_layrnorm: LayerNorm::load(vvb.pp("pre_layrnorm"), v.hidden_size, v.layer_norm_eps)?,
            encoder: Encoder::load(
                vvb.pp("encoder"),
                v.num_hidden_layers,
                v.hidden_size,
                v.intermediate_size,
                v.num_attention_heads,
                v.layer_norm_eps,
                &v.hidden_act,
            )?,
            post_layernorm: LayerNorm::load(
                vvb.pp("post_layernorm"),
                v.hidden_size,
                v.layer_norm_eps,
            )?,
            projection: FrozenLinear::new(
                root.get((projection_dim, v.hidden_size), "visual_projection.weight")?,
                None,
            )?,
            cfg: v.clone(),
        })
    }

    /// Moves the tower's products to bf16; `false` where no bf16 kernel runs (the
    /// first layer says so, and nothing is changed).
    pub fn switch_to_bf16(&mut self) -> candle_core::Result<bool> {
        Ok(self.patch_embedding.switch_to_bf16()?
            && self.encoder.switch_to_bf16()?
            && self.projection.switch_to_bf16()?)
    }

    /// Encoder output before `post_layernorm`, `[n, positions, hidden]`.
    pub fn hidden(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let x = self.embeddings(pixel_values)?;
        self.encoder.forward(&x, false)
    }

    /// Patch and class embeddings plus positions, after `pre_layrnorm`.
    fn embeddings(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let (n, c, h, w) = pixel_values.dims4()?;
        let size = self.cfg.image_size;
        if c != 3 || h != size || w != size {
            return Err(Error::Input(format!(
                "CLIP expects images of 3x{size}x{size}, got {c}x{h}x{w}"
            )));
        }
        let hidden = self.cfg.hidden_size;
        // Non-overlapping patches, each flattened in (channel, row, column) order like the kernel.
        let p = self.cfg.patch_size;
        let g = size / p;
        let flat = pixel_values
            .reshape((n, 3, g, p, g, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .reshape((n, g * g, 3 * p * p))?;
        let patches = self.patch_embedding.forward(&flat)?;
        let class = self
            .class_embedding
            .reshape((1, 1, hidden))?
            .broadcast_as((n, 1, hidden))?;
        let x = Tensor::cat(&[&class, &patches], 1)?.broadcast_add(&self.position_embedding)?;
        Ok(self.pre_layrnorm.forward(&x)?)
    }

    /// Unnormalised image embeddings `[n, projection_dim]` from normalised pixel values.
    /// Differentiable with respect to `pixel_values`.
    pub fn embeds(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let x = self.embeddings(pixel_values)?;
        let first = self.encoder.forward_first_token(&x)?;
        let pooled = self.post_layernorm.forward(&first.squeeze(1)?)?;
        Ok(self.projection.forward(&pooled)?)
    }
}

/// The vision tower's keys and shapes, named as both published checkpoints name them.
pub fn expected_keys(keys: &mut BTreeMap<String, Vec<usize>>, v: &VisionConfig, projection: usize) {
    keys.insert(
        "visual_projection.weight".into(),
        vec![projection, v.hidden_size],
    );
    for s in ["weight", "bias"] {
        keys.insert(
            format!("vision_model.pre_layrnorm.{s}"),
            vec![v.hidden_size],
        );
        keys.insert(
            format!("vision_model.post_layernorm.{s}"),
            vec![v.hidden_size],
        );
    }
    let ve = "vision_model.embeddings";
    keys.insert(format!("{ve}.class_embedding"), vec![v.hidden_size]);
    keys.insert(
        format!("{ve}.patch_embedding.weight"),
        vec![v.hidden_size, 3, v.patch_size, v.patch_size],
    );
    keys.insert(
        format!("{ve}.position_embedding.weight"),
        vec![v.num_positions(), v.hidden_size],
    );
    encoder::expected_keys(
        keys,
        "vision_model.encoder",
        v.num_hidden_layers,
        v.hidden_size,
        v.intermediate_size,
    );
}
