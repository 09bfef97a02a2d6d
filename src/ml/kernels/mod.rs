//! The math under the models: frozen ops that keep only what their input gradient needs, fused
//! blocks, Winograd and GEMM convolutions, row norms and fast `exp`. They depend on candle and
//! on each other only, never on a model or a task.
//!
//! Every fused op has a composed twin made of plain candle ops, which runs off the CPU (CUDA,
//! Metal) and wherever [`use_fused`] says no. `STORYBOOK_COMPOSED_OPS=1` forces the composed
//! path on the CPU for the whole process, and [`force_composed_on_this_thread`] does it for one
//! thread, so the oracle tests can run both ways side by side.

pub mod amx;
pub mod attention;
pub mod bf16_dot;
pub mod bf16_gemm;
pub mod bf16_kernel;
pub mod bf16_rows;
pub mod conv_gemm;
pub mod fast_math;
pub mod frozen;
pub mod frozen_linear;
pub mod frozen_mlp;
pub mod frozen_norm;
pub mod gelu;
pub mod gemm_view;
pub mod gemv;
pub mod layer_norm_rows;
pub mod nn;
pub mod norm_stats;
pub mod packed_dot;
pub mod packed_weight;
pub mod trainable_linear;
pub mod trainable_norm;
pub mod winograd;
pub mod winograd_bf16;
pub mod winograd_scratch;
pub mod winograd_tiles;
pub mod winograd_transforms;

use std::cell::Cell;
use std::sync::OnceLock;

#[cfg(test)]
use candle_core::Var;
use candle_core::{DType, Tensor};

thread_local! {
    static THREAD_COMPOSED: Cell<Option<bool>> = const { Cell::new(None) };
}

fn composed_by_env() -> bool {
    static FROM_ENV: OnceLock<bool> = OnceLock::new();
    *FROM_ENV.get_or_init(|| {
        std::env::var("STORYBOOK_COMPOSED_OPS").is_ok_and(|v| !v.is_empty() && v != "0")
    })
}

/// Forces (or, with `false`, forbids forcing) the composed ops on the calling thread, over
/// `STORYBOOK_COMPOSED_OPS`. Set it before loading a model: a frozen convolution picks its
/// weight layout when it is built.
pub fn force_composed_on_this_thread(on: bool) {
    THREAD_COMPOSED.with(|c| c.set(Some(on)));
}

/// Whether composed ops are forced for work started on this thread.
pub fn composed_forced() -> bool {
    THREAD_COMPOSED
        .with(|c| c.get())
        .unwrap_or_else(composed_by_env)
}

/// Whether the hand-written CPU kernels may take `t`: f32 on the CPU, composed ops not forced.
pub fn use_fused(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32 && !composed_forced()
}

/// The largest absolute difference between `a` and `b`: how the fused ops' tests compare them
/// with their composed twins.
#[cfg(test)]
pub(crate) fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    let diff = (a - b).unwrap().abs().unwrap().max_all().unwrap();
    diff.to_scalar::<f32>().unwrap()
}

/// [`max_diff`] relative to `b`'s largest magnitude.
#[cfg(test)]
pub(crate) fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
    let scale = b.abs().unwrap().max_all().unwrap();
    max_diff(a, b) / scale.to_scalar::<f32>().unwrap().max(1e-12)
}

/// Asserts that `sum(ours · r)` and `sum(theirs · r)`, for one random `r`, give every one of
/// `vars` the same gradient (within `tol` of the largest), and that the gradient is not zero:
/// the backward check of each fused op against its composed twin.
#[cfg(test)]
pub(crate) fn assert_same_gradients(ours: &Tensor, theirs: &Tensor, vars: &[&Var], tol: f32) {
    let r = Tensor::randn(0f32, 1.0, theirs.shape(), theirs.device()).unwrap();
    let grads = |y: &Tensor| (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let (ga, gb) = (grads(ours), grads(theirs));
    for (i, v) in vars.iter().enumerate() {
        let (p, q) = (
            ga.get(v.as_tensor()).unwrap(),
            gb.get(v.as_tensor()).unwrap(),
        );
        assert_eq!(p.dims(), q.dims(), "argument {i}");
        let rel = max_rel(p, q);
        assert!(rel < tol, "argument {i}: gradients differ by {rel}");
        let largest = q.abs().unwrap().max_all().unwrap();
        assert!(
            largest.to_scalar::<f32>().unwrap() > 0.0,
            "argument {i} got no gradient"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn the_composed_switch_is_per_thread_and_only_f32_cpu_tensors_are_fused() {
        let x = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
        force_composed_on_this_thread(true);
        assert!(!use_fused(&x));
        let y = x.clone();
        let other = std::thread::spawn(move || use_fused(&y)).join().unwrap();
        assert_eq!(other, !composed_by_env());
        force_composed_on_this_thread(false);
        assert!(use_fused(&x));
        assert!(!use_fused(&x.to_dtype(DType::F64).unwrap()));
    }
}
