//! LayerNorm over the rows of plain slices, forward and input gradient, for ops that run a
//! whole transformer block themselves (`clip::block`) and so cannot call a candle op between
//! their products.
//!
//! Each row's statistics are recomputed in the backward pass from the row itself: 768 values,
//! cheaper than keeping them.

use rayon::prelude::*;

use crate::ml::kernels::norm_stats::stats;

/// Rows per parallel task: enough work to amortise the scheduling.
const ROWS_PER_TASK: usize = 16;
/// Independent accumulators, so the compiler keeps each sum in one vector register.
const LANES: usize = 16;

/// A frozen LayerNorm's parameters, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct RowNorm<'a> {
    pub weight: &'a [f32],
    pub bias: &'a [f32],
    pub eps: f64,
}

impl RowNorm<'_> {
    /// `out = LN(x)`, row by row.
    pub fn forward(&self, x: &[f32], out: &mut [f32]) {
        let d = self.weight.len();
        if d == 0 {
            return;
        }
        out.par_chunks_mut(d * ROWS_PER_TASK)
            .zip(x.par_chunks(d * ROWS_PER_TASK))
            .for_each(|(out, x)| {
                for (o, x) in out.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
                    let (mean, rstd) = stats(x, self.eps);
                    for (((o, &x), &w), &b) in o.iter_mut().zip(x).zip(self.weight).zip(self.bias) {
                        *o = (x - mean) * rstd * w + b;
                    }
                }
            });
    }

    /// `dx += J_LN(x)ᵀ · dout`, row by row: with `g = γ · dout` and `x̂` the normalised row,
    /// `rstd · (g − mean(g) − x̂ · mean(g · x̂))`. Accumulating lets a residual stream's
    /// gradient and its branch's meet without another pass.
    pub fn backward_add(&self, x: &[f32], dout: &[f32], dx: &mut [f32]) {
        let d = self.weight.len();
        if d == 0 {
            return;
        }
        dx.par_chunks_mut(d * ROWS_PER_TASK)
            .zip(x.par_chunks(d * ROWS_PER_TASK))
            .zip(dout.par_chunks(d * ROWS_PER_TASK))
            .for_each(|((dx, x), dout)| {
                for ((dx, x), g) in dx
                    .chunks_exact_mut(d)
                    .zip(x.chunks_exact(d))
                    .zip(dout.chunks_exact(d))
                {
                    let (mean, rstd) = stats(x, self.eps);
                    let (sum_g, sum_gx) = self.sums(x, g, mean, rstd);
                    let (mean_g, mean_gx) = (sum_g / d as f32, sum_gx / d as f32);
                    for (((dx, &x), &g), &w) in dx.iter_mut().zip(x).zip(g).zip(self.weight) {
                        let xhat = (x - mean) * rstd;
                        *dx += rstd * (g * w - mean_g - xhat * mean_gx);
                    }
                }
            });
    }

    /// `(Σ γ·dout, Σ γ·dout·x̂)` over one row.
    fn sums(&self, x: &[f32], g: &[f32], mean: f32, rstd: f32) -> (f32, f32) {
        let (mut a, mut b) = ([0f32; LANES], [0f32; LANES]);
        let mut add = |i: usize, x: f32, g: f32, w: f32| {
            let gw = g * w;
            a[i] += gw;
            b[i] += gw * (x - mean) * rstd;
        };
        let (xs, gs, ws) = (
            x.chunks_exact(LANES),
            g.chunks_exact(LANES),
            self.weight.chunks_exact(LANES),
        );
        let tail = (xs.remainder(), gs.remainder(), ws.remainder());
        for ((x, g), w) in xs.zip(gs).zip(ws) {
            for i in 0..LANES {
                add(i, x[i], g[i], w[i]);
            }
        }
        for i in 0..tail.0.len() {
            add(i, tail.0[i], tail.1[i], tail.2[i]);
        }
        (a.iter().sum(), b.iter().sum())
    }
}
