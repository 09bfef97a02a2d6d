//! `y = x Wᵀ` for a handful of rows: one decoder step of a captioner or a writer.
//!
//! With one row a product is a matrix-vector product: every weight is read once and used once,
//! so its speed is the memory bandwidth. The `gemm` crate packs the weight into tiles first,
//! which doubles the traffic; here each output is a dot product of the row with one weight row,
//! read in place (PyTorch `[out, in]` layout is already the right one), with the outputs split
//! across the cores.

use rayon::prelude::*;

/// Rows at or below which [`gemv_into`] beats a packed GEMM.
pub const MAX_ROWS: usize = 4;

/// Outputs per parallel task: enough weight rows to amortise scheduling.
const OUTPUTS_PER_TASK: usize = 64;

/// `y[r] (+)= x[r] · Wᵀ` for `rows` rows, `w` `[d_out, d_in]` row-major.
///
/// # Panics
/// When the slices disagree with the sizes: a programming error.
pub fn gemv_into(y: &mut [f32], x: &[f32], w: &[f32], rows: usize, accumulate: bool) {
    let d_in = x.len() / rows.max(1);
    let d_out = y.len() / rows.max(1);
    assert!(x.len() == rows * d_in && y.len() == rows * d_out && w.len() == d_out * d_in);
    for (yr, xr) in y.chunks_exact_mut(d_out).zip(x.chunks_exact(d_in)) {
        yr.par_chunks_mut(OUTPUTS_PER_TASK)
            .zip(w.par_chunks(OUTPUTS_PER_TASK * d_in))
            .for_each(|(ys, ws)| {
                for (v, wr) in ys.iter_mut().zip(ws.chunks_exact(d_in)) {
                    let d = dot(xr, wr);
                    *v = if accumulate { *v + d } else { d };
                }
            });
    }
}

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has just been checked for AVX2 and FMA.
        return unsafe { dot_avx2(a, b) };
    }
    dot_lanes(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes(a, b)
}

/// Sixteen independent sums, so the loop vectorises (a single sum is a serial chain).
#[inline(always)]
fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] = x[i].mul_add(y[i], acc[i]);
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_plain_product_at_odd_sizes_with_and_without_accumulating() {
        for (rows, d_in, d_out) in [(1, 1, 1), (1, 37, 131), (3, 770, 65), (4, 16, 64)] {
            let x: Vec<f32> = (0..rows * d_in)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0)
                .collect();
            let w: Vec<f32> = (0..d_out * d_in)
                .map(|i| ((i * 5 % 17) as f32 - 8.0) / 9.0)
                .collect();
            let start: Vec<f32> = (0..rows * d_out).map(|i| i as f32 * 0.25).collect();
            for accumulate in [false, true] {
                let mut y = start.clone();
                gemv_into(&mut y, &x, &w, rows, accumulate);
                for r in 0..rows {
                    for o in 0..d_out {
                        let want: f64 = (0..d_in)
                            .map(|i| x[r * d_in + i] as f64 * w[o * d_in + i] as f64)
                            .sum::<f64>()
                            + if accumulate {
                                start[r * d_out + o] as f64
                            } else {
                                0.0
                            };
                        let got = y[r * d_out + o] as f64;
                        assert!(
                            (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                            "{rows}×{d_in}→{d_out}"
                        );
                    }
                }
            }
        }
    }
}
