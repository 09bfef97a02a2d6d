//! taming-transformers' building blocks: GroupNorm(32)+swish, ResnetBlock, AttnBlock and the
//! resolution changers, from ops whose backward passes are correct in candle 0.11.

use std::collections::BTreeMap;

use candle_core::{Module, Result, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, VarBuilder};

use super::resnet_op::FusedResnet;
pub use super::upsample::upsample_nearest_x2;
use crate::ml::kernels::frozen::FrozenConv2d;
use crate::ml::kernels::frozen_norm::FrozenGroupNorm as GroupNorm;
use crate::ml::kernels::nn::softmax_last;

const GROUPS: usize = 32;
const EPS: f64 = 1e-6;

fn norm(vb: VarBuilder, channels: usize) -> Result<GroupNorm> {
    GroupNorm::load(GROUPS, channels, EPS, vb)
}

/// A convolution of the frozen model: stride-1 ones take the input-gradient-only path.
#[derive(Debug, Clone)]
pub enum Conv {
    Frozen(FrozenConv2d),
    Plain(Conv2d),
}

impl Conv {
    /// See [`FrozenConv2d::switch_to_bf16`]; a plain convolution stays f32 (`false`).
    pub fn switch_to_bf16(&mut self) -> Result<bool> {
        match self {
            Self::Frozen(c) => c.switch_to_bf16(),
            Self::Plain(_) => Ok(false),
        }
    }
}

impl Module for Conv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::Frozen(c) => c.forward(x),
            Self::Plain(c) => c.forward(x),
        }
    }
}

pub fn conv(vb: VarBuilder, c_in: usize, c_out: usize, k: usize, stride: usize) -> Result<Conv> {
    let cfg = Conv2dConfig {
        padding: if k == 3 && stride == 1 { 1 } else { 0 },
        stride,
        ..Default::default()
    };
    let plain = candle_nn::conv2d(c_in, c_out, k, cfg, vb)?;
    Ok(match FrozenConv2d::from_conv(&plain)? {
        Some(frozen) => Conv::Frozen(frozen),
        None => Conv::Plain(plain),
    })
}

/// Key names and shapes a block reads, for checkpoint checks.
pub fn norm_keys(keys: &mut BTreeMap<String, Vec<usize>>, p: &str, c: usize) {
    keys.insert(format!("{p}.weight"), vec![c]);
    keys.insert(format!("{p}.bias"), vec![c]);
}

pub fn conv_keys(
    keys: &mut BTreeMap<String, Vec<usize>>,
    p: &str,
    c_in: usize,
    c_out: usize,
    k: usize,
) {
    keys.insert(format!("{p}.weight"), vec![c_out, c_in, k, k]);
    keys.insert(format!("{p}.bias"), vec![c_out]);
}

#[derive(Debug, Clone)]
pub struct ResnetBlock {
    norm1: GroupNorm,
    conv1: Conv,
    norm2: GroupNorm,
    conv2: Conv,
    nin_shortcut: Option<Conv>,
}

impl ResnetBlock {
    pub fn load(vb: VarBuilder, c_in: usize, c_out: usize) -> Result<Self> {
        Ok(Self {
            norm1: norm(vb.pp("norm1"), c_in)?,
            conv1: conv(vb.pp("conv1"), c_in, c_out, 3, 1)?,
            norm2: norm(vb.pp("norm2"), c_out)?,
            conv2: conv(vb.pp("conv2"), c_out, c_out, 3, 1)?,
            nin_shortcut: if c_in != c_out {
                Some(conv(vb.pp("nin_shortcut"), c_in, c_out, 1, 1)?)
            } else {
                None
            },
        })
    }

    /// Both 3×3 convolutions' products in bf16 (see [`Conv::switch_to_bf16`]).
    pub fn switch_to_bf16(&mut self) -> Result<bool> {
        Ok(self.conv1.switch_to_bf16()? && self.conv2.switch_to_bf16()?)
    }

    pub fn keys(keys: &mut BTreeMap<String, Vec<usize>>, p: &str, c_in: usize, c_out: usize) {
        norm_keys(keys, &format!("{p}.norm1"), c_in);
        conv_keys(keys, &format!("{p}.conv1"), c_in, c_out, 3);
        norm_keys(keys, &format!("{p}.norm2"), c_out);
        conv_keys(keys, &format!("{p}.conv2"), c_out, c_out, 3);
        if c_in != c_out {
            conv_keys(keys, &format!("{p}.nin_shortcut"), c_in, c_out, 1);
        }
    }

