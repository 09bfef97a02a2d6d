//! Linear layers whose weights never train, optionally followed by CLIP's quick-GELU, as one
//! op with an input-gradient-only backward.
//!
//! candle's matmul backward also computes the (discarded) weight gradient, the bias is another
//! pass and another stored tensor, and quick-GELU composed from plain ops (`x * sigmoid(1.702x)`)
//! keeps three activations the size of CLIP's 3072-wide MLP alive until the backward pass.
//! Here the product is written straight into the output with the `gemm` crate, reading the
//! weight in place as its transpose, with the bias and activation applied in the same pass; the
//! pre-activation is the only thing kept for the backward, and it is freed once used.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

use crate::ml::kernels::bf16_gemm::{self, Bf16Linear};
use crate::ml::kernels::fast_math::sigmoid;
use crate::ml::kernels::gemm_view::{linear_into, matmul, parallel, View, ViewMut};

#[path = "frozen_linear_gelu.rs"]
mod gelu_input;

/// What follows the affine map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epilogue {
    None,
    /// `x * sigmoid(1.702 x)`, CLIP's activation.
    QuickGelu,
}

/// `y = act(x @ Wᵀ + b)` over the last dimension, with `W` frozen.
#[derive(Debug, Clone)]
pub struct FrozenLinear {
    weight: Weight,
    bias: Option<Tensor>,
    epilogue: Epilogue,
}

/// The weight in f32, or only in bf16 once [`FrozenLinear::switch_to_bf16`] has run: the f32 copy is
/// dropped then, so bf16 costs no more memory than f32 for both packed orientations.
#[derive(Debug, Clone)]
enum Weight {
    F32(Tensor),
    Bf16(Arc<Bf16Linear>),
}

pub(crate) fn quick_gelu(v: f32) -> f32 {
    v * sigmoid(1.702 * v)
}

pub(crate) fn quick_gelu_slope(v: f32) -> f32 {
    let s = sigmoid(1.702 * v);
    s + 1.702 * v * s * (1.0 - s)
}

/// Rows per parallel chunk of an elementwise pass: large enough to amortise the scheduling.
pub(crate) const ROWS_PER_TASK: usize = 16;

/// `h = quick_gelu(pre)` over rows of `width`, in parallel.
pub(crate) fn quick_gelu_rows(h: &mut [f32], pre: &[f32], width: usize) {
    let chunk = width.max(1) * ROWS_PER_TASK;
    h.par_chunks_mut(chunk)
        .zip(pre.par_chunks(chunk))
        .for_each(|(h, p)| h.iter_mut().zip(p).for_each(|(h, &p)| *h = quick_gelu(p)));
}

/// Every `b.len()`-wide row of `y` set to the bias `b`, or `b` added to it when `accumulate`:
/// the start of an affine map whose product then accumulates onto it.
pub(crate) fn bias_into_rows(y: &mut [f32], b: &[f32], accumulate: bool) {
    let d_out = b.len().max(1);
    y.par_chunks_mut(d_out * ROWS_PER_TASK).for_each(|chunk| {
        for row in chunk.chunks_exact_mut(d_out) {
            if accumulate {
                row.iter_mut().zip(b).for_each(|(v, b)| *v += b);
            } else {
                row.copy_from_slice(b);
            }
        }
    });
}

/// The `f32` values a contiguous layout spans in CPU storage, or `what` cannot take them.
pub(crate) fn f32_span<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        _ => candle_core::bail!("{what} needs contiguous f32 tensors"),
    }
}

/// The `f32` CPU slice under a contiguous tensor, handed to `f`.
pub(crate) fn with_slice<T>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<T>) -> Result<T> {
    let (storage, layout) = t.storage_and_layout();
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("frozen linear needs contiguous tensors")
    };
    match &*storage {
        Storage::Cpu(CpuStorage::F32(v)) => f(&v[start..end]),
        _ => candle_core::bail!("frozen linear runs on f32 CPU tensors only"),
    }
}

