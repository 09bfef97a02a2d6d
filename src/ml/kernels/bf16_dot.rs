//! The bf16 block product on AVX512-BF16's `vdpbf16ps`, for CPUs that have that instruction
//! but no AMX (Intel Cooper Lake, AMD Zen 4 and later): the same packed operands and the same
//! 32×32 block as [`super::amx::Tiles::block`], so [`super::bf16_gemm`] drives either.
//!
//! `vdpbf16ps` adds to each of 16 f32 lanes the products of one pair of bf16 values from each
//! operand. A packed panel row of B is exactly that: the pair (k = 2r, 2r + 1) for each of 16
//! columns. One row of A contributes its own pair, a 32-bit word, broadcast to every lane.
//! That is twice the multiply-adds of an f32 FMA per instruction, where AMX does several
//! times more; [`super::bf16_gemm::kernel`] prefers AMX wherever it runs. Not every CPU
//! runs the instruction at that rate: Sapphire Rapids runs it at half its f32 FMA rate
//! (118 against 235 GFLOP/s on one thread here), and Zen 4 is built to run it at twice, so
//! [`speedup_over_f32`] measures it before it is chosen.

use std::sync::OnceLock;
use std::time::Instant;

use super::amx::{Block, TILE, TILE_K};

/// Rows of A per pass: with the block's two panels, 16 accumulators stay in registers and
/// each pair of B rows loaded feeds 16 products.
const ROWS: usize = 8;

/// Whether this CPU runs `vdpbf16ps` (the instruction needs no permission from the system).
pub fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16")
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> bool {
    false
}

/// How many times f32 FMAs' rate `vdpbf16ps` multiplies at on this CPU (2 where it runs as
/// many instructions a cycle, each two multiply-adds a lane), measured once on one thread
/// with chains that never touch memory, the two kinds alternating, best of twenty short runs
/// each (about 10 ms in all); 0 without the instruction. Short runs and many of them, because
/// a run the scheduler interrupts counts for nothing: with best of three 1 ms runs, one CLI
/// run in ten on a busy 2-core Zen 4 measured 1.3× instead of 2.0× and drew in f32. Measured,
/// not looked up by CPU model, because a table would go stale and a virtual machine's CPUID
/// may name no model.
pub fn speedup_over_f32() -> f64 {
    static RATIO: OnceLock<f64> = OnceLock::new();
    *RATIO.get_or_init(|| {
        if !available() {
            return 0.0;
        }
        let time = |f: &dyn Fn() -> f32| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        };
        let (mut dot, mut fma) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..SPEED_RUNS {
            // SAFETY (both): AVX512-BF16 and AVX-512F are present, checked by `available`.
            dot = dot.min(time(&|| unsafe { x86::chains::<true>(CHAIN_ROUNDS) }));
            fma = fma.min(time(&|| unsafe { x86::chains::<false>(CHAIN_ROUNDS) }));
        }
        // A dot instruction does twice an FMA's multiply-adds.
        2.0 * fma / dot
    })
}

/// Rounds of [`speedup_over_f32`]'s 16 chains: 400,000 instructions, about a quarter of a
/// millisecond where `vdpbf16ps` runs one every two cycles.
const CHAIN_ROUNDS: usize = 25_000;
/// Runs of each kind [`speedup_over_f32`] takes the best of.
const SPEED_RUNS: usize = 20;

/// `c = A·B` over 32 rows and 32 columns, row-major, as [`super::amx::Tiles::block`] writes it.
///
/// # Safety
/// [`available`] must be true; `a` must be readable for 32 rows of `k_tiles * 64` bytes at
/// `a_stride`, `b0` and `b1` for `k_tiles * 1024` bytes each.
#[cfg(target_arch = "x86_64")]
pub unsafe fn block(blk: &Block, c: &mut [f32; 32 * 32]) {
    debug_assert!(
        available(),
        "vdpbf16ps used without checking bf16_dot::available()"
    );
    block_avx512(blk, c)
}

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn block(_blk: &Block, _c: &mut [f32; 32 * 32]) {
    unreachable!("no AVX512-BF16 on this target")
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn block_avx512(blk: &Block, c: &mut [f32; 32 * 32]) {
    use std::arch::x86_64::*;
    // One packed row of a panel: a pair of k for each of its 16 columns, 64 bytes.
    let pairs = blk.k_tiles * TILE_K / 2;
    let (b0, b1) = (blk.b0.cast::<__m512i>(), blk.b1.cast::<__m512i>());
    for r0 in (0..2 * TILE).step_by(ROWS) {
        let rows: [*const u32; ROWS] =
            std::array::from_fn(|i| blk.a.cast::<u8>().add((r0 + i) * blk.a_stride).cast());
        let mut acc = [[_mm512_setzero_ps(); 2]; ROWS];
        for p in 0..pairs {
            // `transmute` only renames the 64 bytes: bf16 vectors have no load of their own.
            let w0: __m512bh = std::mem::transmute(_mm512_loadu_si512(b0.add(p)));
            let w1: __m512bh = std::mem::transmute(_mm512_loadu_si512(b1.add(p)));
            for (acc, row) in acc.iter_mut().zip(&rows) {
                let pair = row.add(p).read_unaligned() as i32;
                let x: __m512bh = std::mem::transmute(_mm512_set1_epi32(pair));
                acc[0] = _mm512_dpbf16_ps(acc[0], x, w0);
                acc[1] = _mm512_dpbf16_ps(acc[1], x, w1);
            }
        }
        for (i, acc) in acc.iter().enumerate() {
            let out = c.as_mut_ptr().add((r0 + i) * 2 * TILE);
            _mm512_storeu_ps(out, acc[0]);
            _mm512_storeu_ps(out.add(TILE), acc[1]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// 16 independent chains of `vdpbf16ps` (`DOT`) or `vfmadd` for `rounds` rounds; a
    /// constant, so each build of the loop holds one instruction only.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn chains<const DOT: bool>(rounds: usize) -> f32 {
        let mut acc = [_mm512_setzero_ps(); 16];
        let one = _mm512_set1_ps(1e-7);
        // 1.0 in both bf16 halves of every lane.
        let pairs: __m512bh = std::mem::transmute(_mm512_set1_epi32(0x3f80_3f80));
        for _ in 0..rounds {
            for a in acc.iter_mut() {
                *a = if DOT {
                    _mm512_dpbf16_ps(*a, pairs, pairs)
                } else {
                    _mm512_fmadd_ps(one, one, *a)
                };
            }
        }
        acc.iter().map(|a| _mm512_reduce_add_ps(*a)).sum()
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod x86 {
    pub unsafe fn chains<const DOT: bool>(_rounds: usize) -> f32 {
        unreachable!("no AVX512-BF16 on this target")
    }
}
