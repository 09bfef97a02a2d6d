//! `bench story-quality`: what bf16 and q8 weights cost GPT-2's writing, measured against f32
//! on the same model.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::story::load_story_model;
use super::GlobalArgs;
use crate::bench::story_quality::{format_quality, FormatQuality};
use crate::ml::kernels::packed_weight::WeightFormat;

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
