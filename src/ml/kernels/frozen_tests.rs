//! Tests of `frozen`, kept apart so the module stays short.

use super::*;
use candle_core::{Device, Var};
use candle_nn::Conv2dConfig;

fn check(
    c_in: usize,
    c_out: usize,
    k: usize,
    pad: usize,
    h: usize,
    w: usize,
    transposed_input: bool,
) {
    let dev = Device::Cpu;
    let weight = Tensor::randn(0f32, 1.0, (c_out, c_in, k, k), &dev).unwrap();
    let bias = Tensor::randn(0f32, 1.0, c_out, &dev).unwrap();
    let conv = Conv2d::new(
        weight,
        Some(bias),
        Conv2dConfig {
            padding: pad,
            ..Default::default()
        },
    );
    let frozen = FrozenConv2d::from_conv(&conv).unwrap().unwrap();
    let base = if transposed_input {
        Tensor::randn(0f32, 1.0, (2, c_in, w, h), &dev).unwrap()
    } else {
        Tensor::randn(0f32, 1.0, (2, c_in, h, w), &dev).unwrap()
    };
    let x = Var::from_tensor(&base).unwrap();
    let input = if transposed_input {
        x.as_tensor().transpose(2, 3).unwrap()
    } else {
        x.as_tensor().clone()
    };
    let r = Tensor::randn(
        0f32,
        1.0,
        (2, c_out, h + 2 * pad + 1 - k, w + 2 * pad + 1 - k),
        &dev,
    )
    .unwrap();
    let ours = frozen.forward(&input).unwrap();
    let reference = conv.forward(&input).unwrap();
    // Relative to the largest value, forward and back: these outputs reach ~100 and Winograd's
    // rounding scales with them. F(4×4)'s larger constants reached 1.1e-5 forward and 6.6e-6
    // backward over 25 runs of these random cases (F(2×2): below 1e-6).
    let fwd = relative_difference(&ours, &reference);
    assert!(fwd < 3e-5, "forward differs by {fwd}");
    let g_ours = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let g_ref = (reference * &r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let a = g_ours.get(x.as_tensor()).unwrap();
    let b = g_ref.get(x.as_tensor()).unwrap();
    let bwd = relative_difference(a, b);
    assert!(bwd < 2e-5, "input gradient differs by {bwd}");
}

/// Largest difference over the largest magnitude of `want` (at least 1).
fn relative_difference(got: &Tensor, want: &Tensor) -> f32 {
    let max_abs = |t: &Tensor| {
        t.abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    max_abs(&(got - want).unwrap()) / max_abs(want).max(1.0)
}

#[test]
fn gradients_match_candles_conv_for_3x3_1x1_odd_sizes_and_strided_inputs() {
    check(3, 5, 3, 1, 7, 9, false);
    check(4, 2, 1, 0, 5, 3, false);
    check(6, 4, 3, 1, 11, 6, true);
    check(2, 3, 3, 0, 8, 8, false);
    // One-pixel images, a one-row image, and channel counts past a GEMM block.
    check(5, 3, 3, 1, 1, 1, false);
    check(3, 4, 1, 0, 1, 7, false);
    check(70, 33, 3, 1, 13, 17, true);
    check(3, 2, 5, 2, 9, 6, false);
}

#[test]
fn strided_convs_are_left_to_candle() {
    let dev = Device::Cpu;
    let w = Tensor::zeros((2, 2, 3, 3), candle_core::DType::F32, &dev).unwrap();
    let conv = Conv2d::new(
        w,
        None,
        Conv2dConfig {
            stride: 2,
            ..Default::default()
        },
    );
    assert!(FrozenConv2d::from_conv(&conv).unwrap().is_none());
}

#[test]
fn a_kernel_is_rearranged_on_first_use_and_its_source_freed() {
    let dev = Device::Cpu;
    let w = Tensor::randn(0f32, 1.0, (4, 3, 3, 3), &dev).unwrap();
    let conv = Conv2d::new(
        w,
        None,
        Conv2dConfig {
            padding: 1,
            ..Default::default()
        },
    );
    let frozen = FrozenConv2d::from_conv(&conv).unwrap().unwrap();
    let Weights::Cpu(kernel) = &frozen.weights else {
        panic!("CPU weights expected")
    };
    assert!(kernel.kind.get().is_none());
    let x = Tensor::randn(0f32, 1.0, (1, 3, 5, 5), &dev).unwrap();
    let first = frozen.forward(&x).unwrap();
    assert!(matches!(kernel.kind.get(), Some(KernelKind::Winograd(_))));
    assert!(kernel.weight.lock().unwrap().is_none());
    let again = frozen.forward(&x).unwrap();
    let diff = (first - again).unwrap().abs().unwrap().max_all().unwrap();
    assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);
}
