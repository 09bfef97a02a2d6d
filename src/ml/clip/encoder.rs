//! The transformer encoder shared by CLIP's text and vision towers (pre-LayerNorm blocks).

use std::collections::BTreeMap;

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use crate::ml::frozen::FrozenLinear as Linear;

use crate::ml::frozen_norm::FrozenLayerNorm as LayerNorm;
use crate::ml::nn::softmax_last;

#[derive(Debug, Clone, Copy)]
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

    fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::QuickGelu => x.broadcast_mul(&candle_nn::ops::sigmoid(&(x * 1.702)?)?),
            Self::GeluErf => x.gelu_erf(),
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
    layer_norm1: LayerNorm,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    layer_norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

#[derive(Debug, Clone)]
pub struct Encoder {
    layers: Vec<Layer>,
    heads: usize,
    act: Activation,
}

/// A frozen linear layer over the last dimension, as one 2-D matmul.
fn linear(layer: &Linear, x: &Tensor) -> Result<Tensor> {
    layer.forward(x)
}

fn load_linear(d_in: usize, d_out: usize, vb: VarBuilder) -> Result<Linear> {
    Linear::from_linear(&candle_nn::linear(d_in, d_out, vb)?)
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
                    layer_norm1: LayerNorm::load(l.pp("layer_norm1"), width, eps)?,
                    q_proj: load_linear(width, width, a.pp("q_proj"))?,
                    k_proj: load_linear(width, width, a.pp("k_proj"))?,
                    v_proj: load_linear(width, width, a.pp("v_proj"))?,
                    out_proj: load_linear(width, width, a.pp("out_proj"))?,
                    layer_norm2: LayerNorm::load(l.pp("layer_norm2"), width, eps)?,
                    fc1: load_linear(width, inner, l.pp("mlp").pp("fc1"))?,
                    fc2: load_linear(inner, width, l.pp("mlp").pp("fc2"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers, heads, act })
    }

    pub fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> crate::ml::Result<Tensor> {
        let mut x = x.clone();
        for layer in &self.layers {
            x = (&x + self.attention(layer, &layer.layer_norm1.forward(&x)?, mask)?)?;
            let h = linear(&layer.fc1, &layer.layer_norm2.forward(&x)?)?;
            x = (&x + linear(&layer.fc2, &self.act.apply(&h)?)?)?;
        }
        Ok(x)
    }

    fn attention(&self, layer: &Layer, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (b, t, e) = x.dims3()?;
        let d = e / self.heads;
        let split = |y: Tensor| -> Result<Tensor> {
            y.reshape((b, t, self.heads, d))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split((linear(&layer.q_proj, x)? * (d as f64).powf(-0.5))?)?;
        let k = split(linear(&layer.k_proj, x)?)?;
        let v = split(linear(&layer.v_proj, x)?)?;
        let mut att = q.matmul(&k.t()?)?;
        if let Some(mask) = mask {
            att = att.broadcast_add(mask)?;
        }
        let y = softmax_last(&att)?.matmul(&v)?;
        linear(&layer.out_proj, &y.transpose(1, 2)?.reshape((b, t, e))?)
    }
}
