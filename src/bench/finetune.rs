//! Fine-tuning throughput (tokens per second) and peak memory of GPT-2 124M.

use std::path::Path;
use std::time::Instant;

use candle_core::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::peak_rss_bytes;
use crate::ml::models::gpt2::Config;
use crate::ml::Result;

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
/// weights in `weights`, on seeded random token blocks, after one untimed step, as the
/// reference script does: the clock runs from the end of the first step to the end of the
/// last, so the optimiser's first-touch allocation and the checkpoint written after the epoch
/// are outside it, as they are outside PyTorch's loop.
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
    let blocks = corpus(batch_size * (steps + 1), &mut rng);
    let (mut first, mut last) = (None, None);
    let result = train(&trainable, &blocks, &opts, &scratch, &device, &never, |p| {
        let now = Instant::now();
        if p.step == 1 {
            first = Some(now);
        }
        last = Some(now);
    });
    let _ = std::fs::remove_dir_all(&scratch);
    result?;
    let (Some(first), Some(last)) = (first, last) else {
        return Err(crate::ml::Error::Input(
            "the benchmark's training ran no step".into(),
        ));
    };
    let seconds = (last - first).as_secs_f64().max(1e-9);
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
