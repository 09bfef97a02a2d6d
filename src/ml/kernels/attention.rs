//! Multi-head self-attention over a packed `[batch, seq, 3 × width]` QKV tensor, as one op
//! (CLIP's towers, BLIP's vision tower).
//!
//! Composed from candle ops, attention stores the split heads, the scores, and each step of
//! the softmax for the backward pass, and its softmax is built from five elementwise ops
//! (candle's fused one has no backward). For CLIP's 50 tokens the score matrices are tiny, so
//! this op keeps nothing: its backward recomputes each head's probabilities from the QKV input
//! and applies `dS = P ⊙ (dP − rowsum(dP ⊙ P))`. Heads are read in place from the packed rows
//! and written in place into the merged output, so no transposed copies are made either.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Storage, Tensor, D};
use gemm::Parallelism;
use rayon::prelude::*;

use crate::ml::kernels::gemm_view::{matmul, View, ViewMut};
use crate::ml::kernels::nn::softmax_last;

/// Attention with `heads` heads; `causal` hides later positions (CLIP's text tower).
#[derive(Debug, Clone, Copy)]
pub struct Attention {
    pub heads: usize,
    pub causal: bool,
}

impl Attention {
    /// `qkv` `[b, t, 3e]` (queries, keys, values side by side) to `[b, t, e]`, heads merged.
    pub fn forward(&self, qkv: &Tensor) -> Result<Tensor> {
        let (_, _, e3) = qkv.dims3()?;
        if e3 % (3 * self.heads) != 0 {
            candle_core::bail!(
                "{e3} QKV features do not split into 3 × {} heads",
                self.heads
            );
        }
        if crate::ml::kernels::use_fused(qkv) {
            qkv.contiguous()?.apply_op1(*self)
        } else {
            self.forward_plain(qkv)
        }
    }

    /// The same attention from plain candle ops: off the CPU, and as the tests' reference.
    pub fn forward_plain(&self, qkv: &Tensor) -> Result<Tensor> {
        let (b, t, e3) = qkv.dims3()?;
        let (e, h) = (e3 / 3, self.heads);
        let d = e / h;
        let head = |i: usize| -> Result<Tensor> {
            qkv.narrow(D::Minus1, i * e, e)?
                .reshape((b, t, h, d))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (head(0)?, head(1)?, head(2)?);
        let mut att = (q.matmul(&k.t()?)? * (d as f64).powf(-0.5))?;
        if self.causal {
            att = att.broadcast_add(&causal_mask(t, qkv.device())?)?;
        }
        let y = softmax_last(&att)?.matmul(&v)?;
        y.transpose(1, 2)?.reshape((b, t, e))
    }
}

fn causal_mask(t: usize, device: &candle_core::Device) -> Result<Tensor> {
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| (0..t).map(move |j| if j <= i { 0.0 } else { f32::NEG_INFINITY }))
        .collect();
    Tensor::from_vec(mask, (t, t), device)
}

/// Sizes of one call.
#[derive(Clone, Copy)]
struct Dims {
    t: usize,
    e: usize,
    d: usize,
    scale: f32,
    causal: bool,
}

