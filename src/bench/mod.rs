//! The `bench` subcommand's measurements: models of the real shapes with seeded random weights,
//! and timed loops, one file per benchmark. Speed is compared in benchmarks against the
//! reference scripts in `bench/`, never asserted in tests.

pub mod caption;
pub mod conv;
pub mod finetune;
pub mod gemm;
pub mod generation;
pub mod illustrate;
pub mod library;
pub mod library_search;
pub mod peak;
pub mod precision;
pub mod story_quality;
pub mod words;
pub mod words_zh;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::ml::models::gpt2::{expected_keys, Config, KeyLayout};
use crate::ml::Result;

pub use finetune::bench_finetune;
pub use generation::bench_generation;
pub use illustrate::bench_illustrate;

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
        // BERT's norms are `LayerNorm`, CLIP's and VQGAN's `layer_norm`, `norm`, `layrnorm`.
        let is_norm = name.to_ascii_lowercase().contains("norm") || name.contains("layrnorm");
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

/// The shortest of `runs` timed calls of `f`, in seconds: the run least disturbed by the rest
/// of the machine.
pub fn best_of(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t = std::time::Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}