impl FrozenLinear {
    /// `weight` is `[out, in]`, as PyTorch stores it.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Result<Self> {
        Ok(Self {
            weight: Weight::F32(weight.contiguous()?),
            bias: bias.map(|b| b.contiguous()).transpose()?,
            epilogue: Epilogue::None,
        })
    }

    /// `vb`'s `weight` `[d_out, d_in]` and `bias` `[d_out]`, as PyTorch's `nn.Linear` saves them.
    pub fn load(vb: candle_nn::VarBuilder, d_in: usize, d_out: usize) -> Result<Self> {
        Self::from_linear(&candle_nn::linear(d_in, d_out, vb)?)
    }

    pub fn from_linear(linear: &candle_nn::Linear) -> Result<Self> {
        Self::new(linear.weight().clone(), linear.bias().cloned())
    }

    pub fn with_epilogue(self, epilogue: Epilogue) -> Self {
        Self { epilogue, ..self }
    }

    pub fn out_features(&self) -> Result<usize> {
        Ok(self.dims()?.0)
    }

    /// `(d_out, d_in)`.
    fn dims(&self) -> Result<(usize, usize)> {
        match &self.weight {
            Weight::F32(w) => w.dims2(),
            Weight::Bf16(b) => Ok(b.dims()),
        }
    }

    /// Keeps the weight in bf16 only, packed for the bf16 kernels, and runs both products there
    /// from now on. `false`, and the layer unchanged, where no bf16 kernel runs (or already
    /// bf16).
    pub fn switch_to_bf16(&mut self) -> Result<bool> {
        let Weight::F32(w) = &self.weight else {
            return Ok(false);
        };
        if !crate::ml::kernels::bf16_gemm::available() || !w.device().is_cpu() {
            return Ok(false);
        }
        let (d_out, d_in) = w.dims2()?;
        let packed = with_slice(w, |w| Ok(Bf16Linear::new(w, d_out, d_in)))?;
        self.weight = Weight::Bf16(Arc::new(packed));
        Ok(true)
    }

    /// The weight as the products read it: f32, or the bf16 values widened.
    fn weight_tensor(&self, device: &candle_core::Device) -> Result<Tensor> {
        match &self.weight {
            Weight::F32(w) => Ok(w.clone()),
            Weight::Bf16(b) => Tensor::from_vec(b.unpack(), b.dims(), device),
        }
    }

    /// The same layer from plain candle ops: off the CPU, and as the tests' reference.
    pub fn forward_plain(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.broadcast_matmul(&self.weight_tensor(x.device())?.t()?)?;
        let y = match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        match self.epilogue {
            Epilogue::None => Ok(y),
            Epilogue::QuickGelu => y.broadcast_mul(&candle_nn::ops::sigmoid(&(&y * 1.702)?)?),
        }
    }

    /// Applies the layer over the last dimension of `x`, any leading dimensions.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !crate::ml::kernels::use_fused(x) {
            return self.forward_plain(x);
        }
        let mut dims = x.dims().to_vec();
        let d_in = x.dim(candle_core::D::Minus1)?;
        let rows = x.elem_count() / d_in.max(1);
        let flat = x.reshape((rows, d_in))?.contiguous()?;
        let op = LinearOp {
            layer: self.clone(),
            pre_activation: Mutex::new(None),
        };
        let y = flat.apply_op1_arc(Arc::new(Box::new(op)))?;
        let last = dims.len() - 1;
        dims[last] = self.out_features()?;
        y.reshape(dims)
    }

    /// `[rows, in]` to `[rows, out]` before the epilogue.
    pub(crate) fn affine(&self, x: &[f32], rows: usize) -> Result<Vec<f32>> {
        let mut y = vec![0f32; rows * self.out_features()?];
        self.affine_into(x, rows, &mut y, false)?;
        Ok(y)
    }

    /// `y = x Wᵀ + b`, or `y += x Wᵀ + b` when `accumulate` (a residual branch written
    /// straight onto its stream).
    pub(crate) fn affine_into(
        &self,
        x: &[f32],
        rows: usize,
        y: &mut [f32],
        accumulate: bool,
    ) -> Result<()> {
        self.check_affine(x.len(), rows, y.len())?;
        let accumulate = self.bias_first(y, accumulate)?;
        let w = match &self.weight {
            Weight::F32(w) => w,
            Weight::Bf16(b) => {
                bf16_gemm::matmul_into(y, x, rows, &b.forward, accumulate);
                return Ok(());
            }
        };
        with_slice(w, |w| {
            if rows <= crate::ml::kernels::gemv::MAX_ROWS {
                // A decoder step: bandwidth-bound, and a packed GEMM would read W twice.
                crate::ml::kernels::gemv::gemv_into(y, x, w, rows, accumulate);
                return Ok(());
            }
            linear_into(y, x, w, rows, accumulate);
            Ok(())
        })
    }

    /// `(d_out, d_in)`, once `x_len` values in and `y_len` out are checked to be `rows` of each.
    fn check_affine(&self, x_len: usize, rows: usize, y_len: usize) -> Result<(usize, usize)> {
        let (d_out, d_in) = self.dims()?;
        if x_len != rows * d_in || y_len != rows * d_out {
            candle_core::bail!(
                "frozen linear: {x_len} values in and {y_len} out, not {rows}×{d_in} and \
                 {rows}×{d_out}"
            );
        }
        Ok((d_out, d_in))
    }

    /// `(d_out, d_in)`, once a gradient of `g_len` values and `dx_len` for the input's are
    /// checked to be `rows` of each.
    fn check_input_grad(&self, g_len: usize, rows: usize, dx_len: usize) -> Result<(usize, usize)> {
        let (d_out, d_in) = self.dims()?;
        if g_len != rows * d_out || dx_len != rows * d_in {
            candle_core::bail!(
                "frozen linear: gradient of {g_len} values into {dx_len}, not {rows}×{d_out} \
                 into {rows}×{d_in}"
            );
        }
        Ok((d_out, d_in))
    }

    /// Writes (or adds) the bias to every row of `y` first, so the product can always
    /// accumulate onto it; returns whether it must.
    fn bias_first(&self, y: &mut [f32], accumulate: bool) -> Result<bool> {
        let Some(bias) = &self.bias else {
            return Ok(accumulate);
        };
        with_slice(bias, |b| {
            bias_into_rows(y, b, accumulate);
            Ok(())
        })?;
        Ok(true)
    }

    /// `grad @ W`: `[rows, out]` to `[rows, in]`.
    pub(crate) fn input_grad(&self, grad: &[f32], rows: usize) -> Result<Vec<f32>> {
        let (_, d_in) = self.dims()?;
        let mut dx = vec![0f32; rows * d_in];
        self.input_grad_into(grad, rows, &mut dx, false)?;
        Ok(dx)
    }

    /// `dx = grad W`, or `dx += grad W` when `accumulate`.
    pub(crate) fn input_grad_into(
        &self,
        grad: &[f32],
        rows: usize,
        dx: &mut [f32],
        accumulate: bool,
    ) -> Result<()> {
        let (d_out, d_in) = self.check_input_grad(grad.len(), rows, dx.len())?;
        let w = match &self.weight {
            Weight::F32(w) => w,
            Weight::Bf16(b) => {
                bf16_gemm::matmul_into(dx, grad, rows, &b.backward, accumulate);
                return Ok(());
            }
        };
        with_slice(w, |w| {
            matmul(
                ViewMut::rows(dx, rows, d_in, d_in),
                View::rows(grad, rows, d_out, d_out),
                View::rows(w, d_out, d_in, d_in),
                accumulate,
                parallel(),
            );
            Ok(())
        })
    }
}

