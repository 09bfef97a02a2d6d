//! Story decoding speed: greedy tokens per second of GPT-2 with the KV cache.

use std::collections::HashMap;
use std::time::Instant;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::ml::kernels::packed_weight::WeightFormat;
use crate::ml::models::gpt2::{Config, Gpt2};
use crate::ml::sampling::argmax;
use crate::ml::Result;

#[derive(Debug, Clone, Serialize)]
pub struct GenerationBench {
    pub implementation: String,
    pub weights: WeightFormat,
    pub prompt_tokens: usize,
    pub new_tokens: usize,
    pub seconds: f64,
    pub tokens_per_second: f64,
    pub threads: usize,
}

/// Times greedy generation of `new_tokens` after a seeded random prompt, KV cache on, as
/// transformers' `generate(do_sample=False)` does it, with the linear weights in `format`.
pub fn bench_generation(
    cfg: &Config,
    weights: &HashMap<String, Tensor>,
    format: WeightFormat,
    prompt_tokens: usize,
    new_tokens: usize,
) -> Result<GenerationBench> {
    let device = Device::Cpu;
    let vb = VarBuilder::from_tensors(weights.clone(), candle_core::DType::F32, &device);
    let mut model = Gpt2::load(vb, cfg)?;
    model.pack_weights(format)?;
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
        implementation: format!("candle, {format} weights"),
        weights: format,
        prompt_tokens,
        new_tokens,
        seconds,
        tokens_per_second: new_tokens as f64 / seconds,
        threads: candle_core::utils::get_num_threads(),
    })
}
