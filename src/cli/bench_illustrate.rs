//! `bench illustrate` (one VQGAN+CLIP step at the real shapes) and `bench eta` (the
//! time-left estimate against the time a run really takes).

use super::GlobalArgs;
use crate::bench::bench_illustrate;
use crate::bench::illustrate::bench_eta;

pub fn illustrate(
    global: &GlobalArgs,
    size: usize,
    cutn: usize,
    iterations: usize,
) -> anyhow::Result<()> {
    let result = bench_illustrate(size, cutn, iterations.max(1))?;
    if global.json {
        return super::print_json(&result);
    }
    let s = &result.stages;
    println!(
        "candle VQGAN+CLIP {size}x{size}, cutn {cutn}: {:.2} s/iteration, peak RSS {:.2} GiB\n  \
         decode {:.2} s, CLIP forward {:.2} s, CLIP backward {:.2} s, decoder backward {:.2} s, \
         optimiser {:.3} s",
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
