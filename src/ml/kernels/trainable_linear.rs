//! GPT-2's `Conv1D` (`y = x W + b`, the weight stored `[in, out]`) as one op whose backward pass
//! gives the input's, the weight's and the bias's gradients, for training.
//!
//! Composed, the product and the bias are two ops, so the product before the bias is kept for
//! the backward pass as well as the output: 14 MB a block at batch 4 × 128 for GPT-2 124M,
//! 170 MB over the model, which is the margin between our training's peak memory and
//! PyTorch's. Here the bias is written into the output first and the product added onto it.
//! The backward runs the three products through `gemm` straight from the stored operands:
//! `dx = dy Wᵀ`, `dW = xᵀ dy` and `db = Σ dy`.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::frozen_linear::{bias_into_rows, f32_span, with_slice};
use super::gemm_view::{matmul, parallel, View, ViewMut};

/// Rows per parallel task of the bias gradient.
const ROWS_PER_TASK: usize = 64;

pub struct Conv1dOp;

impl Conv1dOp {
    /// `x` `[rows, in]`, `weight` `[in, out]`, `bias` `[out]` to `[rows, out]`.
    pub fn forward(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let (_, d_in) = x.dims2()?;
        let (w_in, d_out) = weight.dims2()?;
        if w_in != d_in || bias.dims() != [d_out] {
            candle_core::bail!(
                "a Conv1D from {w_in} to {d_out} features got inputs of {d_in} and a bias of {:?}",
                bias.dims()
            )
        }
        x.contiguous()?
            .apply_op3(&weight.contiguous()?, &bias.contiguous()?, Self)
    }
}

/// `y = x W + b` for `x` `[rows, d_in]` and `w` `[d_in, d_out]`, or `y += x W + b` when `add`
/// (a residual stream already in `y`): the bias goes into `y` first and the product is added
/// onto it, so no pre-bias product exists.
pub(crate) fn conv1d_into(y: &mut [f32], x: &[f32], w: &[f32], b: &[f32], rows: usize, add: bool) {
    let d_out = b.len();
    let d_in = x.len() / rows.max(1);
    bias_into_rows(y, b, add);
    matmul(
        ViewMut::rows(y, rows, d_out, d_out),
        View::rows(x, rows, d_in, d_in),
        View::rows(w, d_in, d_out, d_out),
        true,
        parallel(),
    );
}

/// The backward pass of [`conv1d_into`] for the gradient `dy` `[rows, d_out]` at its output:
/// `dw = xᵀ dy` (the weight's own `[d_in, d_out]` layout) and `dx = dy Wᵀ` into the slices
/// given, and the bias's `Σ dy` returned.
pub(crate) fn conv1d_backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    rows: usize,
    dw: &mut [f32],
    dx: &mut [f32],
) -> Vec<f32> {
    let d_in = x.len() / rows.max(1);
    let d_out = dy.len() / rows.max(1);
    let dy_view = View::rows(dy, rows, d_out, d_out);
    matmul(
        ViewMut::rows(dw, d_in, d_out, d_out),
        View::rows(x, rows, d_in, d_in).t(),
        dy_view,
        false,
        parallel(),
    );
    matmul(
        ViewMut::rows(dx, rows, d_in, d_in),
        dy_view,
        View::rows(w, d_in, d_out, d_out).t(),
        false,
        parallel(),
    );
    column_sums(dy, d_out)
}

/// The sum of the rows of `g` (`[rows, d]`): a bias's gradient.
pub(crate) fn column_sums(g: &[f32], d: usize) -> Vec<f32> {
    let zero = || vec![0f32; d];
    g.par_chunks(d.max(1) * ROWS_PER_TASK)
        .fold(zero, |mut acc, rows| {
            for row in rows.chunks_exact(d) {
                acc.iter_mut().zip(row).for_each(|(a, g)| *a += g);
            }
            acc
        })
        .reduce(zero, |mut a, b| {
            a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
            a
        })
}

impl CustomOp3 for Conv1dOp {
    fn name(&self) -> &'static str {
        "fused-conv1d"
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
        let what = "the fused Conv1D";
        let (x, w, b) = (
            f32_span(s1, l1, what)?,
            f32_span(s2, l2, what)?,
            f32_span(s3, l3, what)?,
        );
        let (rows, _) = l1.shape().dims2()?;
        let mut y = vec![0f32; rows * b.len()];
        conv1d_into(&mut y, x, w, b, rows, false);
        Ok((CpuStorage::F32(y), Shape::from((rows, b.len()))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let (rows, d_in) = x.dims2()?;
        let (_, d_out) = weight.dims2()?;
        let (dx, dw, db) = with_slice(x, |xs| {
            with_slice(weight, |w| {
                with_slice(&grad, |g| {
                    let (mut dx, mut dw) = (vec![0f32; rows * d_in], vec![0f32; d_in * d_out]);
                    let db = conv1d_backward(xs, w, g, rows, &mut dw, &mut dx);
                    Ok((dx, dw, db))
                })
            })
        })?;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (rows, d_in), dev)?),
            Some(Tensor::from_vec(dw, (d_in, d_out), dev)?),
            Some(Tensor::from_vec(db, d_out, dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::kernels::{assert_same_gradients, max_rel};
    use candle_core::{Device, Var};

    /// 131 rows (two tasks of the bias sum and a short third) from 17 to 11 features, the input
    /// and the weight read through transposed views, so neither is contiguous; a random
    /// upstream gradient.
    #[test]
    fn output_and_all_three_gradients_equal_matmul_plus_bias() {
        let dev = Device::Cpu;
        let xr = Var::from_tensor(&Tensor::randn(0f32, 1.0, (17, 131), &dev).unwrap()).unwrap();
        let wr = Var::from_tensor(&Tensor::randn(0f32, 1.0, (11, 17), &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 1.0, 11, &dev).unwrap()).unwrap();
        let (x, w) = (xr.as_tensor().t().unwrap(), wr.as_tensor().t().unwrap());
        let ours = Conv1dOp::forward(&x, &w, b.as_tensor()).unwrap();
        let theirs = x.matmul(&w).unwrap().broadcast_add(b.as_tensor()).unwrap();
        assert!(max_rel(&ours, &theirs) < 1e-5);
        assert_same_gradients(&ours, &theirs, &[&xr, &wr, &b], 1e-5);
    }

    #[test]
    fn mismatched_shapes_are_refused_with_a_sentence() {
        let dev = Device::Cpu;
        let x = Tensor::zeros((2, 5), candle_core::DType::F32, &dev).unwrap();
        let w = Tensor::zeros((4, 3), candle_core::DType::F32, &dev).unwrap();
        let b = Tensor::zeros(3, candle_core::DType::F32, &dev).unwrap();
        let e = Conv1dOp::forward(&x, &w, &b).unwrap_err();
        assert!(e.to_string().contains("from 4 to 3 features"), "{e}");
    }
}
