//! AdamW with gradient clipping, as one pass over each weight, in place.
//!
//! Why: candle-nn's `AdamW` builds each update from about a dozen tensor ops, and every one of
//! them reads and writes a new weight-sized tensor: for GPT-2 124M that is some 14 GB of memory
//! traffic and a burst of fresh 150 MB buffers (the embedding) per step, plus two more passes
//! and a copy for clipping. Here the global norm is one read of the gradients, and the update
//! reads the weight, its gradient and both moments once and writes the weight and the moments
//! back where they are, with the clipping factor folded in. The arithmetic is PyTorch's
//! `torch.optim.AdamW` (decoupled weight decay, bias-corrected moments, `eps` added after the
//! square root), which is also candle-nn's.
//!
//! Off the CPU the same update runs as candle-nn's `AdamW` after composed clipping.

use std::cell::RefCell;

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp1, Layout, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rayon::prelude::*;

use crate::ml::kernels::frozen_linear::with_slice;
use crate::ml::Result;

/// Elements per parallel chunk: large enough that a chunk streams, small enough to balance.
const CHUNK: usize = 1 << 16;

/// Where the fused AdamW reads each weight's gradient: candle's `GradStore` after autograd, or
/// the buffers of our own training step.
pub trait Gradients {
    /// Calls `f` with `var`'s gradient; `false` when `var` has none.
    fn with_gradient(
        &self,
        var: &Var,
        f: &mut dyn FnMut(&[f32]) -> candle_core::Result<()>,
    ) -> candle_core::Result<bool>;
}

impl Gradients for GradStore {
    fn with_gradient(
        &self,
        var: &Var,
        f: &mut dyn FnMut(&[f32]) -> candle_core::Result<()>,
    ) -> candle_core::Result<bool> {
        match self.get(var.as_tensor()) {
            Some(g) => with_slice(&g.contiguous()?, |g| f(g)).map(|()| true),
            None => Ok(false),
        }
    }
}

/// The optimiser fine-tuning uses: fused on the CPU, candle-nn's elsewhere.
pub enum Optimiser {
    Fused(FusedAdamW),
    Composed(AdamW),
}

impl Optimiser {
    pub fn new(vars: Vec<Var>, lr: f64, weight_decay: f64) -> Result<Self> {
        let on_cpu = vars.iter().all(|v| v.device().is_cpu());
        let params = ParamsAdamW {
            lr,
            weight_decay,
            ..Default::default()
        };
        Ok(if on_cpu && !crate::ml::kernels::composed_forced() {
            Self::Fused(FusedAdamW::new(vars, params))
        } else {
            Self::Composed(AdamW::new(vars, params)?)
        })
    }

    pub fn set_learning_rate(&mut self, lr: f64) {
        match self {
            Self::Fused(f) => f.params.lr = lr,
            Self::Composed(c) => c.set_learning_rate(lr),
        }
    }

    /// [`Self::step`] from gradients that are not in a `GradStore` (our own training step's
    /// buffers); only the fused optimiser reads those.
    pub fn step_from(&mut self, grads: &dyn Gradients, max_norm: f64) -> Result<f64> {
        match self {
            Self::Fused(f) => f.step(grads, max_norm),
            Self::Composed(_) => Err(crate::ml::Error::Input(
                "the composed optimiser needs autograd's gradients".into(),
            )),
        }
    }

    /// Clips the gradients to a global norm of `max_norm` (0 turns clipping off) and takes one
    /// step. Returns the norm before clipping.
    pub fn step(&mut self, grads: &mut GradStore, vars: &[Var], max_norm: f64) -> Result<f64> {
        match self {
            Self::Fused(f) => f.step(&*grads, max_norm),
            Self::Composed(c) => {
                let norm = clip_composed(grads, vars, max_norm)?;
                c.step(grads)?;
                Ok(norm)
            }
        }
    }
}

/// The factor that brings a gradient of norm `norm` down to `max_norm`, as PyTorch's
/// `clip_grad_norm_` computes it; 1 when no clipping is needed.
fn clip_factor(norm: f64, max_norm: f64) -> f64 {
    if max_norm > 0.0 && norm > max_norm {
        max_norm / (norm + 1e-6)
    } else {
        1.0
    }
}

fn clip_composed(grads: &mut GradStore, vars: &[Var], max_norm: f64) -> Result<f64> {
    let mut total = 0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            total += g
                .sqr()?
                .sum_all()?
                .to_dtype(candle_core::DType::F64)?
                .to_scalar::<f64>()?;
        }
    }
    let norm = total.sqrt();
    let factor = clip_factor(norm, max_norm);
    if factor != 1.0 {
        for v in vars {
            if let Some(g) = grads.get(v.as_tensor()) {
                let scaled = (g * factor)?;
                grads.insert(v.as_tensor(), scaled);
            }
        }
    }
    Ok(norm)
}

