//! The transformer encoder shared by CLIP's text and vision towers (pre-LayerNorm blocks).

use std::collections::BTreeMap;

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::block::Block;
use crate::ml::kernels::attention::Attention;
use crate::ml::kernels::frozen_linear::FrozenLinear as Linear;
use crate::ml::kernels::frozen_mlp::FrozenMlp;
use crate::ml::kernels::frozen_norm::FrozenLayerNorm as LayerNorm;
use crate::ml::kernels::nn::softmax_last;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    QuickGelu,
    GeluErf,
}

impl Activation {
    pub fn parse(name: &str) -> std::result::Result<Self, String> {
        match name {
            "quick_gelu" => Ok(Self::QuickGelu),
            "gelu" => Ok(Self::GeluErf),
            other => Err(format!("hidden_act '{other}' is not supported")),
        }
    }
}

pub fn expected_keys(
    keys: &mut BTreeMap<String, Vec<usize>>,
    prefix: &str,
    layers: usize,
    width: usize,
    inner: usize,
) {
    for i in 0..layers {
        let p = format!("{prefix}.layers.{i}");
        for ln in ["layer_norm1", "layer_norm2"] {
            keys.insert(format!("{p}.{ln}.weight"), vec![width]);
            keys.insert(format!("{p}.{ln}.bias"), vec![width]);
        }
        for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            keys.insert(format!("{p}.self_attn.{proj}.weight"), vec![width, width]);
            keys.insert(format!("{p}.self_attn.{proj}.bias"), vec![width]);
        }
        keys.insert(format!("{p}.mlp.fc1.weight"), vec![inner, width]);
        keys.insert(format!("{p}.mlp.fc1.bias"), vec![inner]);
        keys.insert(format!("{p}.mlp.fc2.weight"), vec![width, inner]);
        keys.insert(format!("{p}.mlp.fc2.bias"), vec![width]);
    }
}

#[derive(Debug, Clone)]
struct Layer {
    block: Block,
    act: Activation,
}

#[derive(Debug, Clone)]
pub struct Encoder {
    layers: Vec<Layer>,
}

/// The three input projections of one attention block as a single layer.
fn load_qkv(width: usize, vb: VarBuilder) -> Result<Linear> {
    let parts =
        ["q_proj", "k_proj", "v_proj"].map(|name| candle_nn::linear(width, width, vb.pp(name)));
    let [q, k, v] = parts;
    let (q, k, v) = (q?, k?, v?);
    let weight = Tensor::cat(&[q.weight(), k.weight(), v.weight()], 0)?;
    let bias = match (q.bias(), k.bias(), v.bias()) {
        (Some(a), Some(b), Some(c)) => Some(Tensor::cat(&[a, b, c], 0)?),
        _ => None,
    };
    Linear::new(weight, bias)
}

