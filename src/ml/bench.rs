//! Benchmark support: models of the real shapes with seeded random weights, and timed loops.
//! Speed is compared in benchmarks, never asserted in tests.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::ml::gpt2::{expected_keys, Config, Gpt2, KeyLayout};
use crate::ml::sampling::argmax;
use crate::ml::Result;

/// Seeded weights of GPT-2's real shapes, named as in the hub file: small uniform noise for
/// matrices (std 0.02, as GPT-2's init), ones and zeros for LayerNorms.
pub fn random_gpt2_weights(cfg: &Config, seed: u64) -> Result<HashMap<String, Tensor>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let half_width = 0.02f32 * 3f32.sqrt();
    let mut tensors = HashMap::new();
    for (name, shape) in expected_keys(cfg, KeyLayout::Hub) {
        let count: usize = shape.iter().product();
        let values: Vec<f32> = if name.contains("ln_") && name.ends_with("weight") {
            vec![1.0; count]
        } else if name.contains("ln_") {
            vec![0.0; count]
        } else {
            (0..count)
                .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * half_width)
                .collect()
        };
        tensors.insert(name, Tensor::from_vec(values, shape, &Device::Cpu)?);
    }
    Ok(tensors)
}

#[derive(Debug, Clone, Serialize)]
pub struct GenerationBench {
    pub implementation: &'static str,
    pub prompt_tokens: usize,
    pub new_tokens: usize,
    pub seconds: f64,
    pub tokens_per_second: f64,
    pub threads: usize,
}

/// Times greedy generation of `new_tokens` after a seeded random prompt, KV cache on, as
/// transformers' `generate(do_sample=False)` does it.
pub fn bench_generation(
    cfg: &Config,
    weights: &HashMap<String, Tensor>,
    prompt_tokens: usize,
    new_tokens: usize,
) -> Result<GenerationBench> {
    let device = Device::Cpu;
    let vb = VarBuilder::from_tensors(weights.clone(), candle_core::DType::F32, &device);
    let model = Gpt2::load(vb, cfg)?;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let prompt: Vec<u32> = (0..prompt_tokens)
        .map(|_| rng.random_range(0..cfg.vocab_size as u32))
        .collect();
    // One warm-up pass so page faults and thread-pool start-up are not timed.
    let mut warm = model.new_cache();
    model.forward_last(
        &Tensor::new(prompt.as_slice(), &device)?.unsqueeze(0)?,
        &mut warm,
    )?;

    let started = Instant::now();
    let mut cache = model.new_cache();
    let mut input = Tensor::new(prompt.as_slice(), &device)?.unsqueeze(0)?;
    for _ in 0..new_tokens {
        let logits = model.forward_last(&input, &mut cache)?;
        let next = argmax(&logits.squeeze(0)?.to_vec1::<f32>()?).unwrap_or(0);
        input = Tensor::new(&[next], &device)?.unsqueeze(0)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(GenerationBench {
        implementation: "candle",
        prompt_tokens,
        new_tokens,
        seconds,
        tokens_per_second: new_tokens as f64 / seconds,
        threads: candle_core::utils::get_num_threads(),
    })
}

/// Writes weights as safetensors so the Python reference can load the very same numbers.
pub fn save_weights(weights: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
    candle_core::safetensors::save(weights, path)?;
    Ok(())
}

/// Seeded weights for any key/shape list: norms at one and zero, everything else small noise.
pub fn random_weights(
    keys: &std::collections::BTreeMap<String, Vec<usize>>,
    seed: u64,
    device: &Device,
) -> Result<HashMap<String, Tensor>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let half_width = 0.02f32 * 3f32.sqrt();
    let mut tensors = HashMap::new();
    for (name, shape) in keys {
        let count: usize = shape.iter().product();
        let is_norm = name.contains("norm") || name.contains("layrnorm");
        let values: Vec<f32> = if is_norm && name.ends_with("weight") {
            vec![1.0; count]
        } else if is_norm || name.ends_with("bias") {
            vec![0.0; count]
        } else if name == "logit_scale" {
            vec![2.6592; count.max(1)]
        } else {
            (0..count)
                .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * half_width)
                .collect()
        };
        tensors.insert(
            name.clone(),
            Tensor::from_vec(values, shape.clone(), device)?,
        );
    }
    Ok(tensors)
}

/// Peak resident memory of this process so far (VmHWM), where the OS reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

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
    use crate::ml::clip::{self, Clip};
    use crate::ml::illustrate::{IllustrateOptions, Illustrator, ImageInputs};
    use crate::ml::vqgan::{self, VqModel};
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

#[derive(Debug, Clone, Serialize)]
pub struct FinetuneBench {
    pub implementation: &'static str,
    pub block_size: usize,
    pub batch_size: usize,
    pub steps: usize,
    pub tokens_per_second: f64,
    pub peak_rss_bytes: u64,
    pub threads: usize,
}

/// Times full training steps (forward, backward, clipping, AdamW) of GPT-2 124M from the
/// weights in `weights`, on seeded random token blocks, after one untimed step.
pub fn bench_finetune(
    weights: &Path,
    block_size: usize,
    batch_size: usize,
    steps: usize,
) -> Result<FinetuneBench> {
    use crate::ml::finetune::{train, Corpus, FinetuneOptions, Trainable};
    let cfg = Config::gpt2_124m();
    let device = Device::Cpu;
    let trainable = Trainable::load(weights, &cfg, 0, &device)?;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let block = |rng: &mut ChaCha8Rng| -> Vec<u32> {
        (0..=block_size)
            .map(|_| rng.random_range(0..cfg.vocab_size as u32))
            .collect()
    };
    let corpus = |n: usize, rng: &mut ChaCha8Rng| Corpus {
        train: (0..n).map(|_| block(rng)).collect(),
        val: Vec::new(),
        tokens: n * block_size,
        warnings: Vec::new(),
    };
    let opts = FinetuneOptions {
        epochs: 1,
        batch_size,
        block_size,
        lr: 1e-5,
        val_split: 0.0,
        ..FinetuneOptions::default()
    };
    let scratch = std::env::temp_dir().join(format!("storybook-ft-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|source| crate::ml::Error::Io {
        path: scratch.clone(),
        source,
    })?;
    let never = std::sync::atomic::AtomicBool::new(false);
    let warm = corpus(batch_size, &mut rng);
    let result = (|| {
        train(&trainable, &warm, &opts, &scratch, &device, &never, |_| {})?;
        let timed = corpus(batch_size * steps, &mut rng);
        let started = Instant::now();
        train(&trainable, &timed, &opts, &scratch, &device, &never, |_| {})?;
        Ok::<f64, crate::ml::Error>(started.elapsed().as_secs_f64())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    let seconds = result?;
    Ok(FinetuneBench {
        implementation: "candle",
        block_size,
        batch_size,
        steps,
        tokens_per_second: (steps * batch_size * block_size) as f64 / seconds,
        peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
        threads: candle_core::utils::get_num_threads(),
    })
}
