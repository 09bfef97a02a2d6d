//! GroupNorm (optionally followed by swish) and LayerNorm with frozen affine weights, each as
//! one op with a hand-written input-gradient backward.
//!
//! candle 0.11's norms are chains of about a dozen broadcast ops (its fused LayerNorm has no
//! backward at all), each keeping a full-size activation for its backward pass; on the VQGAN
//! decoder at 256² that was most of the backward's time and memory. These ops keep only their
//! input, recompute the statistics in the backward pass, and return
//! `dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂))` per normalised block, with `dx̂ = γ · dy` and,
//! after swish, `dy = dout · σ(y) · (1 + y · (1 − σ(y)))`. Trainable norms (GPT-2 fine-tuning)
//! keep the composed [`crate::ml::kernels::nn::LayerNorm`].

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use candle_nn::{GroupNorm, Module, VarBuilder};
use rayon::prelude::*;

use crate::ml::kernels::fast_math::sigmoid;
use crate::ml::kernels::norm_stats::{lane_sum, stats, LANES, SPAN};

#[derive(Debug, Clone)]
pub struct FrozenGroupNorm {
    plain: GroupNorm,
    weight: Vec<f32>,
    bias: Vec<f32>,
    groups: usize,
    eps: f64,
}

impl FrozenGroupNorm {
    pub fn load(groups: usize, channels: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get(channels, "weight")?;
        let bias = vb.get(channels, "bias")?;
        let plain = GroupNorm::new(weight.clone(), bias.clone(), channels, groups, eps)?;
        Ok(Self {
            weight: weight.to_dtype(candle_core::DType::F32)?.to_vec1()?,
            bias: bias.to_dtype(candle_core::DType::F32)?.to_vec1()?,
            plain,
            groups,
            eps,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.apply(x, false)
    }

    /// `swish(groupnorm(x))`, the pair every ResnetBlock and decoder tail uses.
    pub fn forward_swish(&self, x: &Tensor) -> Result<Tensor> {
        self.apply(x, true)
    }

    /// `swish(groupnorm(x))` over a contiguous `[n, c, h, w]` slice, for ops that run several
    /// layers themselves.
    pub(crate) fn swish_slice(&self, x: &[f32], shape: &Shape) -> Result<Vec<f32>> {
        self.op(true).forward_slice(x, shape)
    }

    /// The input gradient of [`Self::swish_slice`].
    pub(crate) fn swish_grad_slice(
        &self,
        x: &[f32],
        dout: &[f32],
        shape: &Shape,
    ) -> Result<Vec<f32>> {
        self.op(true).backward_slice(x, dout, shape)
    }

    fn op(&self, swish: bool) -> FusedOp {
        FusedOp {
            norm: self.clone(),
            swish,
            rows: false,
        }
    }

    fn apply(&self, x: &Tensor, swish: bool) -> Result<Tensor> {
        if !crate::ml::kernels::use_fused(x) || x.rank() != 4 {
            let y = self.plain.forward(x)?;
            return if swish { y.silu() } else { Ok(y) };
        }
        x.contiguous()?.apply_op1(FusedOp {
            norm: self.clone(),
            swish,
            rows: false,
        })
    }
}

/// The op as candle stores it in the graph (owning a copy of the small weight vectors).
#[derive(Debug, Clone)]
struct FusedOp {
    norm: FrozenGroupNorm,
    swish: bool,
    /// LayerNorm: every row of the last dimension is a block, and its index is the channel.
    rows: bool,
}

fn slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        _ => candle_core::bail!("the fused GroupNorm needs a contiguous f32 tensor"),
    }
}

impl FusedOp {
    /// The forward pass over a contiguous tensor of `shape`.
    fn forward_slice(&self, x: &[f32], shape: &Shape) -> Result<Vec<f32>> {
        let (g, cpg, hw) = self.geometry(shape)?;
        if x.len() != shape.elem_count() {
            candle_core::bail!("the GroupNorm input has the wrong size")
        }
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(cpg * hw)
            .zip(x.par_chunks(cpg * hw))
            .enumerate()
            .for_each(|(block, (o, xs))| {
                let (mean, rstd) = stats(xs, self.norm.eps);
                // One channel at a time, so the affine factors are constants of the inner loop.
                for (j, (o, xs)) in o.chunks_mut(hw).zip(xs.chunks(hw)).enumerate() {
                    let c = (block % g) * cpg + j;
                    // Centred first: folding the mean into the shift cancels badly when a
                    // group's variance is tiny and rstd large.
                    let scale = rstd * self.norm.weight[c];
                    let shift = self.norm.bias[c];
                    if self.swish {
                        for (ov, &xv) in o.iter_mut().zip(xs) {
                            let y = (xv - mean) * scale + shift;
                            *ov = y * sigmoid(y);
                        }
                    } else {
                        for (ov, &xv) in o.iter_mut().zip(xs) {
                            *ov = (xv - mean) * scale + shift;
                        }
                    }
                }
            });
        Ok(out)
    }

