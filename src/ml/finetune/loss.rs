//! Next-token cross-entropy as one fused op on the CPU: the mean over rows of
//! `logsumexp(logits) - logits[target]`, whose backward writes `softmax - one_hot` directly.
//!
//! Why: candle_nn's `cross_entropy` is `log_softmax` then `gather`, composed of primitive ops. For
//! GPT-2 every one of those ops makes a `[rows, 50257]` tensor (the max's broadcast, the
//! difference, its exp, the log-softmax, the gather's scatter, their gradients), and the forward
//! ones stay alive until the backward pass ends. At batch 4 × 128 tokens each is 103 MB, and
//! fine-tuning even the 2-layer test model peaked at 1.7 GB. Fused, only the logits and their
//! gradient are vocabulary-sized.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Mean cross-entropy of `logits` `[rows, vocab]` (f32 or f64) against `targets` `[rows]` (u32).
/// Off the CPU, or with composed ops forced, it falls back to candle_nn's composed version,
/// which every device supports.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    if !logits.device().is_cpu() || crate::ml::kernels::composed_forced() {
        return candle_nn::loss::cross_entropy(logits, targets);
    }
    let targets = targets.to_dtype(DType::U32)?.contiguous()?;
    logits.contiguous()?.apply_op2(&targets, CrossEntropy)
}

struct CrossEntropy;

/// `softmax - one_hot`, times `scale`; the backward of [`CrossEntropy`], never differentiated.
struct CrossEntropyGrad {
    scale: f64,
}

/// The row width, where the logits lie in their storage, and the targets, all checked.
fn views<'a>(
    s1: &CpuStorage,
    l1: &Layout,
    s2: &'a CpuStorage,
    l2: &Layout,
) -> Result<(usize, (usize, usize), &'a [u32])> {
    let (rows, vocab) = l1.shape().dims2()?;
    let Some((a, b)) = l2.contiguous_offsets() else {
        candle_core::bail!("cross-entropy needs contiguous targets")
    };
    let CpuStorage::U32(t) = s2 else {
        candle_core::bail!("cross-entropy targets must be u32 token ids")
    };
    let targets = &t[a..b];
    if targets.len() != rows || vocab == 0 {
        candle_core::bail!(
            "cross-entropy got {} targets for {rows} rows of {vocab} logits",
            targets.len()
        )
    }
    if let Some(bad) = targets.iter().find(|&&t| t as usize >= vocab) {
        candle_core::bail!("token id {bad} is outside the vocabulary of {vocab}")
    }
    let Some(span) = l1.contiguous_offsets() else {
        candle_core::bail!("cross-entropy needs contiguous logits")
    };
    if !matches!(s1, CpuStorage::F32(_) | CpuStorage::F64(_)) {
        candle_core::bail!("cross-entropy needs f32 or f64 logits")
    }
    Ok((vocab, span, targets))
}

/// The float types the op takes. f32, the training type, uses the polynomial `exp` and eight
/// accumulator lanes so the loops vectorise; f64 (for the gradient tests) uses the library's.
trait Logit: Copy + Send + Sync + 'static {
    const ZERO: Self;
    fn to_f64(self) -> f64;
    fn from_f64(x: f64) -> Self;
    /// `e^(x - max)` for every `x` of `row`, written to `out` when given, and their sum.
    fn exp_sum(row: &[Self], max: Self, out: Option<&mut [Self]>) -> f64;
    fn max(row: &[Self]) -> Self;
}

const LANES: usize = 8;

impl Logit for f32 {
    const ZERO: Self = 0.0;
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn exp_sum(row: &[f32], max: f32, out: Option<&mut [f32]>) -> f64 {
        let mut lanes = [0f64; LANES];
        match out {
            Some(out) => {
                for (i, (o, &x)) in out.iter_mut().zip(row).enumerate() {
                    *o = lane_exp(&mut lanes, i, x, max);
                }
            }
            None => {
                for (i, &x) in row.iter().enumerate() {
                    lane_exp(&mut lanes, i, x, max);
                }
            }
        }
        lanes.iter().sum()
    }
    fn max(row: &[f32]) -> f32 {
        let mut lanes = [f32::NEG_INFINITY; LANES];
        let chunks = row.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for (m, &x) in lanes.iter_mut().zip(c) {
                *m = m.max(x);
            }
        }
        lanes
            .into_iter()
            .chain(rest.iter().copied())
            .fold(f32::NEG_INFINITY, f32::max)
    }
}

/// `e^(x − max)`, its share added to lane `i % LANES` of the sum.
#[inline(always)]
fn lane_exp(lanes: &mut [f64; LANES], i: usize, x: f32, max: f32) -> f32 {
    let e = crate::ml::kernels::fast_math::exp(x - max);
    lanes[i % LANES] += e as f64;
    e
}

