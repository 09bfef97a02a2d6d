//! VQGAN+CLIP step time and peak memory at the real model shapes.

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{peak_rss_bytes, random_weights};
use crate::ml::Result;

#[derive(Debug, Clone, Serialize)]
pub struct IllustrateBench {
    pub implementation: &'static str,
    pub size: usize,
    pub cutn: usize,
    pub iterations: usize,
    pub seconds_per_iteration: f64,
    pub peak_rss_bytes: u64,
    pub stages: crate::ml::illustrate::StageTimes,
    pub threads: usize,
    /// What really ran: bf16 asked where no bf16 kernel runs is f32.
    pub precision: crate::ml::illustrate::Precision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// CLIP ViT-B/32 and VQGAN f16-16384 with random weights, and a random unit target.
struct RealShapes {
    clip: crate::ml::models::clip::Clip,
    vq: crate::ml::models::vqgan::VqModel,
    target: Tensor,
}

impl RealShapes {
    fn load() -> Result<Self> {
        use crate::ml::models::clip::{self, Clip};
        use crate::ml::models::vqgan::{self, VqModel};
        let device = Device::Cpu;
        let ccfg = clip::Config::vit_b_32();
        let clip = Clip::load(
            VarBuilder::from_tensors(
                random_weights(&clip::expected_keys(&ccfg), 1, &device)?,
                candle_core::DType::F32,
                &device,
            ),
            &ccfg,
        )?;
        let vcfg = vqgan::Config::imagenet_f16_16384();
        let vq = VqModel::load(
            VarBuilder::from_tensors(
                random_weights(&vqgan::expected_keys(&vcfg), 2, &device)?,
                candle_core::DType::F32,
                &device,
            ),
            &vcfg,
        )?;
        // A random unit target stands in for a text embedding; the tokenizer is never used.
        // Like `illustrate`, which frees them once its prompts are encoded, the steps run
        // without the text tower and, with no init image, without the encoder.
        let mut clip = clip;
        clip.free_text_tower();
        let mut vq = vq;
        vq.free_encoder();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let target: Vec<f32> = (0..ccfg.projection_dim)
            .map(|_| rng.random::<f32>() - 0.5)
            .collect();
        let target = clip::normalize(&Tensor::from_vec(
            target,
            (1, ccfg.projection_dim),
            &device,
        )?)?;
        Ok(Self { clip, vq, target })
    }

    fn run(
        &self,
        opts: &crate::ml::illustrate::IllustrateOptions,
        on_step: impl FnMut(crate::ml::illustrate::StepReport),
    ) -> Result<crate::ml::illustrate::Illustration> {
        let illustrator = crate::ml::illustrate::Illustrator {
            clip: &self.clip,
            tokenizer: None,
            vqgan: &self.vq,
        };
        illustrator.run_with_targets(
            vec![(self.target.clone(), 1.0)],
            &crate::ml::illustrate::ImageInputs::default(),
            opts,
            &std::sync::atomic::AtomicBool::new(false),
            on_step,
        )
    }
}

/// Times VQGAN+CLIP steps with the real f16-16384 and ViT-B/32 shapes (random weights), after
/// one untimed warm-up step.
pub fn bench_illustrate(
    size: usize,
    cutn: usize,
    iterations: usize,
    precision: crate::ml::illustrate::Precision,
) -> Result<IllustrateBench> {
    use crate::ml::illustrate::IllustrateOptions;
    let mut models = RealShapes::load()?;
    let (precision, warning) =
        crate::ml::illustrate::precision::prepare(&mut models.clip, &mut models.vq, precision)?;
    // As `illustrate` does once its models are ready: the freed towers (and f32 weights, in
    // bf16) go back to the system instead of waiting in the heap, 0.1 GiB off the peak.
    crate::memory::release_memory();
    let opts = IllustrateOptions {
        width: size,
        height: size,
        cutn,
        iterations: 1,
        preview_every: 0,
        precision,
        ..IllustrateOptions::default()
    };
    models.run(&opts, |_| {})?;
    let timed = models.run(
        &IllustrateOptions {
            iterations,
            ..opts.clone()
        },
        |_| {},
    )?;
    Ok(IllustrateBench {
        implementation: "candle",
        size,
        cutn,
        iterations,
        seconds_per_iteration: timed.seconds_per_iteration,
        peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
        stages: timed.stages,
        threads: candle_core::utils::get_num_threads(),
        precision,
        warning,
    })
}

/// The time-left estimate at one step against the time the run then really took.
#[derive(Debug, Clone, Serialize)]
pub struct EtaCheck {
    pub size: usize,
    pub cutn: usize,
    pub iterations: usize,
    pub progressive: bool,
    pub at_step: usize,
    /// The run's estimate at `at_step`.
    pub estimate_seconds: f64,
    /// What the studio and the CLI said before: the seconds since the run started (its
    /// setup too) over the steps done, times the steps left.
    pub naive_seconds: f64,
    /// From `at_step` to the run's end, its final picture included: when the user has it.
    pub actual_seconds: f64,
    /// estimate / actual − 1.
    pub error: f64,
    pub naive_error: f64,
}

/// Runs `iterations` steps with the default options (a preview every 10 steps; progressive
/// refinement when asked) and compares the estimate at `at_step` with the real remaining
/// time.
pub fn bench_eta(
    size: usize,
    cutn: usize,
    iterations: usize,
    at_step: usize,
    progressive: bool,
) -> Result<EtaCheck> {
    use crate::ml::illustrate::IllustrateOptions;
    use std::time::Instant;
    if at_step == 0 || at_step >= iterations {
        return Err(crate::ml::Error::Input(format!(
            "the check step must lie inside the run: 1 to {} (got {at_step})",
            iterations.saturating_sub(1)
        )));
    }
    let models = RealShapes::load()?;
    let opts = IllustrateOptions {
        width: size,
        height: size,
        cutn,
        iterations,
        progressive,
        ..IllustrateOptions::default()
    };
    let started = Instant::now();
    let mut at = None;
    models.run(&opts, |r| {
        if r.step == at_step {
            let elapsed = started.elapsed().as_secs_f64();
            let naive = elapsed / r.step as f64 * (r.iterations - r.step) as f64;
            at = Some((Instant::now(), r.seconds_left.unwrap_or(f64::NAN), naive));
        }
    })?;
    let (then, estimate, naive) = at.ok_or_else(|| {
        crate::ml::Error::Input(format!("the run has no step {at_step} to check at"))
    })?;
    let actual = then.elapsed().as_secs_f64();
    Ok(EtaCheck {
        size,
        cutn,
        iterations,
        progressive,
        at_step,
        estimate_seconds: estimate,
        naive_seconds: naive,
        actual_seconds: actual,
        error: estimate / actual - 1.0,
        naive_error: naive / actual - 1.0,
    })
}