impl Dims {
    /// Row-major `[t, d]` view of head `h` of part `part` (0 queries, 1 keys, 2 values).
    fn head<'a>(&self, qkv: &'a [f32], part: usize, h: usize) -> View<'a> {
        View::rows(
            &qkv[part * self.e + h * self.d..],
            self.t,
            self.d,
            3 * self.e,
        )
    }

    /// The probabilities `softmax(scale · Q Kᵀ)` of head `h`, `[t, t]`.
    fn probabilities(&self, qkv: &[f32], h: usize, p: &mut [f32]) {
        let t = self.t;
        let (q, k) = (self.head(qkv, 0, h), self.head(qkv, 1, h));
        matmul(
            ViewMut::rows(p, t, t, t),
            q,
            k.t(),
            false,
            Parallelism::None,
        );
        for (i, row) in p.chunks_exact_mut(t).enumerate() {
            let visible = if self.causal { i + 1 } else { t };
            let max = row[..visible]
                .iter()
                .fold(f32::NEG_INFINITY, |m, &v| m.max(v * self.scale));
            let mut sum = 0f32;
            for v in &mut row[..visible] {
                *v = crate::ml::kernels::fast_math::exp(*v * self.scale - max);
                sum += *v;
            }
            row[..visible].iter_mut().for_each(|v| *v /= sum);
            row[visible..].iter_mut().for_each(|v| *v = 0.0);
        }
    }

    /// One batch item: `qkv` `[t, 3e]` to `out` `[t, e]`.
    fn forward(&self, qkv: &[f32], out: &mut [f32]) {
        let (t, e, d) = (self.t, self.e, self.d);
        let mut p = vec![0f32; t * t];
        for h in 0..e / d {
            self.probabilities(qkv, h, &mut p);
            matmul(
                ViewMut::rows(&mut out[h * d..], t, d, e),
                View::rows(&p, t, t, t),
                self.head(qkv, 2, h),
                false,
                Parallelism::None,
            );
        }
    }

    /// [`Self::forward`] with the heads computed in parallel, each into its own `[t, d]`
    /// block, then merged into `out`'s columns.
    fn forward_heads_parallel(&self, qkv: &[f32], out: &mut [f32]) {
        let (t, e, d) = (self.t, self.e, self.d);
        let heads: Vec<Vec<f32>> = (0..e / d)
            .into_par_iter()
            .map(|h| {
                let mut p = vec![0f32; t * t];
                self.probabilities(qkv, h, &mut p);
                let mut y = vec![0f32; t * d];
                matmul(
                    ViewMut::rows(&mut y, t, d, d),
                    View::rows(&p, t, t, t),
                    self.head(qkv, 2, h),
                    false,
                    Parallelism::None,
                );
                y
            })
            .collect();
        for (h, y) in heads.iter().enumerate() {
            for (row, src) in out.chunks_exact_mut(e).zip(y.chunks_exact(d)) {
                row[h * d..(h + 1) * d].copy_from_slice(src);
            }
        }
    }

    /// One batch item's gradient: `dy` `[t, e]` to `dqkv` `[t, 3e]`.
    fn backward(&self, qkv: &[f32], dy: &[f32], dqkv: &mut [f32]) {
        let (t, e, d) = (self.t, self.e, self.d);
        let (mut p, mut ds) = (vec![0f32; t * t], vec![0f32; t * t]);
        for h in 0..e / d {
            self.probabilities(qkv, h, &mut p);
            let p_view = View::rows(&p, t, t, t);
            let dy_h = View::rows(&dy[h * d..], t, d, e);
            // dV = Pᵀ dY
            matmul(
                ViewMut::rows(&mut dqkv[2 * e + h * d..], t, d, 3 * e),
                p_view.t(),
                dy_h,
                false,
                Parallelism::None,
            );
            // dP = dY Vᵀ, then the softmax's backward in place.
            matmul(
                ViewMut::rows(&mut ds, t, t, t),
                dy_h,
                self.head(qkv, 2, h).t(),
                false,
                Parallelism::None,
            );
            for (ds_row, p_row) in ds.chunks_exact_mut(t).zip(p.chunks_exact(t)) {
                let dot: f32 = ds_row.iter().zip(p_row).map(|(g, p)| g * p).sum();
                for (g, p) in ds_row.iter_mut().zip(p_row) {
                    *g = p * (*g - dot) * self.scale;
                }
            }
            let ds_view = View::rows(&ds, t, t, t);
            // dQ = dS K, dK = dSᵀ Q (the scale is already in dS).
            matmul(
                ViewMut::rows(&mut dqkv[h * d..], t, d, 3 * e),
                ds_view,
                self.head(qkv, 1, h),
                false,
                Parallelism::None,
            );
            matmul(
                ViewMut::rows(&mut dqkv[e + h * d..], t, d, 3 * e),
                ds_view.t(),
                self.head(qkv, 0, h),
                false,
                Parallelism::None,
            );
        }
    }
}

fn f32_slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((start, end))) => Ok(&v[start..end]),
        _ => candle_core::bail!("attention needs a contiguous f32 tensor"),
    }
}

impl Attention {
    /// Sizes for rows of `e` features (`3e` packed), `t` tokens per item, checking that
    /// `qkv` and `out` hold the same whole number of items.
    fn dims(&self, e: usize, t: usize, qkv: usize, out: usize) -> Result<Dims> {
        if self.heads == 0 || !e.is_multiple_of(self.heads) {
            candle_core::bail!("{e} features do not split into {} heads", self.heads)
        }
        let item = t * e;
        if item == 0 || !out.is_multiple_of(item) || qkv != 3 * out {
            candle_core::bail!(
                "attention: {qkv} QKV values and {out} outputs are not whole items of {t}×{e}"
            )
        }
        let d = e / self.heads;
        Ok(Dims {
            t,
            e,
            d,
            scale: (d as f32).powf(-0.5),
            causal: self.causal,
        })
    }