    /// The input gradient, `(x, dout) → dx`, over contiguous tensors of `shape`.
    fn backward_slice(&self, x: &[f32], dout: &[f32], shape: &Shape) -> Result<Vec<f32>> {
        if x.len() != dout.len() {
            candle_core::bail!("the GroupNorm gradient has the wrong shape")
        }
        let (g, cpg, hw) = self.geometry(shape)?;
        let mut dx = vec![0f32; x.len()];
        dx.par_chunks_mut(cpg * hw)
            .zip(x.par_chunks(cpg * hw).zip(dout.par_chunks(cpg * hw)))
            .enumerate()
            .for_each(|(block, (d, (xs, ds)))| {
                let (mean, rstd) = stats(xs, self.norm.eps);
                // First pass, a channel at a time: dx̂ into the output buffer.
                for (j, ((d, xs), ds)) in d
                    .chunks_mut(hw)
                    .zip(xs.chunks(hw))
                    .zip(ds.chunks(hw))
                    .enumerate()
                {
                    let c = (block % g) * cpg + j;
                    let gamma = self.norm.weight[c];
                    if self.swish {
                        let scale = rstd * gamma;
                        let shift = self.norm.bias[c];
                        for ((dv, &xv), &gv) in d.iter_mut().zip(xs).zip(ds) {
                            let y = (xv - mean) * scale + shift;
                            let s = sigmoid(y);
                            *dv = gv * s * (1.0 + y * (1.0 - s)) * gamma;
                        }
                    } else {
                        for (dv, &gv) in d.iter_mut().zip(ds) {
                            *dv = gv * gamma;
                        }
                    }
                }
                // The two group sums, Σ dx̂ and Σ dx̂·x̂, with x̂ = (x − mean)·rstd.
                let m = xs.len() as f64;
                let sum_g = lane_sum(d, |v| v);
                let mut sum_gx = 0f64;
                for (dc, xc) in d.chunks(SPAN).zip(xs.chunks(SPAN)) {
                    let mut acc = [0f32; LANES];
                    for (i, (dv, xv)) in dc.iter().zip(xc).enumerate() {
                        acc[i % LANES] += dv * (xv - mean) * rstd;
                    }
                    sum_gx += acc.iter().map(|&a| a as f64).sum::<f64>();
                }
                let (mean_g, mean_gx) = ((sum_g / m) as f32, (sum_gx / m) as f32);
                for (dv, &xv) in d.iter_mut().zip(xs) {
                    let xhat = (xv - mean) * rstd;
                    *dv = rstd * (*dv - mean_g - xhat * mean_gx);
                }
            });
        Ok(dx)
    }

    /// `(groups per image, channels per group, elements per channel)`: for a `[n, c, h, w]`
    /// input; for LayerNorm, one group of `d` channels of one element, per row.
    fn geometry(&self, shape: &Shape) -> Result<(usize, usize, usize)> {
        if self.rows {
            let d = shape.dims().last().copied().unwrap_or(0);
            if d != self.norm.weight.len() {
                candle_core::bail!(
                    "LayerNorm over {} features got rows of {d}",
                    self.norm.weight.len()
                )
            }
            return Ok((1, d, 1));
        }
        let (_, c, h, w) = shape.dims4()?;
        let g = self.norm.groups;
        if g == 0 || c % g != 0 {
            candle_core::bail!("{c} channels do not split into {g} groups")
        }
        Ok((g, c / g, h * w))
    }
}

impl CustomOp1 for FusedOp {
    fn name(&self) -> &'static str {
        "frozen-group-norm"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = self.forward_slice(slice(storage, layout)?, layout.shape())?;
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        Ok(Some(arg.apply_op2_no_bwd(&grad, self)?))
    }
}

/// The input gradient: `(x, dout) → dx`.
impl CustomOp2 for FusedOp {
    fn name(&self) -> &'static str {
        "frozen-group-norm-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dx = self.backward_slice(slice(s1, l1)?, slice(s2, l2)?, l1.shape())?;
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

/// LayerNorm over the last dimension with frozen weights (CLIP's towers).
#[derive(Debug, Clone)]
pub struct FrozenLayerNorm {
    inner: FrozenGroupNorm,
    plain: crate::ml::kernels::nn::LayerNorm,
}

impl FrozenLayerNorm {
    pub fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        let weight = vb.get(size, "weight")?;
        let bias = vb.get(size, "bias")?;
        Ok(Self {
            inner: FrozenGroupNorm {
                plain: GroupNorm::new(weight.clone(), bias.clone(), size, 1, eps)?,
                weight: weight.to_dtype(candle_core::DType::F32)?.to_vec1()?,
                bias: bias.to_dtype(candle_core::DType::F32)?.to_vec1()?,
                groups: 1,
                eps,
            },
            plain: crate::ml::kernels::nn::LayerNorm::load(vb, size, eps)?,
        })
    }

    /// The frozen affine parameters and epsilon, for ops that normalise rows themselves.
    pub(crate) fn rows(&self) -> crate::ml::kernels::layer_norm_rows::RowNorm<'_> {
        crate::ml::kernels::layer_norm_rows::RowNorm {
            weight: &self.inner.weight,
            bias: &self.inner.bias,
            eps: self.inner.eps,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !crate::ml::kernels::use_fused(x) {
            return self.plain.forward_composed(x);
        }
        x.contiguous()?.apply_op1(FusedOp {
            norm: self.inner.clone(),
            swish: false,
            rows: true,
        })
    }
}

#[cfg(test)]
#[path = "frozen_norm_tests.rs"]
mod tests;
