//! Dot products of an f32 row with a weight row kept as f32, bf16 or q8 blocks, widening the
//! weights in registers: writing a token is a long run of these, and widening into a buffer
//! first costs a store and a load per weight, which at q8's few bytes per weight is what
//! bounds it. AVX-512 where the CPU has it; elsewhere the row is widened into `buf` and
//! dotted there.

use super::gemv::dot;

/// `x · w`.
pub fn dot_f32(x: &[f32], w: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has just been checked for AVX-512F.
        return unsafe { avx512::dot_f32(x, w) };
    }
    dot(x, w)
}

/// Inputs per q8 block, each block with its own scale.
pub const Q8_BLOCK: usize = 32;

/// `x · w` with `w` in bf16 (the top half of an f32's bits); `buf` is scratch of `x.len()`.
pub fn dot_bf16(x: &[f32], w: &[u16], buf: &mut [f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has just been checked for AVX-512F.
        return unsafe { avx512::dot_bf16(x, w) };
    }
    dot_bf16_widened(x, w, buf)
}

/// [`dot_bf16`] without AVX-512: the row widened into `buf`, then dotted.
fn dot_bf16_widened(x: &[f32], w: &[u16], buf: &mut [f32]) -> f32 {
    let buf = &mut buf[..w.len()];
    widen_bf16(w, buf);
    dot(x, buf)
}

/// `x · w` with `w` as q8 blocks of [`Q8_BLOCK`] values, each times its scale; the last block
/// may be short. `buf` is scratch of `x.len()`.
///
/// # Panics
/// When `scales` has fewer than one scale per block: a programming error.
pub fn dot_q8(x: &[f32], q: &[i8], scales: &[f32], buf: &mut [f32]) -> f32 {
    let n = x.len().min(q.len());
    assert!(
        scales.len() >= n.div_ceil(Q8_BLOCK),
        "q8 row without its scales"
    );
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has just been checked for AVX-512F.
        return unsafe { avx512::dot_q8_32(x, q, scales) };
    }
    dot_q8_widened(x, q, scales, buf)
}

/// [`dot_q8`] without AVX-512: the row widened into `buf`, then dotted.
fn dot_q8_widened(x: &[f32], q: &[i8], scales: &[f32], buf: &mut [f32]) -> f32 {
    let buf = &mut buf[..q.len()];
    widen_q8(q, scales, buf);
    dot(x, buf)
}

/// bf16 values back to f32, into `dst`.
pub fn widen_bf16(src: &[u16], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has just been checked for AVX2.
        return unsafe { widen_bf16_avx2(src, dst) };
    }
    widen_bf16_lanes(src, dst)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn widen_bf16_avx2(src: &[u16], dst: &mut [f32]) {
    widen_bf16_lanes(src, dst)
}

#[inline(always)]
fn widen_bf16_lanes(src: &[u16], dst: &mut [f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f32::from_bits((s as u32) << 16);
    }
}

/// A row of q8 blocks back to f32 into `dst`, `scales` one per block of [`Q8_BLOCK`].
pub fn widen_q8(src: &[i8], scales: &[f32], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has just been checked for AVX2.
        return unsafe { widen_q8_avx2(src, scales, dst) };
    }
    widen_q8_lanes(src, scales, dst)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn widen_q8_avx2(src: &[i8], scales: &[f32], dst: &mut [f32]) {
    widen_q8_lanes(src, scales, dst)
}

#[inline(always)]
fn widen_q8_lanes(src: &[i8], scales: &[f32], dst: &mut [f32]) {
    let (blocks, rest) = src.as_chunks::<Q8_BLOCK>();
    let (dst_blocks, dst_rest) = dst.as_chunks_mut::<Q8_BLOCK>();
    // Fixed-size blocks, so the compiler unrolls and vectorises each one.
    for ((d, s), &scale) in dst_blocks.iter_mut().zip(blocks).zip(scales) {
        for i in 0..Q8_BLOCK {
            d[i] = s[i] as f32 * scale;
        }
    }
    if let Some(&scale) = scales.get(blocks.len()) {
        for (d, &s) in dst_rest.iter_mut().zip(rest) {
            *d = s as f32 * scale;
        }
    }
}

