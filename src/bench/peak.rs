//! The machine's f32 multiply-add peak, measured: every thread runs chains of fused
//! multiply-adds that never touch memory, so the figure is what the cores can do at all, the
//! ceiling the convolution and GEMM rates are read against. Measured rather than computed from
//! a data sheet because a virtual machine's vCPUs may share cores and its clock is unknown.

use std::time::Instant;

/// Independent chains per thread: more than an FMA's latency times its ports, so the units
/// never wait on a result.
const CHAINS: usize = 12;

/// The measured peak.
#[derive(Debug, Clone, Copy)]
pub struct Peak {
    /// f32 GFLOP/s (2 per multiply-add) of all threads together.
    pub gflops: f64,
    pub threads: usize,
    /// What ran the chains; "scalar" is no peak, only a floor.
    pub instructions: &'static str,
}

/// The best of `runs` runs of `iterations` rounds on every thread of the pool at once.
pub fn fma_peak(iterations: usize, runs: usize) -> Peak {
    let threads = rayon::current_num_threads();
    let (lanes, instructions) = lanes();
    let mut best = f64::INFINITY;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        // One call on each thread, which work-stealing over a range would not promise.
        let sink = rayon::broadcast(|_| fma_chains(iterations));
        best = best.min(t.elapsed().as_secs_f64());
        // Keeps the loop from being optimised away.
        std::hint::black_box(sink);
    }
    let flop = 2.0 * (threads * iterations * CHAINS * lanes) as f64;
    Peak {
        gflops: flop / best / 1e9,
        threads,
        instructions,
    }
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

    /// Each chain is x ← fma(x, 0.999999, 1e-7) from 1, rounded alike by every instruction
    /// set, so the sum says every lane of every chain did its rounds: 1000 rounds move it by
    /// 9e-4, ninety times the tolerance.
    #[test]
    fn every_chain_runs_its_rounds() {
        let n = 1000;
        let mut x = 1f32;
        for _ in 0..n {
            x = x.mul_add(0.999_999, 1e-7);
        }
        let (lanes, _) = lanes();
        let expected = (CHAINS * lanes) as f64 * x as f64;
        let got = fma_chains(n) as f64;
        assert!(
            (got - expected).abs() < 1e-5 * expected,
            "{got} vs {expected}"
        );
        let peak = fma_peak(1000, 1);
        assert!(peak.gflops.is_finite() && peak.gflops > 0.0);
        assert_eq!(peak.threads, rayon::current_num_threads());
    }
}