impl Encoder {
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        vb: VarBuilder,
        layers: usize,
        width: usize,
        inner: usize,
        heads: usize,
        eps: f64,
        act: &str,
    ) -> Result<Self> {
        let act = Activation::parse(act).map_err(candle_core::Error::msg)?;
        let layers = (0..layers)
            .map(|i| {
                let l = vb.pp("layers").pp(i);
                let a = l.pp("self_attn");
                Ok(Layer {
                    block: Block {
                        layer_norm1: LayerNorm::load(l.pp("layer_norm1"), width, eps)?,
                        qkv_proj: load_qkv(width, a.clone())?,
                        out_proj: Linear::load(a.pp("out_proj"), width, width)?,
                        layer_norm2: LayerNorm::load(l.pp("layer_norm2"), width, eps)?,
                        fc1: Linear::load(l.pp("mlp").pp("fc1"), width, inner)?,
                        fc2: Linear::load(l.pp("mlp").pp("fc2"), inner, width)?,
                        attention: Attention {
                            heads,
                            causal: false,
                        },
                    },
                    act,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers })
    }

    /// Runs every block; `causal` hides later tokens from earlier ones (the text tower).
    pub fn forward(&self, x: &Tensor, causal: bool) -> crate::ml::Result<Tensor> {
        let mut x = x.clone();
        for layer in &self.layers {
            x = self.block(layer, &x, causal, false)?;
        }
        Ok(x)
    }

    /// Only the first token's output, `[b, 1, width]`: the vision tower pools that token, so
    /// the last block's projections and MLP run on one row instead of every patch (exact, and
    /// about 6% of the tower's work at ViT-B/32's 50 tokens).
    pub fn forward_first_token(&self, x: &Tensor) -> crate::ml::Result<Tensor> {
        let mut x = x.clone();
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter().enumerate() {
            x = self.block(layer, &x, false, i == last)?;
        }
        if self.layers.is_empty() {
            x = x.narrow(1, 0, 1)?;
        }
        Ok(x)
    }

    fn block(
        &self,
        layer: &Layer,
        x: &Tensor,
        causal: bool,
        first_token_only: bool,
    ) -> candle_core::Result<Tensor> {
        let block = Block {
            attention: Attention {
                causal,
                ..layer.block.attention
            },
            ..layer.block.clone()
        };
        if layer.act == Activation::QuickGelu && !first_token_only {
            if let Some(y) = block.forward_fused(x)? {
                return Ok(y);
            }
        }
        let qkv = block.qkv_proj.forward(&block.layer_norm1.forward(x)?)?;
        let mut att = block.attention.forward(&qkv)?;
        let mut x = x.clone();
        if first_token_only {
            // Keys and values still come from every token; only the outputs are narrowed.
            att = att.narrow(1, 0, 1)?;
            x = x.narrow(1, 0, 1)?;
        }
        let x = (&x + block.out_proj.forward(&att)?)?;
        Self::mlp_residual(layer, &x)
    }

    /// `x + mlp(ln2(x))`, the block's second half.
    fn mlp_residual(layer: &Layer, x: &Tensor) -> candle_core::Result<Tensor> {
        let block = &layer.block;
        let a = block.layer_norm2.forward(x)?;
        let h = match layer.act {
            Activation::QuickGelu => {
                FrozenMlp::new(block.fc1.clone(), block.fc2.clone()).forward(&a)?
            }
            Activation::GeluErf => block.fc2.forward(&block.fc1.forward(&a)?.gelu_erf()?)?,
        };
        x + h
    }

    /// The causal text tower's outputs for `suffix` `[n, s, width]`, each row continuing the
    /// one shared `prefix` `[1, p, width]` (embeddings, positions included). Under the causal
    /// mask the prefix's states do not depend on what follows, so its keys and values are
    /// computed once for all rows instead of once per row: trying 36 endings of one prompt
    /// costs one prompt and 36 endings.
    pub fn forward_after_prefix(
        &self,
        prefix: &Tensor,
        suffix: &Tensor,
    ) -> crate::ml::Result<Tensor> {
        let (n, s, w) = suffix.dims3()?;
        let p = prefix.dim(1)?;
        // Suffix row i sees every prefix position and the suffix up to i.
        let mask: Vec<f32> = (0..s)
            .flat_map(|i| (0..p + s).map(move |j| if j <= p + i { 0.0 } else { f32::NEG_INFINITY }))
            .collect();
        let mask = Tensor::from_vec(mask, (s, p + s), suffix.device())?;
        let (mut xp, mut xs) = (prefix.clone(), suffix.clone());
        for layer in &self.layers {
            let block = &layer.block;
            let h = block.attention.heads;
            let d = w / h;
            let heads =
                |qkv: &Tensor, i: usize, b: usize, t: usize| -> candle_core::Result<Tensor> {
                    qkv.narrow(2, i * w, w)?
                        .reshape((b, t, h, d))?
                        .transpose(1, 2)?
                        .contiguous()
                };
            let qkv_p = block.qkv_proj.forward(&block.layer_norm1.forward(&xp)?)?;
            let qkv_s = block.qkv_proj.forward(&block.layer_norm1.forward(&xs)?)?;
            let shared = |i: usize| -> candle_core::Result<Tensor> {
                heads(&qkv_p, i, 1, p)?
                    .broadcast_as((n, h, p, d))?
                    .contiguous()
            };
            let k = Tensor::cat(&[&shared(1)?, &heads(&qkv_s, 1, n, s)?], 2)?;
            let v = Tensor::cat(&[&shared(2)?, &heads(&qkv_s, 2, n, s)?], 2)?;
            let q = heads(&qkv_s, 0, n, s)?;
            let att = (q.matmul(&k.t()?)? * (d as f64).powf(-0.5))?.broadcast_add(&mask)?;
            let y = softmax_last(&att)?
                .matmul(&v)?
                .transpose(1, 2)?
                .reshape((n, s, w))?;
            xs = Self::mlp_residual(layer, &(&xs + block.out_proj.forward(&y)?)?)?;
            xp = self.block(layer, &xp, true, false)?;
        }
        Ok(xs)
    }
}
