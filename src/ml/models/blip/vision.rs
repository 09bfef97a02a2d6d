//! BLIP's vision tower: a pre-LayerNorm ViT over 16-pixel patches with a class token, whose
//! last hidden state (every position, after `post_layernorm`) is what the decoder reads.
//! Preprocessing is `BlipImageProcessor`'s: PIL bicubic straight to the square size (the aspect
//! is not kept and nothing is cropped), then CLIP's mean and std.

use candle_core::{Device, Module, Tensor, D};
use candle_nn::{Conv2d, Conv2dConfig, LayerNorm, VarBuilder};
use image::RgbImage;

use super::config::{Activation, VisionConfig};
use crate::ml::kernels::attention::Attention;
use crate::ml::kernels::frozen_linear::FrozenLinear;
use crate::ml::models::clip::image::preprocess_straight;
use crate::ml::Result;

/// `[1, 3, size, size]` pixel values for `img`.
pub fn preprocess(img: &RgbImage, size: usize, device: &Device) -> Result<Tensor> {
    preprocess_straight(img, size, device)
}

pub(super) fn activate(x: &Tensor, act: Activation) -> candle_core::Result<Tensor> {
    match act {
        Activation::Gelu => x.gelu_erf(),
        Activation::GeluTanh => x.gelu(),
    }
}

#[derive(Debug, Clone)]
struct Layer {
    layer_norm1: LayerNorm,
    qkv: FrozenLinear,
    projection: FrozenLinear,
    layer_norm2: LayerNorm,
    fc1: FrozenLinear,
    fc2: FrozenLinear,
    attention: Attention,
    act: Activation,
}

impl Layer {
    fn load(vb: VarBuilder, cfg: &VisionConfig) -> candle_core::Result<Self> {
        let (d, inner) = (cfg.hidden_size, cfg.intermediate_size);
        let eps = cfg.layer_norm_eps;
        Ok(Self {
            layer_norm1: candle_nn::layer_norm(d, eps, vb.pp("layer_norm1"))?,
            qkv: FrozenLinear::load(vb.pp("self_attn.qkv"), d, 3 * d)?,
            projection: FrozenLinear::load(vb.pp("self_attn.projection"), d, d)?,
            layer_norm2: candle_nn::layer_norm(d, eps, vb.pp("layer_norm2"))?,
            fc1: FrozenLinear::load(vb.pp("mlp.fc1"), d, inner)?,
            fc2: FrozenLinear::load(vb.pp("mlp.fc2"), inner, d)?,
            attention: Attention {
                heads: cfg.num_attention_heads,
                causal: false,
            },
            act: cfg.hidden_act,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let qkv = self.qkv.forward(&self.layer_norm1.forward(x)?)?;
        // The packed `[b, t, 3d]` rows are queries, keys and values side by side, as CLIP's.
        let context = self.attention.forward(&qkv)?;
        let x = (self.projection.forward(&context)? + x)?;
        let hidden = activate(&self.fc1.forward(&self.layer_norm2.forward(&x)?)?, self.act)?;
        self.fc2.forward(&hidden)? + x
    }
}

/// The vision tower with frozen weights.
#[derive(Debug, Clone)]
pub struct Vision {
    class_embedding: Tensor,
    patch_embedding: Conv2d,
    position_embedding: Tensor,
    layers: Vec<Layer>,
    post_layernorm: LayerNorm,
    pub cfg: VisionConfig,
}

impl Vision {
    pub fn load(vb: VarBuilder, cfg: &VisionConfig) -> candle_core::Result<Self> {
        let d = cfg.hidden_size;
        let e = vb.pp("embeddings");
        let conv = Conv2dConfig {
            stride: cfg.patch_size,
            ..Default::default()
        };
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::load(vb.pp(format!("encoder.layers.{i}")), cfg))
            .collect::<candle_core::Result<_>>()?;
        Ok(Self {
            class_embedding: e.get((1, 1, d), "class_embedding")?,
            patch_embedding: candle_nn::conv2d(
                3,
                d,
                cfg.patch_size,
                conv,
                e.pp("patch_embedding"),
            )?,
            position_embedding: e.get((1, cfg.positions(), d), "position_embedding")?,
            layers,
            post_layernorm: candle_nn::layer_norm(d, cfg.layer_norm_eps, vb.pp("post_layernorm"))?,
            cfg: cfg.clone(),
        })
    }

    /// Pixel values `[b, 3, size, size]` to the last hidden state `[b, positions, width]`.
    pub fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let b = pixels.dim(0)?;
        let patches = self
            .patch_embedding
            .forward(pixels)?
            .flatten_from(2)?
            .transpose(1, 2)?;
        let d = self.class_embedding.dim(D::Minus1)?;
        let class = self.class_embedding.broadcast_as((b, 1, d))?;
        let mut x = Tensor::cat(&[&class, &patches], 1)?.broadcast_add(&self.position_embedding)?;
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        Ok(self.post_layernorm.forward(&x)?)
    }
}
