//! The machine's f32 multiply-add peak, measured: every thread runs chains of fused
//! multiply-adds that never touch memory, so the figure is what the cores can do at all, the
//! ceiling the convolution and GEMM rates are read against. Measured rather than computed from
//! a data sheet because a virtual machine's vCPUs may share cores and its clock is unknown.

use std::time::Instant;

use rayon::prelude::*;

/// Independent chains per thread: more than an FMA's latency times its ports, so the units
/// never wait on a result.
const CHAINS: usize = 12;

/// f32 GFLOP/s (2 per multiply-add) of all threads together, the best of `runs` runs of
/// `iterations` rounds per thread, and the instruction set that ran.
pub fn fma_peak_gflops(iterations: usize, runs: usize) -> (f64, &'static str) {
    let threads = rayon::current_num_threads();
    let (lanes, set) = lanes();
    let mut best = f64::INFINITY;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let sink: f32 = (0..threads)
            .into_par_iter()
            .map(|_| fma_chains(iterations))
            .sum();
        best = best.min(t.elapsed().as_secs_f64());
        // Keeps the loop from being optimised away.
        std::hint::black_box(sink);
    }
    let flop = 2.0 * (threads * iterations * CHAINS * lanes) as f64;
    (flop / best / 1e9, set)
}

fn lanes() -> (usize, &'static str) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return (16, "AVX-512");
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return (8, "AVX2+FMA");
        }
    }
    (1, "scalar")
}

fn fma_chains(iterations: usize) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { x86::chains_avx512(iterations) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            return unsafe { x86::chains_avx2(iterations) };
        }
    }
    let mut acc = [1f32; CHAINS];
    for _ in 0..iterations {
        for a in acc.iter_mut() {
            *a = a.mul_add(0.999_999, 1e-7);
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::CHAINS;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub unsafe fn chains_avx512(iterations: usize) -> f32 {
        let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut acc = [_mm512_set1_ps(1.0); CHAINS];
        for _ in 0..iterations {
            for r in acc.iter_mut() {
                *r = _mm512_fmadd_ps(*r, a, b);
            }
        }
        acc.iter().map(|&r| _mm512_reduce_add_ps(r)).sum()
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn chains_avx2(iterations: usize) -> f32 {
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); CHAINS];
        for _ in 0..iterations {
            for r in acc.iter_mut() {
                *r = _mm256_fmadd_ps(*r, a, b);
            }
        }
        let mut lanes = [0f32; 8];
        acc.iter()
            .map(|&r| {
                _mm256_storeu_ps(lanes.as_mut_ptr(), r);
                lanes.iter().sum::<f32>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each chain is x ← 0.999999 x + 1e-7 from 1, whatever instructions ran it, so the sum
    /// says every lane of every chain did its rounds.
    #[test]
    fn every_chain_runs_its_rounds() {
        let n = 1000;
        let mut x = 1f64;
        for _ in 0..n {
            x = x * 0.999_999 + 1e-7;
        }
        let (lanes, _) = lanes();
        let expected = (CHAINS * lanes) as f64 * x;
        let got = fma_chains(n) as f64;
        assert!(
            (got - expected).abs() < 1e-3 * expected,
            "{got} vs {expected}"
        );
        let (gflops, _) = fma_peak_gflops(1000, 1);
        assert!(gflops.is_finite() && gflops > 0.0);
    }
}
