//! 3×3 stride-1 convolutions by Winograd's minimal filtering, F(2×2, 3×3).
//!
//! Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2015). Each 2×2 block of
//! outputs comes from a 4×4 input tile: the tile and the kernel are mapped into a 16-point
//! transform domain, where the convolution becomes 16 independent channel-mixing products, and
//! the result is mapped back. That is 16 multiplies per output block instead of 36, so the
//! GEMM work drops 2.25×; the transforms are additions only. The VQGAN decoder is almost all
//! 3×3 convolutions, forward and (with the flipped kernel) backward.
//!
//! The flipped kernel of the input gradient needs no second copy: flipping a 3×3 kernel in
//! space permutes its transform's rows and columns by `[3, 1, 2, 0]` (the rows of `G` read
//! backwards), and swapping channel axes is reading each transformed matrix transposed.

use rayon::prelude::*;

use gemm::Parallelism;

use crate::ml::kernels::gemm_view::{matmul, View, ViewMut};
use crate::ml::kernels::winograd_tiles::{Tiles, POINTS, ROW_GAP};

/// Output tiles transformed and multiplied together, bounding the scratch memory.
const TILES_PER_CHUNK: usize = 2048;
/// Where transform row/column `i` of a kernel goes when the kernel is flipped.
const FLIP: [usize; 4] = [3, 1, 2, 0];

/// A 3×3 kernel in the transform domain: `u[ξ][co][ci]`, ξ = 4 × row + column.
#[derive(Debug, Clone)]
pub struct Winograd {
    u: Vec<f32>,
    pub c_out: usize,
    pub c_in: usize,
}

/// `G g Gᵀ` for one 3×3 kernel `g`, row-major.
fn transform_kernel(g: &[f32]) -> [f32; POINTS] {
    let gt = |r: [f32; 3]| {
        [
            r[0],
            0.5 * (r[0] + r[1] + r[2]),
            0.5 * (r[0] - r[1] + r[2]),
            r[2],
        ]
    };
    let rows = [[g[0], g[1], g[2]], [g[3], g[4], g[5]], [g[6], g[7], g[8]]];
    // G g: four rows of three.
    let cols: [[f32; 4]; 3] = [0, 1, 2].map(|j| gt([rows[0][j], rows[1][j], rows[2][j]]));
    let mut out = [0f32; POINTS];
    for a in 0..4 {
        let row = gt([cols[0][a], cols[1][a], cols[2][a]]);
        out[a * 4..a * 4 + 4].copy_from_slice(&row);
    }
    out
}

impl Winograd {
    /// From a `[c_out, c_in, 3, 3]` kernel in row-major order.
    pub fn new(weight: &[f32], c_out: usize, c_in: usize) -> Self {
        let mut u = vec![0f32; POINTS * c_out * c_in];
        for co in 0..c_out {
            for ci in 0..c_in {
                let k = (co * c_in + ci) * 9;
                let t = transform_kernel(&weight[k..k + 9]);
                for (xi, v) in t.iter().enumerate() {
                    u[(xi * c_out + co) * c_in + ci] = *v;
                }
            }
        }
        Self { u, c_out, c_in }
    }

    pub fn forward(&self) -> WinogradKernel<'_> {
        WinogradKernel {
            w: self,
            flipped: false,
        }
    }

    /// The kernel of the input gradient: spatially reversed, in and out channels swapped.
    pub fn flipped(&self) -> WinogradKernel<'_> {
        WinogradKernel {
            w: self,
            flipped: true,
        }
    }
}

/// A transformed kernel as one convolution reads it.
#[derive(Debug, Clone, Copy)]
pub struct WinogradKernel<'a> {
    w: &'a Winograd,
    flipped: bool,
}

impl WinogradKernel<'_> {
    pub fn c_in(&self) -> usize {
        if self.flipped {
            self.w.c_out
        } else {
            self.w.c_in
        }
    }

    pub fn c_out(&self) -> usize {
        if self.flipped {
            self.w.c_in
        } else {
            self.w.c_out
        }
    }

    /// Point ξ as a `[c_out, c_in]` matrix.
    fn point(&self, xi: usize) -> View<'_> {
        let (co, ci) = (self.w.c_out, self.w.c_in);
        let src = if self.flipped {
            FLIP[xi / 4] * 4 + FLIP[xi % 4]
        } else {
            xi
        };
        let m = View::rows(&self.w.u[src * co * ci..(src + 1) * co * ci], co, ci, ci);
        if self.flipped {
            m.t()
        } else {
            m
        }
    }
}

