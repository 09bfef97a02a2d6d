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
