//! The transformer encoder shared by CLIP's text and vision towers (pre-LayerNorm blocks).

use std::collections::BTreeMap;

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::block::Block;
use crate::ml::kernels::attention::Attention;
use crate::ml::kernels::frozen_linear::FrozenLinear as Linear;
use crate::ml::kernels::frozen_mlp::FrozenMlp;
use crate::ml::kernels::frozen_norm::FrozenLayerNorm as LayerNorm;

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

    /// Moves every block's products to bf16 (see `FrozenLinear::switch_to_bf16`); `false`, with
    /// nothing changed, where no bf16 kernel runs.
    pub fn switch_to_bf16(&mut self) -> Result<bool> {
        for layer in &mut self.layers {
            let b = &mut layer.block;
            for linear in [&mut b.qkv_proj, &mut b.out_proj, &mut b.fc1, &mut b.fc2] {
                if !linear.switch_to_bf16()? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
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
        let a = block.layer_norm2.forward(&x)?;
        let h = match layer.act {
            Activation::QuickGelu => {
                FrozenMlp::new(block.fc1.clone(), block.fc2.clone()).forward(&a)?
            }
            Activation::GeluErf => block.fc2.forward(&block.fc1.forward(&a)?.gelu_erf()?)?,
        };
        &x + h
    }
}