/// Replaces one f32 row of logits by `scale · (softmax − one_hot(target))` in place, with one
/// pass of `exp`, and returns the row's loss, `logsumexp − logit[target]`: what
/// [`gradient`] writes to a new buffer, for callers that keep only the gradient (the fused
/// head). A NaN anywhere gives a NaN loss, so divergence shows.
pub(crate) fn to_gradient_in_place(row: &mut [f32], target: usize, scale: f64) -> f64 {
    let max = <f32 as Logit>::max(row);
    let own = row[target];
    let mut lanes = [0f64; LANES];
    for (i, x) in row.iter_mut().enumerate() {
        *x = lane_exp(&mut lanes, i, *x, max);
    }
    let sum: f64 = lanes.iter().sum();
    let k = (scale / sum) as f32;
    row.iter_mut().for_each(|x| *x *= k);
    row[target] -= scale as f32;
    (max as f64 - own as f64) + sum.ln()
}

impl Logit for f64 {
    const ZERO: Self = 0.0;
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(x: f64) -> Self {
        x
    }
    fn exp_sum(row: &[f64], max: f64, out: Option<&mut [f64]>) -> f64 {
        match out {
            Some(out) => {
                let mut sum = 0.0;
                for (o, &x) in out.iter_mut().zip(row) {
                    *o = (x - max).exp();
                    sum += *o;
                }
                sum
            }
            None => row.iter().map(|&x| (x - max).exp()).sum(),
        }
    }
    fn max(row: &[f64]) -> f64 {
        row.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

/// `log Σ e^x` of one row: its max plus the log of the shifted sum, so nothing overflows.
/// A NaN anywhere in the row makes the sum NaN, so a diverged model shows as a NaN loss.
fn log_sum_exp<T: Logit>(row: &[T]) -> f64 {
    let max = T::max(row);
    max.to_f64() + T::exp_sum(row, max, None).ln()
}

fn mean_loss<T: Logit>(logits: &[T], vocab: usize, targets: &[u32]) -> f64 {
    let total: f64 = logits
        .par_chunks(vocab)
        .zip(targets.par_iter())
        .map(|(row, &t)| log_sum_exp(row) - row[t as usize].to_f64())
        .sum();
    total / targets.len() as f64
}

/// `scale · (softmax(row) - one_hot(target))` for every row.
fn gradient<T: Logit>(logits: &[T], vocab: usize, targets: &[u32], scale: f64) -> Vec<T> {
    let mut out = vec![T::ZERO; logits.len()];
    out.par_chunks_mut(vocab)
        .zip(logits.par_chunks(vocab).zip(targets.par_iter()))
        .for_each(|(g, (row, &t))| {
            // One pass of exp: write the shifted exponentials, then normalise them in place.
            let max = T::max(row);
            let k = scale / T::exp_sum(row, max, Some(g));
            for gi in g.iter_mut() {
                *gi = T::from_f64(gi.to_f64() * k);
            }
            let own = g[t as usize].to_f64();
            g[t as usize] = T::from_f64(own - scale);
        });
    out
}

impl CustomOp2 for CrossEntropy {
    fn name(&self) -> &'static str {
        "cross-entropy"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (vocab, (a, b), targets) = views(s1, l1, s2, l2)?;
        let out = match s1 {
            CpuStorage::F32(v) => CpuStorage::F32(vec![mean_loss(&v[a..b], vocab, targets) as f32]),
            CpuStorage::F64(v) => CpuStorage::F64(vec![mean_loss(&v[a..b], vocab, targets)]),
            _ => candle_core::bail!("cross-entropy needs f32 or f64 logits"),
        };
        Ok((out, Shape::from(())))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let rows = logits.dim(0)?;
        let upstream = grad_res.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        let grad = logits.apply_op2_no_bwd(
            targets,
            &CrossEntropyGrad {
                scale: upstream / rows as f64,
            },
        )?;
        Ok((Some(grad), None))
    }
}

impl CustomOp2 for CrossEntropyGrad {
    fn name(&self) -> &'static str {
        "cross-entropy-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (vocab, (a, b), targets) = views(s1, l1, s2, l2)?;
        let out = match s1 {
            CpuStorage::F32(v) => CpuStorage::F32(gradient(&v[a..b], vocab, targets, self.scale)),
            CpuStorage::F64(v) => CpuStorage::F64(gradient(&v[a..b], vocab, targets, self.scale)),
            _ => candle_core::bail!("cross-entropy needs f32 or f64 logits"),
        };
        Ok((out, l1.shape().clone()))
    }
}

#[cfg(test)]
#[path = "loss_tests.rs"]
mod tests;
