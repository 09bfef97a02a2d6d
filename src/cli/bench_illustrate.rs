//! `bench illustrate` (one VQGAN+CLIP step at the real shapes), `bench eta` (the time-left
//! estimate against the time a run really takes) and `bench precision` (bf16's quality cost).

use std::path::PathBuf;

use super::GlobalArgs;
use crate::bench::bench_illustrate;
use crate::bench::illustrate::bench_eta;
use crate::bench::precision::precision_cost;
use crate::ml::illustrate::IllustrateOptions;
use crate::ml::weights::{from_folder, ModelKind, Origin};

pub fn illustrate(
    global: &GlobalArgs,
    size: usize,
    cutn: usize,
    iterations: usize,
    precision: crate::ml::illustrate::Precision,
) -> anyhow::Result<()> {
    let result = bench_illustrate(size, cutn, iterations.max(1), precision)?;
    if let Some(w) = &result.warning {
        eprintln!("warning: {w}");
    }
    if global.json {
        return super::print_json(&result);
    }
    let s = &result.stages;
    println!(
        "candle VQGAN+CLIP {size}x{size}, cutn {cutn}, {}: {:.2} s/iteration, peak RSS {:.2} GiB\n  \
         decode {:.2} s, CLIP forward {:.2} s, CLIP backward {:.2} s, decoder backward {:.2} s, \
         optimiser {:.3} s",
        result.precision,
        result.seconds_per_iteration,
        result.peak_rss_bytes as f64 / (1u64 << 30) as f64,
        s.decode_forward,
        s.clip_forward,
        s.clip_backward,
        s.decoder_backward,
        s.optimizer
    );
    Ok(())
}

pub fn eta(
    global: &GlobalArgs,
    size: usize,
    cutn: usize,
    iterations: usize,
    at_step: usize,
    progressive: bool,
) -> anyhow::Result<()> {
    let r = bench_eta(size, cutn, iterations, at_step, progressive)?;
    if global.json {
        return super::print_json(&r);
    }
    println!(
        "{size}², cutn {cutn}, {iterations} steps{}: at step {at_step} the estimate said \
         {:.1} s left, the run took {:.1} s more ({:+.1}%); the average so far would have said \
         {:.1} s ({:+.1}%)",
        if progressive { ", progressive" } else { "" },
        r.estimate_seconds,
        r.actual_seconds,
        r.error * 100.0,
        r.naive_seconds,
        r.naive_error * 100.0
    );
    Ok(())
}

pub fn precision(
    global: &GlobalArgs,
    clip: Option<PathBuf>,
    vqgan: Option<PathBuf>,
    prompt: &str,
    opts: &IllustrateOptions,
) -> anyhow::Result<()> {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let clip_dir = clip.unwrap_or_else(|| fixtures.join("clip-tiny"));
    let vq_dir = vqgan.unwrap_or_else(|| fixtures.join("vqgan-tiny"));
    let device = crate::ml::device::open(&global.device)?;
    let clip_files =
        from_folder(ModelKind::Clip, &clip_dir, Origin::Explicit).map_err(anyhow::Error::msg)?;
    let vq_files =
        from_folder(ModelKind::Vqgan, &vq_dir, Origin::Explicit).map_err(anyhow::Error::msg)?;
    let (f32_clip, tokenizer) = crate::ml::models::load::clip(&clip_files, &device)?;
    let (mut clip, _) = crate::ml::models::load::clip(&clip_files, &device)?;
    let mut vq = crate::ml::models::load::vqgan(&vq_files, &device)?;
    let r = precision_cost(&f32_clip, &mut clip, &tokenizer, &mut vq, prompt, opts)?;
    if let Some(w) = &r.warning {
        eprintln!("warning: {w}");
    }
    if global.json {
        return super::print_json(&r);
    }
    let last = |c: &[f32]| c.last().copied().unwrap_or(f32::NAN);
    let db =
        |p: Option<f64>| p.map_or("infinite (identical)".to_string(), |p| format!("{p:.1} dB"));
    println!(
        "{}x{}, cutn {}, {} steps, seed {}: f32 against {}\n  similarity gap: max {:.4}, mean \
         {:.4}; final {:.4} against {:.4}\n  final picture: PSNR {} against f32's (the next seed \
         in f32: {})\n  {:.3} s/step against {:.3}",
        opts.width,
        opts.height,
        opts.cutn,
        r.iterations,
        opts.seed,
        r.compared,
        r.max_gap,
        r.mean_gap,
        last(&r.f32_curve),
        last(&r.compared_curve),
        db(r.psnr_db),
        db(r.next_seed_psnr_db),
        r.f32_seconds_per_iteration,
        r.compared_seconds_per_iteration
    );
    Ok(())
}
