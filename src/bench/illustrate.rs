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
}

/// Times VQGAN+CLIP steps with the real f16-16384 and ViT-B/32 shapes (random weights), after
/// one untimed warm-up step.
pub fn bench_illustrate(size: usize, cutn: usize, iterations: usize) -> Result<IllustrateBench> {
    use crate::ml::illustrate::{IllustrateOptions, Illustrator, ImageInputs};
    use crate::ml::models::clip::{self, Clip};
    use crate::ml::models::vqgan::{self, VqModel};
    use std::sync::atomic::AtomicBool;

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
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let target: Vec<f32> = (0..ccfg.projection_dim)
        .map(|_| rng.random::<f32>() - 0.5)
        .collect();
    let target = clip::normalize(&Tensor::from_vec(
        target,
        (1, ccfg.projection_dim),
        &device,
    )?)?;
    let opts = IllustrateOptions {
        width: size,
        height: size,
        cutn,
        iterations: 1,
        preview_every: 0,
        ..IllustrateOptions::default()
    };
    let illustrator = Illustrator {
        clip: &clip,
        tokenizer: None,
        vqgan: &vq,
    };
    let run = |opts: &IllustrateOptions| {
        illustrator.run_with_targets(
            vec![(target.clone(), 1.0)],
            &ImageInputs::default(),
            opts,
            &AtomicBool::new(false),
            |_| {},
        )
    };
    run(&opts)?;
    let timed = run(&IllustrateOptions {
        iterations,
        ..opts.clone()
    })?;
    Ok(IllustrateBench {
        implementation: "candle",
        size,
        cutn,
        iterations,
        seconds_per_iteration: timed.seconds_per_iteration,
        peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
        stages: timed.stages,
        threads: candle_core::utils::get_num_threads(),
    })
}
