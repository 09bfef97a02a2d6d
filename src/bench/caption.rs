//! Caption latency: BLIP large's real shapes with seeded random weights, one picture through
//! preprocessing, the vision tower and a fixed number of greedy decoder steps, as the reference
//! script `bench/blip_torch.py` times transformers' `generate` on the same weights.

use std::path::Path;
use std::time::Instant;

use candle_core::Device;
use serde::Serialize;

use crate::ml::models::blip::{expected_keys, Blip, Config};
use crate::ml::words::beam::Search;
use crate::ml::Result;

#[derive(Debug, Clone, Serialize)]
pub struct CaptionBench {
    pub implementation: &'static str,
    pub new_tokens: usize,
    /// One caption from pixels: preprocessing, vision tower and decoding.
    pub seconds: f64,
    pub vision_seconds: f64,
    pub decode_seconds: f64,
    pub threads: usize,
    pub peak_rss_bytes: u64,
}

/// Writes BLIP large's config and random weights to `dir` (config.json, model.safetensors).
pub fn write_random_blip(dir: &Path, seed: u64) -> Result<Config> {
    let cfg = Config::captioning_large();
    // Without the head's tied copies, so both sides use the word embeddings as the head.
    let keys = expected_keys(&cfg)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("text_decoder.cls.predictions.decoder."))
        .collect();
    let weights = super::random_weights(&keys, seed, &Device::Cpu)?;
    std::fs::create_dir_all(dir).map_err(|source| crate::ml::Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    super::save_weights(&weights, &dir.join("model.safetensors"))?;
    let json = serde_json::json!({
        "vision_config": {
            "hidden_size": cfg.vision_config.hidden_size,
            "intermediate_size": cfg.vision_config.intermediate_size,
            "num_hidden_layers": cfg.vision_config.num_hidden_layers,
            "num_attention_heads": cfg.vision_config.num_attention_heads,
            "image_size": cfg.vision_config.image_size,
            "patch_size": cfg.vision_config.patch_size,
        },
        "text_config": {
            "num_attention_heads": cfg.text_config.num_attention_heads,
            "encoder_hidden_size": cfg.text_config.encoder_hidden_size,
        },
    });
    let path = dir.join("config.json");
    std::fs::write(&path, json.to_string()).map_err(|source| crate::ml::Error::Io {
        path: path.clone(),
        source,
    })?;
    Ok(cfg)
}

/// Times one caption of a seeded 640×480 picture, after one untimed warm-up caption.
pub fn bench_caption(weights: &Path, cfg: &Config, new_tokens: usize) -> Result<CaptionBench> {
    let device = Device::Cpu;
    let blip = Blip::from_safetensors(weights, cfg, &device)?;
    let picture = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 251) as u8])
    });
    // Random weights rarely say [SEP]; never stopping makes both sides decode the same count.
    let search = Search {
        beams: 1,
        max_new_tokens: new_tokens,
        end: u32::MAX,
    };
    let start = [cfg.text_config.bos_token_id];
    let run = || -> Result<(f64, f64, f64)> {
        let t0 = Instant::now();
        let states = blip.encode_image(&blip.pixels(&picture)?)?;
        let vision = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let ids = crate::ml::words::caption::generate_ids(&blip, &states, &start, &search)?;
        debug_assert_eq!(ids.len(), new_tokens);
        Ok((
            t0.elapsed().as_secs_f64(),
            vision,
            t1.elapsed().as_secs_f64(),
        ))
    };
    run()?;
    let (seconds, vision_seconds, decode_seconds) = run()?;
    Ok(CaptionBench {
        implementation: "candle",
        new_tokens,
        seconds,
        vision_seconds,
        decode_seconds,
        threads: candle_core::utils::get_num_threads(),
        peak_rss_bytes: super::peak_rss_bytes().unwrap_or(0),
    })
}
