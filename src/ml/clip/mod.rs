//! CLIP, the judge of the illustrator and the ranker of image-to-words.
//!
//! Paper: Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
//! Supervision". Reference implementation: Hugging Face transformers `CLIPModel`
//! (`modeling_clip.py`). Hub id: `openai/clip-vit-base-patch32` at revision `refs/pr/15`.
//!
//! Written here rather than taken from candle-transformers because the image path must be
//! differentiable end to end: candle's fused LayerNorm and softmax record no backward pass.

mod attention;
mod block;
mod encoder;
pub mod image;
pub mod tokenize;

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::VarBuilder;
use serde::Deserialize;

use crate::ml::frozen_linear::FrozenLinear;
use crate::ml::frozen_norm::FrozenLayerNorm as LayerNorm;
use crate::ml::safetensors_check::{check_keys, read_header};
use crate::ml::{Error, Result};
use encoder::Encoder;

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
        crate::ml::config_file::read_json(path, Self::validate)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        use crate::ml::config_file::{check_sizes, most};
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
            ("vision hidden_size", v.hidden_size, most::WIDTH),
            ("vision intermediate_size", v.intermediate_size, most::INNER),
            (
                "vision num_hidden_layers",
                v.num_hidden_layers,
                most::LAYERS,
            ),
            (
                "vision num_attention_heads",
                v.num_attention_heads,
                most::HEADS,
            ),
            ("image_size", v.image_size, most::IMAGE_SIDE),
            ("projection_dim", self.projection_dim, most::WIDTH),
        ])?;
        for (name, width, heads) in [
            ("text", t.hidden_size, t.num_attention_heads),
            ("vision", v.hidden_size, v.num_attention_heads),
        ] {
            if heads == 0 || width == 0 || !width.is_multiple_of(heads) {
                return Err(format!(
                    "{name} hidden_size ({width}) must be a positive multiple of its heads ({heads})"
                ));
            }
        }
        if v.patch_size == 0 || !v.image_size.is_multiple_of(v.patch_size) {
            return Err(format!(
                "image_size ({}) must be a multiple of patch_size ({})",
                v.image_size, v.patch_size
            ));
        }
        for act in [&t.hidden_act, &v.hidden_act] {
            encoder::Activation::parse(act)?;
        }
        Ok(())
    }
}

/// Every weight the model reads, with its shape, named as in the published file.
pub fn expected_keys(cfg: &Config) -> BTreeMap<String, Vec<usize>> {
    let (t, v, p) = (&cfg.text_config, &cfg.vision_config, cfg.projection_dim);
    let mut keys = BTreeMap::new();
    keys.insert("logit_scale".to_string(), vec![]);
    keys.insert("text_projection.weight".into(), vec![p, t.hidden_size]);
    keys.insert("visual_projection.weight".into(), vec![p, v.hidden_size]);
    let te = "text_model.embeddings";
    keys.insert(
        format!("{te}.token_embedding.weight"),
        vec![t.vocab_size, t.hidden_size],
    );
    keys.insert(
        format!("{te}.position_embedding.weight"),
        vec![t.max_position_embeddings, t.hidden_size],
    );
    for s in ["weight", "bias"] {
        keys.insert(
            format!("text_model.final_layer_norm.{s}"),
            vec![t.hidden_size],
        );
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
        &mut keys,
        "text_model.encoder",
        t.num_hidden_layers,
        t.hidden_size,
        t.intermediate_size,
    );
    encoder::expected_keys(
        &mut keys,
        "vision_model.encoder",
        v.num_hidden_layers,
        v.hidden_size,
        v.intermediate_size,
    );
    keys
}

fn ignorable(name: &str) -> bool {
    name.ends_with("embeddings.position_ids")
}

/// Checks a CLIP checkpoint's keys and shapes against its config.
pub fn check_checkpoint(path: &Path, cfg: &Config) -> Result<()> {
    let header = read_header(path)?;
    check_keys(path, &header, &expected_keys(cfg), ignorable)
}

#[derive(Debug, Clone)]
struct TextTransformer {
    token_embedding: candle_nn::Embedding,
    position_embedding: Tensor,
    encoder: Encoder,
    final_layer_norm: LayerNorm,
}

