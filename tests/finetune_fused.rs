//! The fused training paths against candle's autograd through the composed ops, on the tiny
//! GPT-2 oracle: our own whole training step (`FusedStep`), and autograd over the fused ops
//! (Conv1D, LayerNorm, GELU, attention, head and loss as single ops) that other models use;
//! the same loss, the same gradient for every weight, the same weights after three steps.

mod common;

use std::sync::atomic::AtomicBool;

use candle_core::{Device, Tensor};
use common::{fixture, max_rel};
use storybook_studio::ml::finetune::gpt2_step::FusedStep;
use storybook_studio::ml::finetune::{lm_loss, train, Corpus, FinetuneOptions, Trainable};
use storybook_studio::ml::kernels::force_composed_on_this_thread;
use storybook_studio::ml::models::gpt2::Config;

fn load() -> Trainable {
    load_freezing(0)
}

fn load_freezing(freeze: usize) -> Trainable {
    let cfg = Config::from_file(&fixture("gpt2-tiny/config.json")).unwrap();
    Trainable::load(
        &fixture("gpt2-tiny/model.safetensors"),
        &cfg,
        freeze,
        &Device::Cpu,
    )
    .unwrap()
}

/// Two blocks of 33 tokens spread over the vocabulary, so the embedding gradient has rows
/// from both the input lookup and the tied head; each token comes back after 20 positions, so
/// a row of the embedding gathers the gradient of several positions.
fn blocks() -> Vec<Vec<u32>> {
    (0..2u32)
        .map(|b| {
            (0..33u32)
                .map(|i| ((i % 20) * 7919 + b * 104_729) % 50_257)
                .collect()
        })
        .collect()
}

/// `‖a − b‖ / ‖b‖`: unlike the largest-element measure, it weighs every row of a tall weight
/// (the 50,257-row embedding) by what it holds.
fn l2_rel(a: &Tensor, b: &Tensor) -> f32 {
    let norm = |t: &Tensor| {
        let s = t.sqr().unwrap().sum_all().unwrap();
        s.to_scalar::<f32>().unwrap().sqrt()
    };
    norm(&(a - b).unwrap()) / norm(b).max(1e-30)
}

#[test]
fn autograd_over_the_fused_ops_gives_the_composed_loss_and_gradients() {
    let model = load();
    let flat: Vec<u32> = blocks().concat();
    let ids = Tensor::from_vec(flat, (2, 33), &Device::Cpu).unwrap();
    let mut runs = Vec::new();
    for composed in [true, false] {
        force_composed_on_this_thread(composed);
        let loss = lm_loss(&model.model, &ids).unwrap();
        let grads = loss.backward().unwrap();
        let per_weight: Vec<Tensor> = model
            .variables()
            .iter()
            .map(|v| {
                grads
                    .get(v.as_tensor())
                    .expect("every weight gets a gradient")
                    .clone()
            })
            .collect();
        runs.push((loss.to_scalar::<f32>().unwrap(), per_weight));
    }
    force_composed_on_this_thread(false);
    let ((l_ref, g_ref), (l_ours, g_ours)) = (&runs[0], &runs[1]);
    assert!(
        (l_ref - l_ours).abs() < 1e-5 * l_ref.abs(),
        "loss {l_ours} vs {l_ref}"
    );
    assert_eq!(g_ref.len(), model.variables().len());
    for (i, (ours, theirs)) in g_ours.iter().zip(g_ref).enumerate() {
        assert_eq!(ours.dims(), theirs.dims(), "weight {i}");
        let (rel, l2) = (max_rel(ours, theirs), l2_rel(ours, theirs));
        assert!(
            rel < 1e-4 && l2 < 1e-4,
            "weight {i} ({:?}): gradients differ by {rel} (largest), {l2} (L2)",
            theirs.dims()
        );
    }
}

/// Adam's step hardly depends on the gradient's scale, so this checks the step's plumbing (the
/// optimiser reads the right buffers, clipping, frozen weights); the tests above check the
/// gradients themselves.
#[test]
fn three_fused_steps_move_the_weights_as_three_composed_steps_do() {
    for freeze in [0, 1] {
        three_steps(freeze);
    }
}

