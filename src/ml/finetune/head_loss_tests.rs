use super::*;
use crate::ml::finetune::loss::cross_entropy;
use crate::ml::kernels::max_rel;
use candle_core::{Device, Var};

/// Odd sizes; `hidden` is read through a transposed view, so it is not contiguous.
fn setup() -> (Var, Var, Tensor, Vec<u32>) {
    let dev = Device::Cpu;
    let raw = Var::from_tensor(&Tensor::randn(0f32, 1.0, (5, 7), &dev).unwrap()).unwrap();
    let w = Var::from_tensor(&Tensor::randn(0f32, 1.0, (13, 5), &dev).unwrap()).unwrap();
    let hidden = raw.as_tensor().t().unwrap();
    let targets = vec![0u32, 12, 3, 3, 7, 1, 12];
    (raw, w, hidden, targets)
}

#[test]
fn loss_and_both_gradients_equal_the_composed_head_and_cross_entropy() {
    let (raw, w, hidden, targets) = setup();
    let t = Tensor::new(targets.as_slice(), &Device::Cpu).unwrap();
    let ours = head_cross_entropy(&hidden, w.as_tensor(), &targets).unwrap();
    let theirs = cross_entropy(&hidden.matmul(&w.as_tensor().t().unwrap()).unwrap(), &t).unwrap();
    let (a, b) = (
        ours.to_scalar::<f32>().unwrap(),
        theirs.to_scalar::<f32>().unwrap(),
    );
    assert!((a - b).abs() <= 1e-5 * b.abs(), "loss {a} vs {b}");
    // An upstream factor other than 1 must reach both gradients.
    let ga = (ours * 2.5).unwrap().backward().unwrap();
    let gb = (theirs * 2.5).unwrap().backward().unwrap();
    for v in [&raw, &w] {
        let (x, y) = (
            ga.get(v.as_tensor()).unwrap(),
            gb.get(v.as_tensor()).unwrap(),
        );
        assert_eq!(x.dims(), y.dims());
        assert!(
            max_rel(x, y) < 1e-5,
            "gradient differs by {}",
            max_rel(x, y)
        );
        assert!(
            y.abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                > 1e-3
        );
    }
}

#[test]
fn a_second_backward_recomputes_what_the_first_took() {
    let (raw, w, hidden, targets) = setup();
    let loss = head_cross_entropy(&hidden, w.as_tensor(), &targets).unwrap();
    let first = loss.backward().unwrap();
    let second = loss.backward().unwrap();
    for v in [&raw, &w] {
        let (x, y) = (
            first.get(v.as_tensor()).unwrap(),
            second.get(v.as_tensor()).unwrap(),
        );
        assert!(max_rel(x, y) == 0.0);
    }
}

#[test]
fn bad_targets_and_shapes_are_refused_with_a_sentence() {
    let (_, w, hidden, mut targets) = setup();
    targets[2] = 13;
    let e = head_cross_entropy(&hidden, w.as_tensor(), &targets).unwrap_err();
    assert!(
        e.to_string().contains("outside the vocabulary of 13"),
        "{e}"
    );
    let e = head_cross_entropy(&hidden, w.as_tensor(), &targets[..3]).unwrap_err();
    assert!(e.to_string().contains("3 targets"), "{e}");
}

#[test]
fn a_nan_logit_gives_a_nan_loss() {
    let (_, w, hidden, targets) = setup();
    let bad = hidden.affine(f64::NAN, 0.0).unwrap();
    let loss = head_cross_entropy(&bad, w.as_tensor(), &targets).unwrap();
    assert!(loss.to_scalar::<f32>().unwrap().is_nan());
}