    /// `qkv` rows `[b·t, 3e]` to `out` `[b·t, e]`, the `b` items in parallel.
    pub(crate) fn forward_rows(
        &self,
        qkv: &[f32],
        e: usize,
        t: usize,
        out: &mut [f32],
    ) -> Result<()> {
        if out.is_empty() && qkv.is_empty() {
            return Ok(());
        }
        let dims = self.dims(e, t, qkv.len(), out.len())?;
        let items = out.len() / (t * e).max(1);
        if items >= rayon::current_num_threads() {
            out.par_chunks_mut(t * e)
                .zip(qkv.par_chunks(t * 3 * e))
                .for_each(|(out, qkv)| dims.forward(qkv, out));
        } else {
            // Too few items to keep every core busy (one picture through BLIP's 577 tokens):
            // the heads of each item run in parallel instead.
            for (out, qkv) in out.chunks_mut(t * e).zip(qkv.chunks(t * 3 * e)) {
                dims.forward_heads_parallel(qkv, out);
            }
        }
        Ok(())
    }

    /// The gradient of [`Self::forward_rows`]: `dy` `[b·t, e]` to `dqkv` `[b·t, 3e]`.
    pub(crate) fn backward_rows(
        &self,
        qkv: &[f32],
        dy: &[f32],
        e: usize,
        t: usize,
        dqkv: &mut [f32],
    ) -> Result<()> {
        if dy.is_empty() && qkv.is_empty() {
            return Ok(());
        }
        let dims = self.dims(e, t, qkv.len(), dy.len())?;
        if dqkv.len() != qkv.len() {
            candle_core::bail!("attention: the QKV gradient has the wrong size")
        }
        dqkv.par_chunks_mut(t * 3 * e)
            .zip(qkv.par_chunks(t * 3 * e).zip(dy.par_chunks(t * e)))
            .for_each(|(dqkv, (qkv, dy))| dims.backward(qkv, dy, dqkv));
        Ok(())
    }
}

impl CustomOp1 for Attention {
    fn name(&self) -> &'static str {
        "fused-attention"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let qkv = f32_slice(storage, layout)?;
        let (b, t, e3) = layout.shape().dims3()?;
        let mut out = vec![0f32; b * t * (e3 / 3)];
        self.forward_rows(qkv, e3 / 3, t, &mut out)?;
        Ok((CpuStorage::F32(out), Shape::from((b, t, e3 / 3))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        let (b, t, e3) = arg.dims3()?;
        let mut dqkv = vec![0f32; b * t * e3];
        {
            let (qs, ql) = arg.storage_and_layout();
            let (gs, gl) = grad.storage_and_layout();
            let (Storage::Cpu(qs), Storage::Cpu(gs)) = (&*qs, &*gs) else {
                candle_core::bail!("attention's backward runs on the CPU only")
            };
            self.backward_rows(f32_slice(qs, ql)?, f32_slice(gs, gl)?, e3 / 3, t, &mut dqkv)?;
        }
        Ok(Some(Tensor::from_vec(dqkv, (b, t, e3), arg.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::kernels::max_diff;
    use candle_core::{Device, Var};

    /// Odd sizes (7 tokens, 3 heads of 5), fed through a transposed, non-contiguous view; `b`
    /// items (one item takes the heads-in-parallel path).
    fn check(b: usize, causal: bool) {
        let dev = Device::Cpu;
        let op = Attention { heads: 3, causal };
        let raw = Var::from_tensor(&Tensor::randn(0f32, 1.0, (b, 45, 7), &dev).unwrap()).unwrap();
        let qkv = raw.as_tensor().transpose(1, 2).unwrap();
        let r = Tensor::randn(0f32, 1.0, (b, 7, 15), &dev).unwrap();
        let ours = op.forward(&qkv).unwrap();
        let theirs = op.forward_plain(&qkv).unwrap();
        assert_eq!(ours.dims(), &[b, 7, 15]);
        assert!(max_diff(&ours, &theirs) < 1e-5, "forward, causal {causal}");
        let ga = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let gb = (theirs * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let (ga, gb) = (
            ga.get(raw.as_tensor()).unwrap(),
            gb.get(raw.as_tensor()).unwrap(),
        );
        assert!(max_diff(ga, gb) < 1e-4, "gradient, causal {causal}");
        assert!(
            ga.abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                > 1e-3
        );
    }

    #[test]
    fn fused_attention_matches_candle_ops_forward_and_gradient() {
        check(2, false);
        check(1, false);
    }

    #[test]
    fn causal_fused_attention_matches_candle_ops_forward_and_gradient() {
        check(2, true);
        check(1, true);
    }

    #[test]
    fn widths_that_do_not_split_into_heads_are_refused() {
        let qkv = Tensor::zeros((1, 4, 30), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(Attention {
            heads: 4,
            causal: false
        }
        .forward(&qkv)
        .is_err());
    }
}
