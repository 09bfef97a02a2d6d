//! Tests of `frozen_norm`, kept apart so the module stays short.

use super::*;
use crate::ml::kernels::max_diff;
use candle_core::{DType, Device, Var};

fn check(n: usize, c: usize, h: usize, w: usize, groups: usize, transposed: bool) {
    let dev = Device::Cpu;
    // Weights away from 1 and 0, so a swapped or ignored affine would show.
    let weight = Tensor::randn(1f32, 0.3, c, &dev).unwrap();
    let bias = Tensor::randn(0f32, 0.3, c, &dev).unwrap();
    let vb = VarBuilder::from_tensors(
        [("weight".to_string(), weight), ("bias".to_string(), bias)].into(),
        DType::F32,
        &dev,
    );
    let norm = FrozenGroupNorm::load(groups, c, 1e-6, vb).unwrap();
    let base = if transposed {
        Tensor::randn(0.5f32, 2.0, (n, c, w, h), &dev).unwrap()
    } else {
        Tensor::randn(0.5f32, 2.0, (n, c, h, w), &dev).unwrap()
    };
    let x = Var::from_tensor(&base).unwrap();
    let input = if transposed {
        x.as_tensor().transpose(2, 3).unwrap()
    } else {
        x.as_tensor().clone()
    };
    let r = Tensor::randn(0f32, 1.0, (n, c, h, w), &dev).unwrap();
    for swish in [false, true] {
        let ours = norm.apply(&input, swish).unwrap();
        let reference = norm.plain.forward(&input).unwrap();
        let reference = if swish {
            reference.silu().unwrap()
        } else {
            reference
        };
        assert!(max_diff(&ours, &reference) < 1e-4, "forward, swish {swish}");
        let ga = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let gb = (reference * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let (a, b) = (
            ga.get(x.as_tensor()).unwrap(),
            gb.get(x.as_tensor()).unwrap(),
        );
        let scale: f32 = b.abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        // One element per group (1×1 images) has an exactly zero gradient on both sides.
        let d = max_diff(a, b) / scale.max(1e-6);
        assert!(d < 1e-4, "input gradient differs by {d} (swish {swish})");
    }
}

#[test]
fn layer_norm_matches_the_composed_one_forward_and_backward() {
    let dev = Device::Cpu;
    let d = 24;
    let vb = VarBuilder::from_tensors(
        [
            (
                "weight".to_string(),
                Tensor::randn(1f32, 0.3, d, &dev).unwrap(),
            ),
            (
                "bias".to_string(),
                Tensor::randn(0f32, 0.3, d, &dev).unwrap(),
            ),
        ]
        .into(),
        DType::F32,
        &dev,
    );
    let ln = FrozenLayerNorm::load(vb, d, 1e-5).unwrap();
    let x = Var::from_tensor(&Tensor::randn(0.3f32, 1.5, (3, d, 5), &dev).unwrap()).unwrap();
    // A transposed (non-contiguous) input, as attention outputs often are.
    let input = x.as_tensor().transpose(1, 2).unwrap();
    let r = Tensor::randn(0f32, 1.0, (3, 5, d), &dev).unwrap();
    let ours = ln.forward(&input).unwrap();
    let reference = ln.plain.forward_composed(&input).unwrap();
    assert!(max_diff(&ours, &reference) < 1e-5);
    let ga = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let gb = (reference * &r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let (a, b) = (
        ga.get(x.as_tensor()).unwrap(),
        gb.get(x.as_tensor()).unwrap(),
    );
    assert!(
        max_diff(a, b) < 1e-4,
        "input gradient differs by {}",
        max_diff(a, b)
    );
}

#[test]
fn forward_and_input_gradient_match_candles_group_norm() {
    check(2, 64, 5, 7, 32, false);
    check(1, 32, 1, 1, 32, false);
    check(1, 96, 9, 4, 32, true);
    check(3, 12, 6, 6, 4, false);
}