#[derive(Debug, Clone)]
struct VisionTransformer {
    /// The stride-`patch` convolution, as a matmul over flattened patches (`[hidden, 3*p*p]`).
    patch_embedding: FrozenLinear,
    patch_size: usize,
    class_embedding: Tensor,
    position_embedding: Tensor,
    pre_layrnorm: LayerNorm,
    encoder: Encoder,
    post_layernorm: LayerNorm,
}

/// CLIP's two towers and their projections into the shared embedding space.
#[derive(Debug, Clone)]
pub struct Clip {
    text: TextTransformer,
    vision: VisionTransformer,
    text_projection: Tensor,
    visual_projection: FrozenLinear,
    pub logit_scale: f32,
    cfg: Config,
    device: Device,
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
        let vvb = vb.pp("vision_model");
        let ve = vvb.pp("embeddings");
        let patch_weight = ve.get(
            (v.hidden_size, 3, v.patch_size, v.patch_size),
            "patch_embedding.weight",
        )?;
        let vision = VisionTransformer {
            patch_embedding: FrozenLinear::new(
                patch_weight.reshape((v.hidden_size, 3 * v.patch_size * v.patch_size))?,
                None,
            )?,
            patch_size: v.patch_size,
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
        };
        let logit_scale = vb.get((), "logit_scale")?.to_scalar::<f32>()?;
        Ok(Self {
            text,
            vision,
            text_projection: vb.get(
                (cfg.projection_dim, t.hidden_size),
                "text_projection.weight",
            )?,
            visual_projection: FrozenLinear::new(
                vb.get(
                    (cfg.projection_dim, v.hidden_size),
                    "visual_projection.weight",
                )?,
                None,
            )?,
            logit_scale,
            cfg: cfg.clone(),
            device: vb.device().clone(),
        })
    }

    /// Loads `model.safetensors` after checking its keys and shapes against `cfg`.
    pub fn from_safetensors(path: &Path, cfg: &Config, device: &Device) -> Result<Self> {
        check_checkpoint(path, cfg)?;
        // SAFETY: the file is memory-mapped read-only; candle copies tensors out of the map.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, device)? };
        Ok(Self::load(vb, cfg)?)
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
        let x = self
            .text
            .token_embedding
            .forward(input_ids)?
            .broadcast_add(&self.text.position_embedding.narrow(0, 0, seq)?)?;
        let x = self.text.encoder.forward(&x, true)?;
        Ok(self.text.final_layer_norm.forward(&x)?)
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
        let x = self.vision_embeddings(pixel_values)?;
        self.vision.encoder.forward(&x, false)
    }

    /// Patch and class embeddings plus positions, after `pre_layrnorm`.
    fn vision_embeddings(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let (n, c, h, w) = pixel_values.dims4()?;
        let size = self.cfg.vision_config.image_size;
        if c != 3 || h != size || w != size {
            return Err(Error::Input(format!(
                "CLIP expects images of 3x{size}x{size}, got {c}x{h}x{w}"
            )));
        }
        let hidden = self.cfg.vision_config.hidden_size;
        // Non-overlapping patches, each flattened in (channel, row, column) order like the kernel.
        let p = self.vision.patch_size;
        let g = size / p;
        let flat = pixel_values
            .reshape((n, 3, g, p, g, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .reshape((n, g * g, 3 * p * p))?;
        let patches = self.vision.patch_embedding.forward(&flat)?;
        let class = self
            .vision
            .class_embedding
            .reshape((1, 1, hidden))?
            .broadcast_as((n, 1, hidden))?;
        let x =
            Tensor::cat(&[&class, &patches], 1)?.broadcast_add(&self.vision.position_embedding)?;
        Ok(self.vision.pre_layrnorm.forward(&x)?)
    }

    /// Unnormalised image embeddings `[n, projection_dim]` from normalised pixel values.
    /// Differentiable with respect to `pixel_values`.
    pub fn image_embeds(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let x = self.vision_embeddings(pixel_values)?;
        let first = self.vision.encoder.forward_first_token(&x)?;
        let pooled = self.vision.post_layernorm.forward(&first.squeeze(1)?)?;
        Ok(self.visual_projection.forward(&pooled)?)
    }
}

/// Rows scaled to unit length.
pub fn normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
    Ok(x.broadcast_div(&norm)?)
}
