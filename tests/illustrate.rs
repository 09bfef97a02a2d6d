//! VQGAN+CLIP on the tiny oracle models: similarity rises, seeds reproduce, cancel stops,
//! zero iterations with an init image give decode(quantize(encode(x))), bad sizes are refused.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{Device, Tensor};
use common::fixture;
use storybook_studio::ml::illustrate::{
    rgb_to_tensor, tensor_to_rgb, IllustrateOptions, Illustrator, ImageInputs, Outcome, Precision,
    Resume,
};
use storybook_studio::ml::kernels::force_composed_on_this_thread;
use storybook_studio::ml::models::clip::tokenize::ClipTokenizer;
use storybook_studio::ml::models::clip::{self, Clip};
use storybook_studio::ml::models::vqgan::{self, VqModel};
use storybook_studio::ml::Error;

struct Models {
    clip: Clip,
    tok: ClipTokenizer,
    vq: VqModel,
}

fn models() -> Models {
    let cfg = clip::Config::from_file(&fixture("clip-tiny/config.json")).unwrap();
    let vcfg = vqgan::Config::from_yaml_file(&fixture("vqgan-tiny/model.yaml")).unwrap();
    Models {
        clip: Clip::from_safetensors(&fixture("clip-tiny/model.safetensors"), &cfg, &Device::Cpu)
            .unwrap(),
        tok: ClipTokenizer::from_file(&fixture("clip-tiny/tokenizer.json"), 77).unwrap(),
        vq: VqModel::from_file(
            &fixture("vqgan-tiny/model.safetensors"),
            &vcfg,
            &Device::Cpu,
        )
        .unwrap(),
    }
}

fn opts(iterations: usize, seed: u64) -> IllustrateOptions {
    IllustrateOptions {
        width: 64,
        height: 48,
        iterations,
        cutn: 4,
        seed,
        preview_every: 10,
        ..IllustrateOptions::default()
    }
}

#[test]
fn thirty_iterations_raise_the_clip_similarity() {
    thirty_iterations_raise_the_clip_similarity_with(false);
}

/// The same check on the composed candle ops that CUDA and Metal run.
#[test]
fn thirty_iterations_raise_the_clip_similarity_composed() {
    thirty_iterations_raise_the_clip_similarity_with(true);
}

fn thirty_iterations_raise_the_clip_similarity_with(composed: bool) {
    force_composed_on_this_thread(composed);
    let m = models();
    let ill = Illustrator {
        clip: &m.clip,
        tokenizer: Some(&m.tok),
        vqgan: &m.vq,
    };
    let mut steps = 0;
    let mut frames = 0;
    let out = ill
        .run(
            "a photo of a cat",
            &ImageInputs::default(),
            &opts(30, 1),
            &AtomicBool::new(false),
            |r| {
                steps += 1;
                assert_eq!(r.step, steps);
                assert!(r.loss.is_finite());
                // Every step brings a time-left estimate; none is left after the last.
                let left = r.seconds_left.expect("an estimate at every step");
                assert!(left.is_finite() && left >= 0.0, "step {steps}: {left}");
                if r.step == r.iterations {
                    assert_eq!(left, 0.0);
                }
                if let Some(f) = r.frame {
                    assert_eq!((f.width(), f.height()), (64, 48));
                    frames += 1;
                }
            },
        )
        .unwrap();
    assert_eq!((steps, frames), (30, 3));
    assert_eq!(out.iterations, 30);
    assert!(
        out.final_similarity > out.initial_similarity,
        "similarity went from {} to {}",
        out.initial_similarity,
        out.final_similarity
    );
}

#[test]
fn the_same_seed_gives_the_same_image_and_another_seed_does_not() {
    let m = models();
    let ill = Illustrator {
        clip: &m.clip,
        tokenizer: Some(&m.tok),
        vqgan: &m.vq,
    };
    let never = AtomicBool::new(false);
    let run = |seed| {
        ill.run(
            "a red barn:1|fog:-0.3",
            &ImageInputs::default(),
            &opts(3, seed),
            &never,
            |_| {},
        )
        .unwrap()
        .image
    };
    let (a, b, c) = (run(5), run(5), run(6));
    assert_eq!(a.as_raw(), b.as_raw());
    assert_ne!(a.as_raw(), c.as_raw());
}

#[test]
fn cancel_stops_between_steps() {
    let m = models();
    let ill = Illustrator {
        clip: &m.clip,
        tokenizer: Some(&m.tok),
        vqgan: &m.vq,
    };
    let cancel = AtomicBool::new(false);
    let mut seen = 0;
    let err = ill
        .run(
            "a cat",
            &ImageInputs::default(),
            &opts(50, 0),
            &cancel,
            |r| {
                seen = r.step;
                if r.step == 3 {
                    cancel.store(true, Ordering::Relaxed);
                }
            },
        )
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled));
    assert_eq!(seen, 3);
}

