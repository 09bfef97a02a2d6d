//! Sums and statistics shared by the fused norms (GroupNorm and the row LayerNorm): vectorised
//! lane sums with f64 totals, and a group's mean and 1/std from a centred second pass.

/// Lanes of the partial sums: independent accumulators the compiler keeps in one vector
/// register, so a sum is not one long chain of dependent additions.
pub(crate) const LANES: usize = 16;
/// Elements summed in f32 before the partial sum joins the f64 total.
pub(crate) const SPAN: usize = 4096;

/// `Σ f(x)` with f32 lanes over short spans and f64 across spans: vectorised, and as accurate
/// as a plain f64 sum for the group sizes here.
pub(crate) fn lane_sum(xs: &[f32], f: impl Fn(f32) -> f32 + Copy) -> f64 {
    let mut total = 0f64;
    for span in xs.chunks(SPAN) {
        let mut acc = [0f32; LANES];
        let mut chunks = span.chunks_exact(LANES);
        for c in &mut chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += f(v);
            }
        }
        let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
        total += acc.iter().map(|&a| a as f64).sum::<f64>() + tail as f64;
    }
    total
}

/// Mean and 1/std of one group.
pub(crate) fn stats(x: &[f32], eps: f64) -> (f32, f32) {
    let n = x.len().max(1) as f64;
    let mean = lane_sum(x, |v| v) / n;
    let m = mean as f32;
    // Centred second pass: the shifted sum of squares would cancel catastrophically.
    let var = lane_sum(x, |v| (v - m) * (v - m)) / n;
    (m, (1.0 / (var + eps).sqrt()) as f32)
}
