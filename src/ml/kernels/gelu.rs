//! GPT-2's GELU (the tanh approximation, `gelu_new`) as one op with a one-pass backward.
//!
//! candle's `gelu` runs its forward as one op, but its backward is composed of nine: a cube
//! through `powf`, a `tanh`, a square through `powf` and six more passes, each into a fresh
//! buffer the size of GPT-2's MLP (`[rows, 3072]`). Here the backward recomputes the tanh from
//! the input in the same pass that applies it, with the vectorised `exp`.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::fast_math::exp;
use super::frozen_linear::{f32_span, with_slice};

/// √(2/π).
const C: f32 = 0.797_884_6;
const K: f32 = 0.044_715;
const CHUNK: usize = 1 << 14;

/// `tanh(c · (x + k·x³))` for `x`.
#[inline(always)]
fn inner_tanh(x: f32) -> f32 {
    let u = C * x * (1.0 + K * x * x);
    1.0 - 2.0 / (exp(2.0 * u) + 1.0)
}

#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + inner_tanh(x))
}

/// `d gelu / dx`.
#[inline(always)]
fn gelu_slope(x: f32) -> f32 {
    let t = inner_tanh(x);
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * C * (1.0 + 3.0 * K * x * x)
}

/// `y = gelu(x)` over slices, in parallel.
pub(crate) fn gelu_into(x: &[f32], y: &mut [f32]) {
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(y, x)| y.iter_mut().zip(x).for_each(|(y, &x)| *y = gelu(x)));
}

/// `g *= gelu'(x)` over slices, in parallel: the gradient through GELU, in place.
pub(crate) fn gelu_backward_in_place(x: &[f32], g: &mut [f32]) {
    g.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(g, x)| g.iter_mut().zip(x).for_each(|(g, &x)| *g *= gelu_slope(x)));
}

/// GELU (tanh approximation) of `x`: fused on the CPU for f32, candle's op elsewhere.
pub fn gelu_tanh(x: &Tensor) -> Result<Tensor> {
    if super::use_fused(x) {
        x.contiguous()?.apply_op1(GeluTanh)
    } else {
        x.gelu()
    }
}

struct GeluTanh;

impl CustomOp1 for GeluTanh {
    fn name(&self) -> &'static str {
        "fused-gelu-tanh"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_span(s, l, "the fused GELU")?;
        let mut y = vec![0f32; x.len()];
        gelu_into(x, &mut y);
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        let dx = with_slice(arg, |x| {
            with_slice(&grad, |g| {
                let mut dx = g.to_vec();
                gelu_backward_in_place(x, &mut dx);
                Ok(dx)
            })
        })?;
        Ok(Some(Tensor::from_vec(dx, arg.shape(), arg.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::kernels::assert_same_gradients;
    use crate::ml::kernels::max_diff;
    use candle_core::{Device, Var};

    /// Values across the curve (far negative, near zero, far positive) at an odd size read
    /// through a transposed view, with a random upstream gradient.
    #[test]
    fn forward_and_gradient_equal_candles_gelu() {
        let dev = Device::Cpu;
        let raw = Var::from_tensor(&Tensor::randn(0f32, 4.0, (23, CHUNK / 7 + 3), &dev).unwrap())
            .unwrap();
        let x = raw.as_tensor().t().unwrap();
        let ours = gelu_tanh(&x).unwrap();
        let theirs = x.gelu().unwrap();
        assert!(
            max_diff(&ours, &theirs) < 2e-6,
            "forward {}",
            max_diff(&ours, &theirs)
        );
        // candle's backward rounds its constants to six digits; ours uses them in full.
        assert_same_gradients(&ours, &theirs, &[&raw], 2e-5);
    }

    #[test]
    fn the_slope_matches_finite_differences_in_f64_terms() {
        for x in [-9.0f32, -3.1, -0.7, -1e-3, 0.0, 2e-3, 0.4, 1.9, 6.5] {
            let h = 1e-3f64;
            let f = |v: f64| {
                let u = (2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v);
                0.5 * v * (1.0 + u.tanh())
            };
            let fd = (f(x as f64 + h) - f(x as f64 - h)) / (2.0 * h);
            assert!((gelu_slope(x) as f64 - fd).abs() < 1e-5, "x = {x}");
            assert!((gelu(x) as f64 - f(x as f64)).abs() < 1e-6 * (1.0 + x.abs() as f64));
        }
    }
}