/// One application of a layer; keeps that call's pre-activation for its backward.
struct LinearOp {
    layer: FrozenLinear,
    pre_activation: Mutex<Option<Vec<f32>>>,
}

impl CustomOp1 for LinearOp {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (Some((start, end)), CpuStorage::F32(x)) = (layout.contiguous_offsets(), storage)
        else {
            candle_core::bail!("frozen linear needs a contiguous f32 input")
        };
        let (rows, _) = layout.shape().dims2()?;
        let d_out = self.layer.out_features()?;
        let pre = self.layer.affine(&x[start..end], rows)?;
        let y = match self.layer.epilogue {
            Epilogue::None => pre,
            Epilogue::QuickGelu => {
                let mut y = vec![0f32; pre.len()];
                quick_gelu_rows(&mut y, &pre, d_out);
                if let Ok(mut saved) = self.pre_activation.lock() {
                    *saved = Some(pre);
                }
                y
            }
        };
        Ok((CpuStorage::F32(y), Shape::from((rows, d_out))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        let (rows, _) = grad.dims2()?;
        let (_, d_in) = self.layer.dims()?;
        let dx = if self.layer.epilogue == Epilogue::QuickGelu {
            let saved = self.pre_activation.lock().ok().and_then(|mut s| s.take());
            // Recomputed only if a second backward runs over the same graph.
            let pre = match saved {
                Some(pre) => pre,
                None => with_slice(arg, |x| self.layer.affine(x, rows))?,
            };
            let mut g = with_slice(&grad, |g| Ok(g.to_vec()))?;
            let mut dx = vec![0f32; rows * d_in];
            self.layer
                .input_grad_gelu_into(&mut g, &pre, rows, &mut dx, false)?;
            dx
        } else {
            with_slice(&grad, |g| self.layer.input_grad(g, rows))?
        };
        Ok(Some(Tensor::from_vec(dx, (rows, d_in), arg.device())?))
    }
}

#[cfg(test)]
#[path = "frozen_linear_tests.rs"]
mod tests;
