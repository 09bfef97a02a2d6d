//! `bench story`: GPT-2 124M's writing speed with f32, bf16 or q8 weights; and
//! `bench story-quality`: what bf16 and q8 cost its writing, measured against f32 on one model.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::story::load_story_model;
use super::GlobalArgs;
use crate::bench::story_quality::{format_quality, FormatQuality};
use crate::bench::{bench_generation, random_gpt2_weights, save_weights};
use crate::ml::kernels::packed_weight::WeightFormat;
use crate::ml::models::gpt2::Config;

/// What `bench story` was asked.
pub struct StorySpeed {
    pub prompt_tokens: usize,
    pub new_tokens: usize,
    /// Also write the random weights here, for the reference script to load.
    pub save_weights: Option<PathBuf>,
    pub seed: u64,
    pub weights: WeightFormat,
}

pub fn story_speed(global: &GlobalArgs, ask: StorySpeed) -> anyhow::Result<()> {
    let cfg = Config::gpt2_124m();
    let weights = random_gpt2_weights(&cfg, ask.seed)?;
    if let Some(path) = &ask.save_weights {
        save_weights(&weights, path)?;
    }
    let format = ask.weights;
    let result = bench_generation(&cfg, &weights, format, ask.prompt_tokens, ask.new_tokens)?;
    if global.json {
        return super::print_json(&result);
    }
    println!(
        "candle GPT-2 124M, {format} weights: {:.2} tokens/s ({} new tokens after {} in {:.2} s, \
         {} threads)",
        result.tokens_per_second,
        result.new_tokens,
        result.prompt_tokens,
        result.seconds,
        result.threads
    );
    Ok(())
}

#[derive(Serialize)]
struct Report {
    model: String,
    prompts: usize,
    steps: usize,
    formats: Vec<FormatQuality>,
}

pub fn story_quality(
    global: &GlobalArgs,
    dir: &Path,
    texts: &[String],
    steps: usize,
) -> anyhow::Result<()> {
    let loaded = load_story_model(global, Some(dir))?;
    let prompts = if texts.is_empty() {
        oracle_prompts(&loaded.location)?
    } else {
        texts
            .iter()
            .map(|t| loaded.tokenizer.encode(t))
            .collect::<Result<Vec<_>, _>>()?
    };
    if let Some(n) = prompts.iter().position(|p| p.is_empty()) {
        anyhow::bail!("prompt {} has no tokens; give it a few words", n + 1);
    }
    let mut formats = Vec::new();
    for format in [WeightFormat::Bf16, WeightFormat::Q8] {
        let mut packed = loaded.model.clone();
        packed.pack_weights(format)?;
        formats.push(format_quality(&loaded.model, &packed, &prompts, steps)?);
    }
    let report = Report {
        model: loaded.location.display().to_string(),
        prompts: prompts.len(),
        steps,
        formats,
    };
    if global.json {
        return super::print_json(&report);
    }
    println!(
        "GPT-2 at {}: {} prompts, {} greedy tokens each, against f32",
        report.model, report.prompts, report.steps
    );
    println!(
        "{:8}{:>8}{:>11}{:>11}{:>12}{:>14}{:>18}{:>11}",
        "weights", "bytes", "mean KL", "max KL", "top-1", "greedy", "greedy, pen. 1.3", "unchanged"
    );
    for q in &report.formats {
        println!(
            "{:8}{:>7.2}×{:>11.2e}{:>11.2e}{:>12}{:>14}{:>18}{:>11}",
            q.weights.name(),
            q.weight_bytes_ratio,
            q.mean_kl,
            q.max_kl,
            format!("{}/{}", q.top1_agree, q.positions),
            format!("{}/{}", q.greedy_agree, q.greedy_total),
            format!("{}/{}", q.greedy_penalty_agree, q.greedy_total),
            format!("{}/{}", q.prompts_unchanged, report.prompts),
        );
    }
    Ok(())
}

/// The prompts' ids in the folder's `reference.json` (the oracle's), with a sentence when it
/// has none.
fn oracle_prompts(dir: &Path) -> anyhow::Result<Vec<Vec<u32>>> {
    let folder = if dir.is_dir() {
        dir
    } else {
        dir.parent().unwrap_or(dir)
    };
    let path = folder.join("reference.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{} has no reference.json with prompts; give some with --prompt",
            folder.display()
        )
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let prompts: Option<Vec<Vec<u32>>> = json["prompts"].as_array().map(|ps| {
        ps.iter()
            .filter_map(|p| {
                let ids = if p["input_ids"].is_null() {
                    &p["ids"]
                } else {
                    &p["input_ids"]
                };
                serde_json::from_value(ids.clone()).ok()
            })
            .collect()
    });
    match prompts {
        Some(p) if !p.is_empty() => Ok(p),
        _ => anyhow::bail!(
            "{} lists no prompts' input_ids; give some with --prompt",
            path.display()
        ),
    }
}
