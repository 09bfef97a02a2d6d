//! LayerNorm over the last dimension as one op whose backward pass gives the input's gradient
//! and the weight's and bias's, for the layers that training changes (GPT-2's).
//!
//! Composed from candle ops, a LayerNorm keeps eight intermediate tensors for its backward
//! pass and runs some twenty elementwise passes, each into a fresh buffer. This op keeps only
//! its input and recomputes each row's mean and 1/std in the backward pass (768 values, cheaper
//! than storing them). Off the CPU, and when [`super::use_fused`] says no, the composed form
//! runs instead (`nn::LayerNorm`).

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::frozen_linear::{f32_span, with_slice};
use super::layer_norm_rows::RowNorm;
use super::norm_stats::stats;

/// Rows per parallel task of the weight gradients: each task sums its rows into its own pair
/// of vectors, which are then added.
const ROWS_PER_TASK: usize = 32;

pub struct LayerNormOp {
    pub eps: f64,
}

impl LayerNormOp {
    /// `LN(x)` with `weight` and `bias` `[d]`, for `x` of any shape with `d` last.
    pub fn forward(&self, x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let d = x.dim(candle_core::D::Minus1)?;
        if weight.dims() != [d] || bias.dims() != [d] {
            candle_core::bail!("a LayerNorm over {d} features got weights of another size")
        }
        x.contiguous()?.apply_op3(
            &weight.contiguous()?,
            &bias.contiguous()?,
            Self { eps: self.eps },
        )
    }
}

/// `(Σ dy·x̂, Σ dy)` over the rows of `x` and `dy`, per feature.
pub(crate) fn weight_gradients(x: &[f32], dy: &[f32], d: usize, eps: f64) -> (Vec<f32>, Vec<f32>) {
    let zero = || (vec![0f32; d], vec![0f32; d]);
    x.par_chunks(d * ROWS_PER_TASK)
        .zip(dy.par_chunks(d * ROWS_PER_TASK))
        .fold(zero, |(mut dw, mut db), (x, dy)| {
            for (x, dy) in x.chunks_exact(d).zip(dy.chunks_exact(d)) {
                let (mean, rstd) = stats(x, eps);
                for (((dw, db), &x), &g) in dw.iter_mut().zip(db.iter_mut()).zip(x).zip(dy) {
                    *dw += g * (x - mean) * rstd;
                    *db += g;
                }
            }
            (dw, db)
        })
        .reduce(zero, |(mut a, mut b), (c, e)| {
            a.iter_mut().zip(&c).for_each(|(a, c)| *a += c);
            b.iter_mut().zip(&e).for_each(|(b, e)| *b += e);
            (a, b)
        })
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "fused-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let what = "the fused LayerNorm";
        let (x, weight, bias) = (
            f32_span(s1, l1, what)?,
            f32_span(s2, l2, what)?,
            f32_span(s3, l3, what)?,
        );
        let norm = RowNorm {
            weight,
            bias,
            eps: self.eps,
        };
        let mut out = vec![0f32; x.len()];
        norm.forward(x, &mut out);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let d = weight.elem_count();
        let (dx, dw, db) = with_slice(x, |xs| {
            with_slice(weight, |w| {
                with_slice(bias, |b| {
                    with_slice(&grad, |g| {
                        let mut dx = vec![0f32; xs.len()];
                        let norm = RowNorm {
                            weight: w,
                            bias: b,
                            eps: self.eps,
                        };
                        norm.backward_add(xs, g, &mut dx);
                        let (dw, db) = weight_gradients(xs, g, d, self.eps);
                        Ok((dx, dw, db))
                    })
                })
            })
        })?;
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), x.device())?),
            Some(Tensor::from_vec(dw, d, x.device())?),
            Some(Tensor::from_vec(db, d, x.device())?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::kernels::nn::LayerNorm;
    use crate::ml::kernels::{assert_same_gradients, max_rel};
    use candle_core::{Device, Var};

    /// 37 rows (more than one task, and a short last one) of 19 features, read through a
    /// transposed view so the input is not contiguous; an upstream gradient that is not all
    /// ones, and a shift of the input so the centring matters.
    #[test]
    fn forward_and_all_three_gradients_equal_the_composed_layer_norm() {
        let dev = Device::Cpu;
        let raw = Tensor::randn(0f32, 2.0, (19, 37), &dev).unwrap();
        let raw = Var::from_tensor(&(raw + 3.0).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(1f32, 0.5, 19, &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.5, 19, &dev).unwrap()).unwrap();
        let x = raw.as_tensor().t().unwrap();
        let composed = LayerNorm::new(w.as_tensor().clone(), b.as_tensor().clone(), 1e-5);
        let ours = LayerNormOp { eps: 1e-5 }
            .forward(&x, w.as_tensor(), b.as_tensor())
            .unwrap();
        let theirs = composed.forward_composed(&x).unwrap();
        assert!(
            max_rel(&ours, &theirs) < 1e-5,
            "forward {}",
            max_rel(&ours, &theirs)
        );
        assert_same_gradients(&ours, &theirs, &[&raw, &w, &b], 1e-4);
    }

    #[test]
    fn weights_of_the_wrong_size_are_refused() {
        let dev = Device::Cpu;
        let x = Tensor::zeros((2, 5), candle_core::DType::F32, &dev).unwrap();
        let w = Tensor::ones(4, candle_core::DType::F32, &dev).unwrap();
        let e = LayerNormOp { eps: 1e-5 }.forward(&x, &w, &w).unwrap_err();
        assert!(e.to_string().contains("over 5 features"), "{e}");
    }
}
