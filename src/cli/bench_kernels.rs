//! `bench conv`: the rates of our kernels against the machine's measured FMA peak: the VQGAN
//! decoder's convolutions and CLIP's products at 32 cutouts, each beside candle's.

use super::GlobalArgs;
use crate::bench::conv::bench_conv;
use crate::bench::gemm::bench_gemm;
use crate::bench::peak::fma_peak;
use crate::ml::kernels::{bf16_dot, bf16_gemm};

/// Cutouts whose rows CLIP's products are timed at: the 128², cutn 32 setting.
const CUTOUTS: usize = 32;

pub fn conv(global: &GlobalArgs, runs: usize) -> anyhow::Result<()> {
    let runs = runs.max(1);
    let measured = fma_peak(20_000_000, 3);
    let peak = measured.gflops;
    let convs = bench_conv(runs)?;
    let gemms = bench_gemm(CUTOUTS, runs)?;
    let bf16_kernel = bf16_gemm::kernel().map(|k| k.name());
    // Where the CPU has it, vdpbf16ps's measured rate against f32's, chosen or not.
    let dot_speedup = bf16_dot::available().then(bf16_dot::speedup_over_f32);
    if global.json {
        return super::print_json(&serde_json::json!({
            "threads": measured.threads,
            "fma_peak_gflops": peak,
            "fma_instructions": measured.instructions,
            "cases": convs,
            "gemm": gemms,
            "bf16_kernel": bf16_kernel,
            "bf16_unavailable": bf16_gemm::unavailable_reason(),
            "avx512bf16_speedup_over_f32": dot_speedup,
        }));
    }
    let share = |g: f64| format!("{g:.1} ({:.0}%)", 100.0 * g / peak);
    let floor = if measured.instructions == "scalar" {
        ", no vector FMA path for this CPU: a floor, not the peak"
    } else {
        ""
    };
    println!(
        "FMA peak, measured: {peak:.1} GF/s ({}, {} threads{floor})\n",
        measured.instructions, measured.threads
    );
    println!(
        "{:>9}{:>6}{:>4}{:>9}{:>16}{:>16}{:>16}{:>6}{:>16}{:>12}",
        "channels",
        "side",
        "k",
        "GFLOP",
        "taps GF/s",
        "F(2x2) eff.",
        "F(4x4) eff.",
        "used",
        "used, bf16",
        "candle GF/s"
    );
    for c in &convs {
        let f2 = c
            .winograd_f2_effective_gflops
            .map_or("-".to_string(), share);
        let f4 = c
            .winograd_f4_effective_gflops
            .map_or("-".to_string(), share);
        let bf16 = c
            .winograd_bf16_effective_gflops
            .map_or("-".to_string(), share);
        println!(
            "{:>9}{:>6}{:>4}{:>9.2}{:>16}{:>16}{:>16}{:>6}{:>16}{:>12.1}",
            c.channels,
            c.side,
            c.kernel,
            c.gflop,
            share(c.ours_gflops),
            f2,
            f4,
            c.winograd_block_used.unwrap_or("-"),
            bf16,
            c.candle_gflops
        );
    }
    println!(
        "\n{:>9}{:>6}{:>6}{:>6}{:>9}{:>16}{:>16}{:>12}{:>18}",
        "CLIP",
        "rows",
        "in",
        "out",
        "GFLOP",
        "forward GF/s",
        "input grad",
        "candle GF/s",
        "bf16 fwd/grad"
    );
    for g in &gemms {
        let bf16 = match (g.bf16_forward_gflops, g.bf16_input_grad_gflops) {
            (Some(f), Some(b)) => format!("{f:.0}/{b:.0}"),
            _ => "no bf16".to_string(),
        };
        println!(
            "{:>9}{:>6}{:>6}{:>6}{:>9.2}{:>16}{:>16}{:>12.1}{bf16:>18}",
            g.name,
            g.rows,
            g.d_in,
            g.d_out,
            g.gflop,
            share(g.forward_gflops),
            share(g.input_grad_gflops),
            g.candle_gflops
        );
    }
    match (bf16_kernel, bf16_gemm::unavailable_reason()) {
        (Some(k), _) => println!("\nbf16 products on {k}"),
        (None, why) => println!("\nno bf16 products: {}", why.unwrap_or_default()),
    }
    if let Some(r) = dot_speedup {
        println!("AVX512-BF16's vdpbf16ps multiplies at {r:.2}x the f32 FMAs' rate on one thread");
    }
    println!(
        "\n(percentages: of the FMA peak; Winograd's effective rate may pass it, by up to 2.25x with 2x2 tiles, 4x with 4x4)"
    );
    Ok(())
}