#[test]
fn zero_iterations_with_an_init_image_reconstruct_it() {
    let m = models();
    let ill = Illustrator {
        clip: &m.clip,
        tokenizer: Some(&m.tok),
        vqgan: &m.vq,
    };
    let init = image::open(fixture("clip-tiny/images/circle_256x256.png"))
        .unwrap()
        .to_rgb8();
    let inputs = ImageInputs {
        init_image: Some(init.clone()),
        ..ImageInputs::default()
    };
    let mut o = opts(0, 0);
    o.width = 32;
    o.height = 32;
    let out = ill
        .run("a circle", &inputs, &o, &AtomicBool::new(false), |_| {})
        .unwrap();

    let small = image::imageops::resize(&init, 32, 32, image::imageops::FilterType::CatmullRom);
    let x = rgb_to_tensor(&small, &Device::Cpu)
        .unwrap()
        .affine(2.0, -1.0)
        .unwrap();
    let decoded = m.vq.decode(&m.vq.encode(&x).unwrap()).unwrap();
    let want = tensor_to_rgb(&((decoded + 1.0).unwrap() / 2.0).unwrap()).unwrap();
    assert_eq!(out.image.as_raw(), want.as_raw());
}

#[test]
fn impossible_sizes_are_refused_and_odd_ones_rounded() {
    let m = models();
    let ill = Illustrator {
        clip: &m.clip,
        tokenizer: Some(&m.tok),
        vqgan: &m.vq,
    };
    let never = AtomicBool::new(false);
    for (w, h, needle) in [(0, 0, "no pixels"), (30000, 30000, "too large")] {
        let mut o = opts(1, 0);
        o.width = w;
        o.height = h;
        let err = ill
            .run("a cat", &ImageInputs::default(), &o, &never, |_| {})
            .unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
    let mut o = opts(1, 0);
    o.width = 33;
    let out = ill
        .run("a cat", &ImageInputs::default(), &o, &never, |_| {})
        .unwrap();
    // The tiny VQGAN's grid is 2 pixels: 33 rounds to 34.
    assert_eq!(out.width, 34);
    assert!(out.warnings[0].contains("rounded to 34x48"));

    let err = ill
        .run("  ", &ImageInputs::default(), &opts(1, 0), &never, |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("nothing to illustrate"));
}

#[test]
fn progressive_refinement_starts_at_half_size_and_ends_at_full_size() {
    let m = models();
    let ill = Illustrator {
        clip: &m.clip,
        tokenizer: Some(&m.tok),
        vqgan: &m.vq,
    };
    let o = IllustrateOptions {
        progressive: true,
        preview_every: 1,
        ..opts(9, 4)
    };
    let mut sizes = Vec::new();
    let run = |sizes: &mut Vec<(u32, u32)>| {
        ill.run(
            "a photo of a cat",
            &ImageInputs::default(),
            &o,
            &AtomicBool::new(false),
            |r| {
                if let Some(f) = r.frame {
                    sizes.push((f.width(), f.height()));
                }
            },
        )
        .unwrap()
    };
    let out = run(&mut sizes);
    // 64x48 on the tiny model's 2-pixel grid: half is 32x24 for steps 1-6, full for 7-9.
    assert_eq!(sizes[..6], [(32, 24); 6]);
    assert_eq!(sizes[6..], [(64, 48); 3]);
    assert_eq!((out.image.width(), out.image.height()), (64, 48));
    assert!(out.final_similarity.is_finite());
    let again = run(&mut Vec::new());
    assert_eq!(
        again.image, out.image,
        "the same seed gives the same picture"
    );
}

/// Fused CPU kernels and the composed candle ops that CUDA and Metal run take the same first
/// step from the same seed: they differ only in the order of float additions. (Over 30 steps
/// the pictures drift apart, as any two summation orders do once a code flips in the
/// quantizer; both ways raising the similarity is checked above.)
#[test]
fn fused_and_composed_ops_take_the_same_step() {
    let run = |composed: bool| {
        force_composed_on_this_thread(composed);
        let m = models();
        let ill = Illustrator {
            clip: &m.clip,
            tokenizer: Some(&m.tok),
            vqgan: &m.vq,
        };
        ill.run(
            "a lighthouse in the rain",
            &ImageInputs::default(),
            &opts(1, 9),
            &AtomicBool::new(false),
            |_| {},
        )
        .unwrap()
    };
    let (fused, composed) = (run(false), run(true));
    let diffs: Vec<f32> = fused
        .image
        .as_raw()
        .iter()
        .zip(composed.image.as_raw())
        .map(|(&a, &b)| (a as f32 - b as f32).abs())
        .collect();
    let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
    let worst = diffs.iter().fold(0f32, |m, &d| m.max(d));
    eprintln!(
        "fused vs composed after one step: mean |Δ| {mean:.3}, max |Δ| {worst}, similarity {} vs {}",
        fused.final_similarity, composed.final_similarity
    );
    assert!(mean <= 1.0, "mean pixel difference {mean}");
    assert!(
        (fused.final_similarity - composed.final_similarity).abs() <= 1e-3,
        "similarity {} vs {}",
        fused.final_similarity,
        composed.final_similarity
    );
}

/// bf16 (on whichever kernel runs here, or the one `STORYBOOK_BF16_KERNEL` asks): the same seed gives
/// the same picture, and over three steps it follows f32's similarity and picture closely.
/// (Over 50 steps the pictures drift apart as any change of arithmetic makes them; `bench
/// precision` measures how far.) Without a bf16 kernel, bf16 is not run: the comparison says
/// f32 ran, why, and the pictures are identical.
#[test]
fn bf16_reproduces_its_seed_and_stays_near_f32() {
    let reference = models();
    let mut m = models();
    let prompt = "a lighthouse in the rain";
    let cost = storybook_studio::bench::precision::precision_cost(
        &reference.clip,
        &mut m.clip,
        &m.tok,
        &mut m.vq,
        prompt,
        &opts(3, 9),
    )
    .unwrap();
    let never = AtomicBool::new(false);
    let bf16 = IllustrateOptions {
        precision: Precision::Bf16,
        ..opts(3, 9)
    };
    // An f32 model refuses options that say bf16: a page must not record what did not run.
    let f32_ill = Illustrator {
        clip: &reference.clip,
        tokenizer: Some(&reference.tok),
        vqgan: &reference.vq,
    };
    let err = f32_ill
        .run(prompt, &ImageInputs::default(), &bf16, &never, |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("ask for bf16"), "{err}");
    if !storybook_studio::ml::kernels::bf16_gemm::available() {
        assert_eq!(cost.compared, Precision::F32);
        // The sentence says why, as the kernel choice words it.
        let why = storybook_studio::ml::kernels::bf16_gemm::unavailable_reason().unwrap();
        assert!(cost.warning.unwrap().contains(&why));
        assert_eq!(cost.psnr_db, None);
        assert_eq!(cost.max_gap, 0.0);
        return;
    }
    assert_eq!(cost.compared, Precision::Bf16);
    assert!(cost.max_gap < 0.005, "similarity gap {}", cost.max_gap);
    // Not identical (bf16 really ran), and far closer to f32's than another seed's picture.
    let psnr = cost.psnr_db.expect("bf16 changes the picture");
    let next_seed = cost.next_seed_psnr_db.unwrap();
    assert!(
        psnr > 20.0 && psnr > next_seed + 5.0,
        "{psnr} dB, next seed {next_seed} dB"
    );
    let ill = Illustrator {
        clip: &m.clip,
        tokenizer: Some(&m.tok),
        vqgan: &m.vq,
    };
    let draw = || {
        ill.run(prompt, &ImageInputs::default(), &bf16, &never, |_| {})
            .unwrap()
            .image
    };
    assert_eq!(draw().as_raw(), draw().as_raw());
    // Options that do not say what the model runs in are refused: a page must not lie.
    let err = ill
        .run(prompt, &ImageInputs::default(), &opts(1, 9), &never, |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("runs in bf16"), "{err}");

    // A state paused in bf16 and continued in f32 (another machine) says why it cannot go on.
    let targets = ill.prompt_targets(prompt, &bf16).unwrap();
    let stop = AtomicBool::new(false);
    let resume = Resume {
        from: None,
        save_every: Some(std::time::Duration::ZERO),
        key: prompt,
    };
    let paused = ill
        .run_resumable(
            targets.clone(),
            &ImageInputs::default(),
            &bf16,
            resume,
            &stop,
            |_| stop.store(true, Ordering::Relaxed),
        )
        .unwrap();
    let Outcome::Paused { state, .. } = paused else {
        panic!("the run did not pause")
    };
    let resume = Resume {
        from: Some(&state),
        save_every: None,
        key: prompt,
    };
    let Err(err) = f32_ill.run_resumable(
        targets,
        &ImageInputs::default(),
        &opts(3, 9),
        resume,
        &never,
        |_| {},
    ) else {
        panic!("a bf16 state continued in f32")
    };
    assert!(err.to_string().contains("was drawn in bf16"), "{err}");
}

/// The CLI frees the text tower and, without an init image, the encoder before its steps;
/// anything that asks for them afterwards gets a sentence, never a crash.
#[test]
fn freed_towers_say_so_when_asked_for() {
    let mut m = models();
    m.clip.free_text_tower();
    m.vq.free_encoder();
    let ill = Illustrator {
        clip: &m.clip,
        tokenizer: Some(&m.tok),
        vqgan: &m.vq,
    };
    let err = ill
        .run(
            "a circle",
            &ImageInputs::default(),
            &opts(1, 0),
            &AtomicBool::new(false),
            |_| {},
        )
        .unwrap_err();
    assert!(err.to_string().contains("text tower was freed"), "{err}");
    let x = Tensor::zeros((1, 3, 32, 32), candle_core::DType::F32, &Device::Cpu).unwrap();
    let err = m.vq.encode(&x).unwrap_err();
    assert!(err.to_string().contains("encoder was freed"), "{err}");
}