fn three_steps(freeze: usize) {
    let corpus = Corpus {
        train: [blocks(), blocks(), blocks()].concat(),
        val: Vec::new(),
        tokens: 6 * 32,
        warnings: Vec::new(),
    };
    let opts = FinetuneOptions {
        epochs: 1,
        batch_size: 2,
        block_size: 32,
        lr: 1e-3,
        val_split: 0.0,
        warmup: 0.0,
        // Tight enough that clipping acts on every step.
        max_grad_norm: 0.5,
        ..FinetuneOptions::default()
    };
    let never = AtomicBool::new(false);
    let mut weights = Vec::new();
    for composed in [true, false] {
        force_composed_on_this_thread(composed);
        let model = load_freezing(freeze);
        let out = tempfile::tempdir().unwrap();
        let start: Vec<Tensor> = model
            .variables()
            .iter()
            .map(|v| v.as_tensor().copy().unwrap())
            .collect();
        let mut steps = 0;
        train(
            &model,
            &corpus,
            &opts,
            out.path(),
            &Device::Cpu,
            &never,
            |_| steps += 1,
        )
        .unwrap();
        assert_eq!(steps, 3);
        let moved = model
            .variables()
            .iter()
            .zip(&start)
            .map(|(v, s)| (v.as_tensor() - s).unwrap())
            .collect::<Vec<_>>();
        weights.push(moved);
    }
    force_composed_on_this_thread(false);
    // Adam's early steps are near ±lr for every element, whatever the gradient's size, so an
    // element whose gradient is close to zero may step either way on a rounding difference.
    // The steps are compared as whole vectors: the L2 norm of their difference against theirs.
    let norm = |t: &Tensor| {
        t.sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
            .sqrt()
    };
    for (i, (ours, theirs)) in weights[1].iter().zip(&weights[0]).enumerate() {
        let rel = norm(&(ours - theirs).unwrap()) / norm(theirs).max(1e-12);
        assert!(
            rel < 1e-2,
            "freeze {freeze}, weight {i}: the steps differ by {rel} of their length"
        );
        assert!(norm(theirs) > 0.0, "weight {i} did not move");
    }
}

#[test]
fn our_own_step_gives_autograds_loss_and_gradient_for_every_weight() {
    let model = load();
    let blocks = blocks();
    let ids = Tensor::from_vec(blocks.concat(), (2, 33), &Device::Cpu).unwrap();
    force_composed_on_this_thread(true);
    let loss = lm_loss(&model.model, &ids).unwrap();
    let grads = loss.backward().unwrap();
    force_composed_on_this_thread(false);
    let mut step = FusedStep::new(&model)
        .unwrap()
        .expect("the step covers the tiny GPT-2");
    let refs: Vec<&Vec<u32>> = blocks.iter().collect();
    let ours = step.run(&refs).unwrap() as f32;
    let theirs = loss.to_scalar::<f32>().unwrap();
    assert!(
        (ours - theirs).abs() < 1e-5 * theirs,
        "loss {ours} vs {theirs}"
    );
    let all = model.all_variables().unwrap();
    assert_eq!(all.len(), 2 + 12 * 2 + 2, "the tiny model's weights");
    for (name, var) in &all {
        let want = grads
            .get(var.as_tensor())
            .expect("autograd reaches every weight");
        let got = step
            .gradient(var)
            .expect("the step has every weight's gradient");
        let got = Tensor::from_slice(got, want.shape(), &Device::Cpu).unwrap();
        let (rel, l2) = (max_rel(&got, want), l2_rel(&got, want));
        assert!(
            rel < 1e-4 && l2 < 1e-4,
            "{name}: gradients differ by {rel} (largest), {l2} (L2)"
        );
    }
    // Ids outside the vocabulary and ragged blocks are refused with a sentence.
    let bad = [vec![0u32, 50_257, 3]];
    let e = step.run(&bad.iter().collect::<Vec<_>>()).unwrap_err();
    assert!(e.to_string().contains("outside the vocabulary"), "{e}");
    let ragged = [vec![1u32, 2, 3], vec![1u32, 2]];
    let e = step.run(&ragged.iter().collect::<Vec<_>>()).unwrap_err();
    assert!(e.to_string().contains("same length"), "{e}");
}