/// AdamW whose moments are plain vectors beside the weights they belong to.
pub struct FusedAdamW {
    params: ParamsAdamW,
    vars: Vec<Var>,
    moments: Vec<(Vec<f32>, Vec<f32>)>,
    t: i32,
}

impl FusedAdamW {
    pub fn new(vars: Vec<Var>, params: ParamsAdamW) -> Self {
        // The moments are allocated on the first step that reaches a weight, so a frozen or
        // unused weight costs nothing.
        let moments = vars.iter().map(|_| (Vec::new(), Vec::new())).collect();
        Self {
            params,
            vars,
            moments,
            t: 0,
        }
    }

    /// Squared L2 norm of every gradient together, summed in f64.
    fn squared_norm(&self, grads: &dyn Gradients) -> Result<f64> {
        let mut total = 0f64;
        for var in &self.vars {
            grads.with_gradient(var, &mut |g| {
                total += g
                    .par_chunks(CHUNK)
                    .map(|c| c.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>())
                    .sum::<f64>();
                Ok(())
            })?;
        }
        Ok(total)
    }

    pub fn step(&mut self, grads: &dyn Gradients, max_norm: f64) -> Result<f64> {
        let norm = self.squared_norm(grads)?.sqrt();
        let clip = clip_factor(norm, max_norm) as f32;
        self.t += 1;
        let p = &self.params;
        let coeffs = Coefficients {
            clip,
            beta1: p.beta1 as f32,
            beta2: p.beta2 as f32,
            decay: (1.0 - p.lr * p.weight_decay) as f32,
            step: (p.lr / (1.0 - p.beta1.powi(self.t))) as f32,
            root_bias2: (1.0 - p.beta2.powi(self.t)).sqrt() as f32,
            eps: p.eps as f32,
        };
        for (var, (m, v)) in self.vars.iter().zip(self.moments.iter_mut()) {
            grads.with_gradient(var, &mut |g| {
                if m.is_empty() {
                    *m = vec![0f32; var.elem_count()];
                    *v = vec![0f32; var.elem_count()];
                }
                let update = Update {
                    c: coeffs,
                    grad: g,
                    moments: RefCell::new((m.as_mut_slice(), v.as_mut_slice())),
                };
                var.as_tensor().inplace_op1(&update)
            })?;
        }
        Ok(norm)
    }
}

#[derive(Clone, Copy)]
struct Coefficients {
    clip: f32,
    beta1: f32,
    beta2: f32,
    /// `1 - lr · weight_decay`.
    decay: f32,
    /// `lr / (1 - beta1^t)`.
    step: f32,
    /// `sqrt(1 - beta2^t)`.
    root_bias2: f32,
    eps: f32,
}

impl Coefficients {
    /// One element, in PyTorch's order: decay, the moments, then the bias-corrected step.
    #[inline(always)]
    fn apply(&self, w: &mut f32, g: f32, m: &mut f32, v: &mut f32) {
        let g = g * self.clip;
        *w *= self.decay;
        *m = self.beta1 * *m + (1.0 - self.beta1) * g;
        *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
        let denom = v.sqrt() / self.root_bias2 + self.eps;
        *w -= self.step * *m / denom;
    }
}

/// The in-place update of one weight from its gradient.
struct Update<'a> {
    c: Coefficients,
    grad: &'a [f32],
    moments: RefCell<(&'a mut [f32], &'a mut [f32])>,
}

impl InplaceOp1 for Update<'_> {
    fn name(&self) -> &'static str {
        "adamw-fused"
    }

    fn cpu_fwd(&self, s1: &mut CpuStorage, l1: &Layout) -> candle_core::Result<()> {
        let Some((a, b)) = l1.contiguous_offsets() else {
            candle_core::bail!("the fused AdamW needs contiguous weights")
        };
        let CpuStorage::F32(w) = s1 else {
            candle_core::bail!("the fused AdamW updates f32 weights only")
        };
        let (w, g) = (&mut w[a..b], self.grad);
        let mut moments = self.moments.borrow_mut();
        let (m, v) = &mut *moments;
        if g.len() != w.len() || m.len() != w.len() || v.len() != w.len() {
            candle_core::bail!(
                "the fused AdamW got {} gradients and {} moments for {} weights",
                g.len(),
                m.len(),
                w.len()
            )
        }
        let c = self.c;
        w.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK).zip(v.par_chunks_mut(CHUNK)))
            .for_each(|((w, g), (m, v))| {
                for i in 0..w.len() {
                    c.apply(&mut w[i], g[i], &mut m[i], &mut v[i]);
                }
            });
        Ok(())
    }
}

#[cfg(test)]
#[path = "adamw_tests.rs"]
mod tests;