/// Convolves `n` images `[c_in, h, w]` with a 3×3 kernel, stride 1 and `padding` (at most 2)
/// on every side; returns `[n, c_out, ho, wo]` and `(ho, wo)`.
pub fn conv3x3(
    x: &[f32],
    n: usize,
    h: usize,
    w: usize,
    kernel: WinogradKernel,
    padding: usize,
    bias: Option<&[f32]>,
) -> (Vec<f32>, usize, usize) {
    let (ci, co) = (kernel.c_in(), kernel.c_out());
    assert!(padding <= 2 && h + 2 * padding >= 3 && w + 2 * padding >= 3);
    assert!(x.len() >= n * ci * h * w);
    let (ho, wo) = (h + 2 * padding - 2, w + 2 * padding - 2);
    let (th, tw) = (ho.div_ceil(2), wo.div_ceil(2));
    let mut out = vec![0f32; n * co * ho * wo];
    let rows_per_chunk = (TILES_PER_CHUNK / tw).clamp(1, th);
    let ts_max = rows_per_chunk * tw + ROW_GAP;
    let mut v = vec![0f32; ci * POINTS * ts_max];
    // The products are ξ-major, so the 16 of them can run side by side, one per thread.
    let mut m = vec![0f32; POINTS * (co * ts_max + ROW_GAP)];
    for img in 0..n {
        let x_img = &x[img * ci * h * w..(img + 1) * ci * h * w];
        let out_img = &mut out[img * co * ho * wo..(img + 1) * co * ho * wo];
        for r0 in (0..th).step_by(rows_per_chunk) {
            let rows = rows_per_chunk.min(th - r0);
            let tc = rows * tw;
            let ts = tc + ROW_GAP;
            let geo = Tiles {
                h,
                w,
                padding,
                r0,
                rows,
                tw,
            };
            v[..ci * POINTS * ts]
                .par_chunks_mut(POINTS * ts)
                .zip(x_img.par_chunks(h * w))
                .for_each(|(v, plane)| geo.input(plane, v));
            let block = co * ts + ROW_GAP;
            m[..POINTS * block]
                .par_chunks_mut(block)
                .enumerate()
                .for_each(|(xi, m)| {
                    matmul(
                        ViewMut::rows(m, co, tc, ts),
                        kernel.point(xi),
                        View::rows(&v[xi * ts..], ci, tc, POINTS * ts),
                        false,
                        Parallelism::None,
                    );
                });
            let m = &m[..POINTS * block];
            out_img
                .par_chunks_mut(ho * wo)
                .enumerate()
                .for_each(|(c, plane)| {
                    let point = |xi: usize| &m[xi * block + c * ts..xi * block + c * ts + tc];
                    geo.output(point, plane, (ho, wo), bias.map_or(0.0, |b| b[c]))
                });
        }
    }
    (out, ho, wo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::kernels::conv_gemm::{self, Taps};

    fn data(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let v = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8;
                (v % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    /// Against the direct per-tap convolution, forward and flipped, for odd sizes, one-row
    /// images, every padding, rows wider than one group of lanes, and more tiles than one chunk
    /// holds.
    #[test]
    fn winograd_matches_the_direct_convolution() {
        for &(n, ci, co, h, w, pad) in &[
            (2, 3, 5, 7, 9, 1),
            (1, 4, 2, 1, 6, 1),
            (1, 2, 3, 5, 5, 0),
            (1, 3, 2, 4, 3, 2),
            (1, 2, 2, 70, 130, 1),
            (1, 2, 3, 9, 37, 0),
            (2, 3, 2, 6, 35, 2),
        ] {
            let weight = data(co * ci * 9, 1);
            let x = data(n * ci * h * w, 2);
            let bias = data(co, 3);
            let taps = Taps::new(&weight, co, ci, 3);
            let wino = Winograd::new(&weight, co, ci);
            let (want, ho, wo) = conv_gemm::conv2d(&x, n, h, w, taps.forward(), pad, Some(&bias));
            let (got, gho, gwo) = conv3x3(&x, n, h, w, wino.forward(), pad, Some(&bias));
            assert_eq!((gho, gwo), (ho, wo));
            let err = want
                .iter()
                .zip(&got)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 1e-4, "forward {n} {ci} {co} {h}x{w} pad {pad}: {err}");

            let g = data(n * co * ho * wo, 4);
            let back = 2 - pad;
            let (want, bh, bw) = conv_gemm::conv2d(&g, n, ho, wo, taps.flipped(), back, None);
            let (got, gbh, gbw) = conv3x3(&g, n, ho, wo, wino.flipped(), back, None);
            assert_eq!((gbh, gbw), (bh, bw));
            let err = want
                .iter()
                .zip(&got)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 1e-4, "flipped {n} {ci} {co} {h}x{w} pad {pad}: {err}");
        }
    }
}