// `avx512::dot_q8_32` is written for blocks of 32.
const _: () = assert!(Q8_BLOCK == 32);

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// How many bytes of weights ahead to prefetch. The weights are read once, in order, row
    /// after row, and a row is only a few cache lines: too short for the hardware prefetcher
    /// to get far enough ahead on its own. 4 KiB measured best (q8: 64 tokens/s with no
    /// prefetch, 77 at 1 KiB, 81 at 4 KiB, 79 at 8 KiB). Near a weight's end the address lies
    /// past it: it is formed with `wrapping_add` (no pointer arithmetic out of bounds) and a
    /// prefetch never faults.
    const AHEAD: usize = 4096;

    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot_f32(x: &[f32], w: &[f32]) -> f32 {
        let n = x.len().min(w.len());
        let (xp, wp) = (x.as_ptr(), w.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 64 <= n {
            for (k, a) in acc.iter_mut().enumerate() {
                let o = i + 16 * k;
                _mm_prefetch::<_MM_HINT_T0>(wp.wrapping_add(o + AHEAD / 4) as *const i8);
                *a = _mm512_fmadd_ps(_mm512_loadu_ps(xp.add(o)), _mm512_loadu_ps(wp.add(o)), *a);
            }
            i += 64;
        }
        while i + 16 <= n {
            acc[0] = _mm512_fmadd_ps(
                _mm512_loadu_ps(xp.add(i)),
                _mm512_loadu_ps(wp.add(i)),
                acc[0],
            );
            i += 16;
        }
        let mut sum = _mm512_reduce_add_ps(_mm512_add_ps(
            _mm512_add_ps(acc[0], acc[1]),
            _mm512_add_ps(acc[2], acc[3]),
        ));
        for j in i..n {
            sum += x[j] * w[j];
        }
        sum
    }

    /// Sixteen bf16 values at `p`, widened to f32.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn widen_bf16(p: *const u16) -> __m512 {
        let raw = _mm256_loadu_si256(p as *const __m256i);
        _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(raw)))
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot_bf16(x: &[f32], w: &[u16]) -> f32 {
        let n = x.len().min(w.len());
        let (xp, wp) = (x.as_ptr(), w.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 64 <= n {
            _mm_prefetch::<_MM_HINT_T0>(wp.wrapping_add(i + AHEAD / 2) as *const i8);
            _mm_prefetch::<_MM_HINT_T0>(wp.wrapping_add(i + 32 + AHEAD / 2) as *const i8);
            for (k, a) in acc.iter_mut().enumerate() {
                let o = i + 16 * k;
                *a = _mm512_fmadd_ps(_mm512_loadu_ps(xp.add(o)), widen_bf16(wp.add(o)), *a);
            }
            i += 64;
        }
        while i + 16 <= n {
            acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(xp.add(i)), widen_bf16(wp.add(i)), acc[0]);
            i += 16;
        }
        let mut sum = _mm512_reduce_add_ps(_mm512_add_ps(
            _mm512_add_ps(acc[0], acc[1]),
            _mm512_add_ps(acc[2], acc[3]),
        ));
        for j in i..n {
            sum += x[j] * f32::from_bits((w[j] as u32) << 16);
        }
        sum
    }

    /// Sixteen i8 values at `p`, widened to f32.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn widen_i8(p: *const i8) -> __m512 {
        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p as *const __m128i)))
    }

    /// One block of 32 at offset `o`: the unscaled sum of products, 16 lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn block_32(xp: *const f32, qp: *const i8, o: usize) -> __m512 {
        let lo = _mm512_mul_ps(widen_i8(qp.add(o)), _mm512_loadu_ps(xp.add(o)));
        _mm512_fmadd_ps(
            widen_i8(qp.add(o + 16)),
            _mm512_loadu_ps(xp.add(o + 16)),
            lo,
        )
    }

    /// Blocks of 32: each block's sum is formed unscaled, then scaled into one of two running
    /// sums, two blocks a turn, so consecutive blocks do not wait on each other's addition and
    /// both sums stay in registers.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot_q8_32(x: &[f32], q: &[i8], scales: &[f32]) -> f32 {
        let n = x.len().min(q.len());
        let whole = n / 32;
        let (xp, qp, sp) = (x.as_ptr(), q.as_ptr(), scales.as_ptr());
        let (mut acc0, mut acc1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let mut b = 0;
        while b + 2 <= whole {
            _mm_prefetch::<_MM_HINT_T0>(qp.wrapping_add(b * 32 + AHEAD));
            let (s0, s1) = (_mm512_set1_ps(*sp.add(b)), _mm512_set1_ps(*sp.add(b + 1)));
            acc0 = _mm512_fmadd_ps(block_32(xp, qp, b * 32), s0, acc0);
            acc1 = _mm512_fmadd_ps(block_32(xp, qp, b * 32 + 32), s1, acc1);
            b += 2;
        }
        if b < whole {
            acc0 = _mm512_fmadd_ps(block_32(xp, qp, b * 32), _mm512_set1_ps(*sp.add(b)), acc0);
        }
        let mut sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
        if whole * 32 < n {
            let scale = scales[whole];
            for j in whole * 32..n {
                sum += x[j] * (q[j] as f32 * scale);
            }
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 + seed * 104729) % 2003) as f32 / 1001.0 - 1.0)
            .collect()
    }

    /// Every length around the vector widths, against an f64 sum of the widened weights.
    #[test]
    fn each_format_equals_the_widened_dot_product_at_every_tail_length() {
        for n in (0..70).chain([127, 128, 129, 768, 3072, 3073]) {
            let x = values(n, 1);
            let w = values(n, 2);
            let mut buf = vec![0f32; n];
            let check = |got: f32, widened: &[f32], what: &str| {
                let want: f64 = x
                    .iter()
                    .zip(widened)
                    .map(|(&a, &b)| a as f64 * b as f64)
                    .sum();
                let size: f64 = x
                    .iter()
                    .zip(widened)
                    .map(|(&a, &b)| (a * b).abs() as f64)
                    .sum();
                assert!(
                    (got as f64 - want).abs() <= 1e-5 * (1.0 + size),
                    "{what} n={n}: {got} vs {want}"
                );
            };
            check(dot_f32(&x, &w), &w, "f32");
            let b: Vec<u16> = w.iter().map(|v| (v.to_bits() >> 16) as u16).collect();
            let wb: Vec<f32> = b
                .iter()
                .map(|&v| f32::from_bits((v as u32) << 16))
                .collect();
            check(dot_bf16(&x, &b, &mut buf), &wb, "bf16");
            check(dot_bf16_widened(&x, &b, &mut buf), &wb, "bf16 widened");
            let q: Vec<i8> = (0..n)
                .map(|i| ((i * 37 % 255) as i32 - 127) as i8)
                .collect();
            let scales: Vec<f32> = (0..n.div_ceil(32))
                .map(|b| 0.01 + b as f32 * 0.003)
                .collect();
            let wq: Vec<f32> = q
                .iter()
                .enumerate()
                .map(|(i, &v)| v as f32 * scales[i / 32])
                .collect();
            check(dot_q8(&x, &q, &scales, &mut buf), &wq, "q8");
            check(dot_q8_widened(&x, &q, &scales, &mut buf), &wq, "q8 widened");
        }
    }
}
