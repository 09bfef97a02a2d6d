//! GPT-2's language-model head and the next-token cross-entropy as one op on the CPU.
//!
//! Why: composed, the head's `[rows, vocab]` logits are a tensor kept for the backward pass,
//! the loss's gradient is a second one, and candle's autograd adds a zero-filled third (and
//! the sum into it) before the head's backward can run: four 103 MB buffers per step at
//! batch 4 × 128, and the head's weight gradient arrives transposed, so it is added into the
//! embedding's gradient with a strided pass over 154 MB. Here the forward pass turns the
//! logits into `softmax − one_hot` in place as it measures the loss, keeps only that, and the
//! backward pass runs the two products straight from it: `dh = G W` and `dW = Gᵀ h`, the
//! latter already in the weight's own `[vocab, n_embd]` layout.
//!
//! Off the CPU (and for f64) the head and the loss run as their composed ops.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::ml::finetune::loss::to_gradient_in_place;
use crate::ml::kernels::frozen_linear::{f32_span, with_slice};
use crate::ml::kernels::gemm_view::{matmul, parallel, View, ViewMut};

/// Mean cross-entropy of `hidden` `[rows, e]` projected by `weight` `[vocab, e]` against
/// `targets` (one per row).
pub fn head_cross_entropy(hidden: &Tensor, weight: &Tensor, targets: &[u32]) -> Result<Tensor> {
    let (rows, e) = hidden.dims2()?;
    let (vocab, we) = weight.dims2()?;
    if we != e || targets.len() != rows {
        candle_core::bail!(
            "the head got {rows} rows of {e} features, {} targets and a {vocab}×{we} weight",
            targets.len()
        )
    }
    if let Some(bad) = targets.iter().find(|&&t| t as usize >= vocab) {
        candle_core::bail!("token id {bad} is outside the vocabulary of {vocab}")
    }
    let op = HeadLoss {
        targets: targets.to_vec(),
        gradient: Mutex::new(None),
    };
    hidden.contiguous()?.apply_op2(&weight.contiguous()?, op)
}

struct HeadLoss {
    targets: Vec<u32>,
    /// `softmax − one_hot` per row, left by the forward pass for the backward pass.
    gradient: Mutex<Option<Vec<f32>>>,
}

impl HeadLoss {
    fn run(&self, h: &[f32], w: &[f32], e: usize) -> (Vec<f32>, f64) {
        let mut g = Vec::new();
        // The upstream factor is known only in the backward pass, which applies it.
        let loss = logits_to_gradient(h, w, e, &self.targets, 1.0, &mut g);
        (g, loss)
    }
}

/// The logits of `h` `[rows, e]` under `w` `[vocab, e]`, written into `g` (resized to
/// `[rows, vocab]`) and turned into `scale · (softmax − one_hot(target))` in place; returns the
/// mean loss. `g` may be a buffer kept from the last step.
pub(crate) fn logits_to_gradient(
    h: &[f32],
    w: &[f32],
    e: usize,
    targets: &[u32],
    scale: f64,
    g: &mut Vec<f32>,
) -> f64 {
    let rows = targets.len();
    let vocab = w.len() / e.max(1);
    g.resize(rows * vocab, 0.0);
    matmul(
        ViewMut::rows(g, rows, vocab, vocab),
        View::rows(h, rows, e, e),
        View::rows(w, vocab, e, e).t(),
        false,
        parallel(),
    );
    let total: f64 = g
        .par_chunks_mut(vocab.max(1))
        .zip(targets.par_iter())
        .map(|(row, &t)| to_gradient_in_place(row, t as usize, scale))
        .sum();
    total / rows.max(1) as f64
}

impl CustomOp2 for HeadLoss {
    fn name(&self) -> &'static str {
        "head-cross-entropy"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (h, w) = (
            f32_span(s1, l1, "the fused head")?,
            f32_span(s2, l2, "the fused head")?,
        );
        let (_, e) = l1.shape().dims2()?;
        let (g, loss) = self.run(h, w, e);
        *self
            .gradient
            .lock()
            .map_err(|_| candle_core::Error::Msg("the head's gradient is locked".into()))? =
            Some(g);
        Ok((CpuStorage::F32(vec![loss as f32]), Shape::from(())))
    }

    fn bwd(
        &self,
        hidden: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (rows, e) = hidden.dims2()?;
        let (vocab, _) = weight.dims2()?;
        let scale = grad_res.to_dtype(DType::F64)?.to_scalar::<f64>()? / rows.max(1) as f64;
        let kept = self
            .gradient
            .lock()
            .map_err(|_| candle_core::Error::Msg("the head's gradient is locked".into()))?
            .take();
        // A second backward over the same graph finds the buffer gone and recomputes it.
        let mut g = match kept {
            Some(g) => g,
            None => with_slice(hidden, |h| with_slice(weight, |w| Ok(self.run(h, w, e).0)))?,
        };
        let scale = scale as f32;
        g.par_chunks_mut(vocab.max(1))
            .for_each(|row| row.iter_mut().for_each(|x| *x *= scale));
        let (mut dh, mut dw) = (vec![0f32; rows * e], vec![0f32; vocab * e]);
        with_slice(hidden, |h| {
            with_slice(weight, |w| {
                let g = View::rows(&g, rows, vocab, vocab);
                matmul(
                    ViewMut::rows(&mut dh, rows, e, e),
                    g,
                    View::rows(w, vocab, e, e),
                    false,
                    parallel(),
                );
                matmul(
                    ViewMut::rows(&mut dw, vocab, e, e),
                    g.t(),
                    View::rows(h, rows, e, e),
                    false,
                    parallel(),
                );
                Ok(())
            })
        })?;
        drop(g);
        Ok((
            Some(Tensor::from_vec(dh, (rows, e), hidden.device())?),
            Some(Tensor::from_vec(dw, (vocab, e), weight.device())?),
        ))
    }
}

#[cfg(test)]
#[path = "head_loss_tests.rs"]
mod tests;
