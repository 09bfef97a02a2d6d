use super::*;
use crate::ml::kernels::max_diff;
use candle_core::{Device, Var};

/// Forward and input gradient against the plain-op layer, on a transposed (strided) 3-D
/// input with odd sizes. In bf16 the plain layer reads the same rounded weights, and the
/// tolerance allows for the product also rounding its input to bf16 (8 significant bits).
fn check(epilogue: Epilogue, bias: bool, bf16: bool) {
    let dev = Device::Cpu;
    let w = Tensor::randn(0f32, 1.0, (5, 7), &dev).unwrap();
    let b = bias.then(|| Tensor::randn(0f32, 1.0, 5, &dev).unwrap());
    let mut layer = FrozenLinear::new(w, b).unwrap().with_epilogue(epilogue);
    let switched = bf16 && layer.switch_to_bf16().unwrap();
    assert_eq!(switched, bf16 && crate::ml::kernels::bf16_gemm::available());
    let tol = if switched { 3e-2 } else { 1e-5 };
    let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 7, 3), &dev).unwrap()).unwrap();
    let input = x.as_tensor().transpose(1, 2).unwrap();
    let r = Tensor::randn(0f32, 1.0, (2, 3, 5), &dev).unwrap();
    let ours = layer.forward(&input).unwrap();
    let theirs = layer.forward_plain(&input).unwrap();
    assert_eq!(ours.dims(), &[2, 3, 5]);
    assert!(max_diff(&ours, &theirs) < tol, "forward {epilogue:?}");
    let ga = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let gb = (theirs * &r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let (ga, gb) = (
        ga.get(x.as_tensor()).unwrap(),
        gb.get(x.as_tensor()).unwrap(),
    );
    assert!(max_diff(ga, gb) < 10.0 * tol, "gradient {epilogue:?}");
}

#[test]
fn a_plain_linear_matches_candle_forward_and_gradient() {
    check(Epilogue::None, true, false);
    check(Epilogue::None, false, false);
}

#[test]
fn linear_with_quick_gelu_matches_candle_forward_and_gradient() {
    check(Epilogue::QuickGelu, true, false);
}

/// Where no bf16 kernel runs, `switch_to_bf16` says no and the layer stays f32 (checked at f32's
/// tolerance); `check` asserts which of the two happened.
#[test]
fn a_bf16_layer_matches_its_rounded_weights_forward_and_gradient() {
    check(Epilogue::None, true, true);
    check(Epilogue::None, false, true);
    check(Epilogue::QuickGelu, true, true);
}

#[test]
fn a_second_backward_recomputes_the_freed_pre_activation() {
    let dev = Device::Cpu;
    let layer = FrozenLinear::new(Tensor::randn(0f32, 1.0, (4, 3), &dev).unwrap(), None)
        .unwrap()
        .with_epilogue(Epilogue::QuickGelu);
    let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (6, 3), &dev).unwrap()).unwrap();
    let loss = layer.forward(x.as_tensor()).unwrap().sum_all().unwrap();
    let first = loss.backward().unwrap();
    let second = loss.backward().unwrap();
    let (a, b) = (
        first.get(x.as_tensor()).unwrap(),
        second.get(x.as_tensor()).unwrap(),
    );
    assert_eq!(max_diff(a, b), 0.0);
}