    /// The block as one op when every convolution is a frozen CPU one.
    fn fused(&self) -> Option<FusedResnet> {
        let frozen = |c: &Conv| match c {
            Conv::Frozen(f) if f.on_cpu() => Some(f.clone()),
            _ => None,
        };
        Some(FusedResnet {
            norm1: self.norm1.clone(),
            conv1: frozen(&self.conv1)?,
            norm2: self.norm2.clone(),
            conv2: frozen(&self.conv2)?,
            nin_shortcut: match &self.nin_shortcut {
                Some(s) => Some(frozen(s)?),
                None => None,
            },
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if let Some(fused) = self.fused() {
            if let Some(y) = fused.forward(x)? {
                return Ok(y);
            }
        }
        self.forward_composed(x)
    }

    /// The block from its layers' own ops: off the CPU, and as the tests' reference.
    pub fn forward_composed(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(&self.norm1.forward_swish(x)?)?;
        let h = self.conv2.forward(&self.norm2.forward_swish(&h)?)?;
        match &self.nin_shortcut {
            Some(s) => s.forward(x)? + h,
            None => x + h,
        }
    }
}

/// Single-head self-attention over all h*w positions, with 1x1-conv projections.
#[derive(Debug, Clone)]
pub struct AttnBlock {
    norm: GroupNorm,
    q: Conv,
    k: Conv,
    v: Conv,
    proj_out: Conv,
}

impl AttnBlock {
    pub fn load(vb: VarBuilder, c: usize) -> Result<Self> {
        Ok(Self {
            norm: norm(vb.pp("norm"), c)?,
            q: conv(vb.pp("q"), c, c, 1, 1)?,
            k: conv(vb.pp("k"), c, c, 1, 1)?,
            v: conv(vb.pp("v"), c, c, 1, 1)?,
            proj_out: conv(vb.pp("proj_out"), c, c, 1, 1)?,
        })
    }

    pub fn keys(keys: &mut BTreeMap<String, Vec<usize>>, p: &str, c: usize) {
        norm_keys(keys, &format!("{p}.norm"), c);
        for name in ["q", "k", "v", "proj_out"] {
            conv_keys(keys, &format!("{p}.{name}"), c, c, 1);
        }
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let hn = self.norm.forward(x)?;
        let q = self
            .q
            .forward(&hn)?
            .reshape((b, c, h * w))?
            .transpose(1, 2)?;
        let k = self.k.forward(&hn)?.reshape((b, c, h * w))?;
        let v = self.v.forward(&hn)?.reshape((b, c, h * w))?;
        let att = softmax_last(&(q.matmul(&k)? * (c as f64).powf(-0.5))?)?;
        // out[c, i] = sum_j v[c, j] * att[i, j]
        let out = v.matmul(&att.transpose(1, 2)?)?.reshape((b, c, h, w))?;
        x + self.proj_out.forward(&out)?
    }
}

/// Nearest-neighbour x2 then a 3x3 conv. The upsampling is our own op rather than candle's
/// `upsample_nearest2d`, whose backward overwrites instead of accumulating gradients.
#[derive(Debug, Clone)]
pub struct Upsample {
    conv: Conv,
}

impl Upsample {
    pub fn load(vb: VarBuilder, c: usize) -> Result<Self> {
        Ok(Self {
            conv: conv(vb.pp("conv"), c, c, 3, 1)?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv.forward(&upsample_nearest_x2(x)?)
    }

    pub fn switch_to_bf16(&mut self) -> Result<bool> {
        self.conv.switch_to_bf16()
    }
}

/// Zero pad right and bottom by one, then a 3x3 stride-2 conv without padding.
#[derive(Debug, Clone)]
pub struct Downsample {
    conv: Conv,
}

impl Downsample {
    pub fn load(vb: VarBuilder, c: usize) -> Result<Self> {
        Ok(Self {
            conv: conv(vb.pp("conv"), c, c, 3, 2)?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.pad_with_zeros(3, 0, 1)?.pad_with_zeros(2, 0, 1)?;
        self.conv.forward(&x)
    }
}

/// GroupNorm, swish, then a conv: the tail of encoder and decoder.
pub fn norm_swish(n: &GroupNorm, x: &Tensor) -> Result<Tensor> {
    n.forward_swish(x)
}

pub fn load_norm(vb: VarBuilder, c: usize) -> Result<GroupNorm> {
    norm(vb, c)
}
