//! Tests of the fused cross-entropy: its value and gradient against candle_nn's composed
//! version and finite differences, in f64 and f32, and on the tiny GPT-2.

use super::*;
use candle_core::{Device, Var};

fn logits_f64() -> (Vec<f64>, Vec<u32>) {
    // Three rows of seven, with large and negative values so the max shift matters.
    let x: Vec<f64> = (0..21)
        .map(|i| ((i * 37 % 11) as f64 - 5.0) * 0.9 + if i == 4 { 40.0 } else { 0.0 })
        .collect();
    (x, vec![2, 6, 0])
}

fn tensors(x: &[f64], t: &[u32]) -> (Var, Tensor) {
    let dev = Device::Cpu;
    (
        Var::from_tensor(&Tensor::from_slice(x, (3, 7), &dev).unwrap()).unwrap(),
        Tensor::new(t, &dev).unwrap(),
    )
}

#[test]
fn forward_equals_candle_nn_cross_entropy() {
    let (x, t) = logits_f64();
    let (x, t) = tensors(&x, &t);
    let ours = cross_entropy(x.as_tensor(), &t).unwrap();
    let reference = candle_nn::loss::cross_entropy(x.as_tensor(), &t).unwrap();
    let (a, b) = (
        ours.to_scalar::<f64>().unwrap(),
        reference.to_scalar::<f64>().unwrap(),
    );
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    assert!(a > 0.0);
}

#[test]
fn gradient_matches_finite_differences_and_candle_nn() {
    let (x0, t) = logits_f64();
    let (x, tt) = tensors(&x0, &t);
    // A scale other than one checks that the upstream gradient is applied.
    let loss = (cross_entropy(x.as_tensor(), &tt).unwrap() * 2.5).unwrap();
    let ours = loss.backward().unwrap();
    let ours = ours.get(x.as_tensor()).unwrap().flatten_all().unwrap();
    let ours = ours.to_vec1::<f64>().unwrap();

    let reference = (candle_nn::loss::cross_entropy(x.as_tensor(), &tt).unwrap() * 2.5)
        .unwrap()
        .backward()
        .unwrap();
    let reference = reference.get(x.as_tensor()).unwrap().flatten_all().unwrap();
    let reference = reference.to_vec1::<f64>().unwrap();

    let f = |v: &[f64]| {
        let (x, tt) = tensors(v, &t);
        2.5 * cross_entropy(x.as_tensor(), &tt)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let h = 1e-6;
    let mut worst = 0f64;
    for i in 0..x0.len() {
        let (mut up, mut down) = (x0.clone(), x0.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (f(&up) - f(&down)) / (2.0 * h);
        worst = worst.max((ours[i] - fd).abs());
        assert!((ours[i] - reference[i]).abs() < 1e-12, "element {i}");
    }
    assert!(worst < 1e-7, "max |grad - fd| = {worst}");
    assert!(ours.iter().any(|g| g.abs() > 0.1));
}

#[test]
fn f32_matches_f64_and_bad_targets_are_errors() {
    let (x, t) = logits_f64();
    let dev = Device::Cpu;
    let x32 = Tensor::from_slice(&x, (3, 7), &dev)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
    let a = cross_entropy(&x32, &Tensor::new(t.as_slice(), &dev).unwrap())
        .unwrap()
        .to_scalar::<f32>()
        .unwrap() as f64;
    let (x64, t64) = tensors(&x, &t);
    let b = cross_entropy(x64.as_tensor(), &t64)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    let out_of_range = Tensor::new(&[0u32, 7, 1], &dev).unwrap();
    let err = cross_entropy(&x32, &out_of_range).unwrap_err().to_string();
    assert!(err.contains("outside the vocabulary"), "{err}");
    let too_few = Tensor::new(&[0u32, 1], &dev).unwrap();
    assert!(cross_entropy(&x32, &too_few).is_err());
}

#[test]
fn non_contiguous_logits_give_the_same_loss() {
    let (x, t) = logits_f64();
    let dev = Device::Cpu;
    let xt = Tensor::from_slice(&x, (7, 3), &dev).unwrap().t().unwrap();
    let contiguous = xt.contiguous().unwrap();
    let t = Tensor::new(t.as_slice(), &dev).unwrap();
    let a = cross_entropy(&xt, &t).unwrap().to_scalar::<f64>().unwrap();
    let b = cross_entropy(&contiguous, &t)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert_eq!(a, b);
}

#[test]
fn gpt2_gradients_equal_those_of_candle_nn_cross_entropy() {
    use crate::ml::finetune::Trainable;
    use crate::ml::models::gpt2::Config;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gpt2-tiny");
    let cfg = Config::from_file(&dir.join("config.json")).unwrap();
    let model = Trainable::load(&dir.join("model.safetensors"), &cfg, 0, &Device::Cpu).unwrap();
    let ids: Vec<u32> = (0..2 * 17).map(|i| (i * 7919 % 50257) as u32).collect();
    let blocks = Tensor::from_vec(ids, (2, 17), &Device::Cpu).unwrap();
    let fused = crate::ml::finetune::lm_loss(&model.model, &blocks).unwrap();
    let inputs = blocks.narrow(1, 0, 16).unwrap();
    let targets = blocks.narrow(1, 1, 16).unwrap().flatten_all().unwrap();
    let logits = model
        .model
        .forward(&inputs, &mut model.model.new_cache())
        .unwrap()
        .reshape((32, cfg.vocab_size))
        .unwrap();
    let composed = candle_nn::loss::cross_entropy(&logits, &targets).unwrap();
    let (a, b) = (
        fused.to_scalar::<f32>().unwrap(),
        composed.to_scalar::<f32>().unwrap(),
    );
    assert!((a - b).abs() < 1e-5, "loss {a} vs {b}");
    let (ga, gb) = (fused.backward().unwrap(), composed.backward().unwrap());
    for var in &model.trainable {
        let (x, y) = (
            ga.get(var.as_tensor()).unwrap(),
            gb.get(var.as_tensor()).unwrap(),
        );
        let scale = y
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let diff = (x - y).unwrap().abs().unwrap().max_all().unwrap();
        let diff = diff.to_scalar::<f32>().unwrap();
        assert!(scale > 0.0 && diff <= 1e-4 * scale, "{diff} of {scale}");
    }
}
