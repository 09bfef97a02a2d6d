//! Pausing and resuming an illustration on the tiny oracle models: a run paused at any step
//! and continued from its saved state draws exactly the pixels of an uninterrupted run, across
//! progressive refinement's switch too; a state saved for other settings is refused.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use candle_core::Device;
use common::fixture;
use storybook_studio::ml::illustrate::{
    saved_step, IllustrateOptions, Illustrator, ImageInputs, Outcome, Resume,
};
use storybook_studio::ml::models::clip::tokenize::ClipTokenizer;
use storybook_studio::ml::models::clip::{self, Clip};
use storybook_studio::ml::models::vqgan::{self, VqModel};

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

fn opts(progressive: bool) -> IllustrateOptions {
    IllustrateOptions {
        width: 64,
        height: 48,
        iterations: 12,
        cutn: 3,
        seed: 11,
        preview_every: 0,
        progressive,
        ..IllustrateOptions::default()
    }
}

/// Runs to the end, or pauses once `pause_after` steps are done; also returns every state the
/// run handed out on the way.
fn run(
    ill: &Illustrator,
    opts: &IllustrateOptions,
    from: Option<&[u8]>,
    pause_after: Option<usize>,
) -> (Outcome, Vec<(usize, Vec<u8>)>) {
    let cancel = AtomicBool::new(false);
    let mut states = Vec::new();
    let targets = ill.prompt_targets("a red fox", opts).unwrap();
    let resume = Resume {
        from,
        save_every: Some(Duration::ZERO),
        key: "a red fox",
    };
    let outcome = ill
        .run_resumable(
            targets,
            &ImageInputs::default(),
            opts,
            resume,
            &cancel,
            |r| {
                if let Some(s) = r.state {
                    states.push((r.step, s.to_vec()));
                }
                if Some(r.step) == pause_after {
                    cancel.store(true, Ordering::Relaxed);
                }
            },
        )
        .unwrap();
    (outcome, states)
}

fn image_of(outcome: Outcome) -> Vec<u8> {
    match outcome {
        Outcome::Done(done) => done.image.into_raw(),
        Outcome::Paused { step, .. } => panic!("paused at {step}"),
    }
}

#[test]
fn a_paused_run_resumes_to_the_same_pixels_at_every_step() {
    let m = models();
    let ill = Illustrator {
        clip: &m.clip,
        tokenizer: Some(&m.tok),
        vqgan: &m.vq,
    };
    for progressive in [false, true] {
        let opts = opts(progressive);
        let (whole, states) = run(&ill, &opts, None, None);
        let whole = image_of(whole);
        assert_eq!(
            states.len(),
            opts.iterations - 1,
            "a state after every step but the last"
        );
        // Progressive runs switch size at step 9: pausing at 8 and 9 crosses it both ways.
        for pause in [1, 5, 8, 9, 11] {
            let (paused, _) = run(&ill, &opts, None, Some(pause));
            let Outcome::Paused { step, state } = paused else {
                panic!("the run did not pause at {pause}");
            };
            assert_eq!(step, pause);
            assert_eq!(saved_step(&state, &opts), Some(pause));
            let (resumed, _) = run(&ill, &opts, Some(&state), None);
            assert!(
                image_of(resumed) == whole,
                "progressive {progressive}: resumed after step {pause}, the pixels differ"
            );
            // The periodic state of the same step continues the same way.
            let (_, periodic) = states.iter().find(|(s, _)| *s == pause).unwrap();
            assert_eq!(periodic, &state, "step {pause}");
        }
    }
}

#[test]
fn a_state_for_other_settings_or_damaged_bytes_is_refused() {
    let m = models();
    let ill = Illustrator {
        clip: &m.clip,
        tokenizer: Some(&m.tok),
        vqgan: &m.vq,
    };
    let opts = opts(false);
    let (paused, _) = run(&ill, &opts, None, Some(3));
    let Outcome::Paused { state, .. } = paused else {
        panic!("did not pause");
    };
    let other = IllustrateOptions {
        cutn: 4,
        ..opts.clone()
    };
    assert_eq!(saved_step(&state, &other), None);
    let targets = ill.prompt_targets("a red fox", &other).unwrap();
    let resume = Resume {
        from: Some(&state),
        save_every: None,
        key: "a red fox",
    };
    let err = ill
        .run_resumable(
            targets,
            &ImageInputs::default(),
            &other,
            resume,
            &AtomicBool::new(false),
            |_| {},
        )
        .err()
        .expect("refused");
    assert!(err.to_string().contains("other settings"), "{err}");
    // A preview cadence is not a setting of the picture: the state still fits.
    let previews = IllustrateOptions {
        preview_every: 2,
        ..opts.clone()
    };
    assert_eq!(saved_step(&state, &previews), Some(3));
    assert_eq!(saved_step(&state[..state.len() / 2], &opts), None);
    assert_eq!(saved_step(b"garbage", &opts), None);
}
