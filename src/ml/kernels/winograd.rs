//! 3×3 stride-1 convolutions by Winograd's minimal filtering, F(2×2, 3×3) or F(4×4, 3×3).
//!
//! Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2015). Each M×M block of
//! outputs comes from an (M+2)² input tile: the tile and the kernel are mapped into a transform
//! domain of (M+2)² points, where the convolution becomes that many independent channel-mixing
//! products, and the result is mapped back (`winograd_transforms` holds the maps). F(2×2)
//! multiplies 2.25× less than the direct convolution, F(4×4) 4× less. The VQGAN decoder is
//! almost all 3×3 convolutions, forward and (with the flipped kernel) backward.
//!
//! The input gradient convolves with the flipped kernel, channel axes swapped. For F(2×2) that
//! needs no second copy: flipping a 3×3 kernel in space permutes its transform's rows and
//! columns by `[3, 1, 2, 0]` (the rows of `G` read backwards), and swapping channel axes is
//! reading each transformed matrix transposed. F(4×4)'s points (0, ±1, ±2, ∞) are not closed
//! under that flip, so its flipped transform is built from the kept 3×3 kernel for each call:
//! 36 values per channel pair, little beside the convolution it serves.

use std::borrow::Cow;

use rayon::prelude::*;

use gemm::Parallelism;

use crate::ml::kernels::gemm_view::{matmul, View, ViewMut};
use crate::ml::kernels::winograd_tiles::{Tiles, ROW_GAP};
use crate::ml::kernels::winograd_transforms::{Variant, F2, F4};

/// Output pixels transformed and multiplied together, bounding the scratch memory.
const OUTPUTS_PER_CHUNK: usize = 8192;
/// Where transform row/column `i` of an F(2×2) kernel goes when the kernel is flipped.
const FLIP: [usize; 4] = [3, 1, 2, 0];
/// F(4×4) for layers with at most this many channel pairs. Its transformed kernel is 4× the
/// kernel (F(2×2)'s is 16/9×) and the kernel stays too, so wide layers would cost hundreds of
/// megabytes; and the decoder's narrow layers are the ones at high resolution, where almost all
/// of its multiplies are (at 256², the 128-channel levels hold three quarters).
const F4_MAX_PAIRS: usize = 256 * 128;

/// The output block of a layer's transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// F(2×2, 3×3).
    Two,
    /// F(4×4, 3×3).
    Four,
}

impl Block {
    /// The block a layer of these channels uses.
    pub fn for_layer(c_out: usize, c_in: usize) -> Self {
        if c_out * c_in <= F4_MAX_PAIRS {
            Block::Four
        } else {
            Block::Two
        }
    }

    fn points(self) -> usize {
        match self {
            Block::Two => 16,
            Block::Four => 36,
        }
    }
}

/// A 3×3 kernel in the transform domain: `u[ξ][co][ci]`.
#[derive(Debug, Clone)]
pub struct Winograd {
    u: Vec<f32>,
    /// F(4×4) only: the `[c_out, c_in, 3, 3]` kernel, for the flipped transform.
    kernel: Vec<f32>,
    pub c_out: usize,
    pub c_in: usize,
    pub block: Block,
}

/// `u[ξ][co][ci]` from a `[c_out, c_in, 3, 3]` kernel, each 3×3 read through `tap`.
fn transform_all<V: Variant<M, T, P>, const M: usize, const T: usize, const P: usize>(
    weight: &[f32],
    c_out: usize,
    c_in: usize,
    tap: impl Fn(&[f32]) -> [f32; 9],
) -> Vec<f32> {
    let mut u = vec![0f32; P * c_out * c_in];
    for co in 0..c_out {
        for ci in 0..c_in {
            let k = (co * c_in + ci) * 9;
            let t = V::kernel(&tap(&weight[k..k + 9]));
            for (xi, v) in t.iter().enumerate() {
                u[(xi * c_out + co) * c_in + ci] = *v;
            }
        }
    }
    u
}

fn taps(g: &[f32]) -> [f32; 9] {
    std::array::from_fn(|i| g[i])
}

impl Winograd {
    /// From a `[c_out, c_in, 3, 3]` kernel in row-major order.
    pub fn new(weight: &[f32], c_out: usize, c_in: usize, block: Block) -> Self {
        let (u, kernel) = match block {
            Block::Two => (
                transform_all::<F2, 2, 4, 16>(weight, c_out, c_in, taps),
                vec![],
            ),
            Block::Four => (
                transform_all::<F4, 4, 6, 36>(weight, c_out, c_in, taps),
                weight[..c_out * c_in * 9].to_vec(),
            ),
        };
        Self {
            u,
            kernel,
            c_out,
            c_in,
            block,
        }
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

/// The point matrices one convolution multiplies by.
struct Points<'a> {
    /// `[ξ][rows][cols]`, or `[ξ][cols][rows]` read transposed.
    u: Cow<'a, [f32]>,
    transposed: bool,
    /// F(2×2)'s flip, applied to ξ's row and column.
    permute: Option<[usize; 4]>,
    rows: usize,
    cols: usize,
}

impl Points<'_> {
    /// Point ξ as a `[c_out, c_in]` matrix.
    fn point(&self, xi: usize) -> View<'_> {
        let src = self.permute.map_or(xi, |p| p[xi / 4] * 4 + p[xi % 4]);
        let n = self.rows * self.cols;
        let u = &self.u[src * n..(src + 1) * n];
        if self.transposed {
            View::rows(u, self.cols, self.rows, self.rows).t()
        } else {
            View::rows(u, self.rows, self.cols, self.cols)
        }
    }
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

    fn points(&self) -> Points<'_> {
        let (rows, cols) = (self.c_out(), self.c_in());
        let stored = |transposed, permute| Points {
            u: Cow::Borrowed(&self.w.u),
            transposed,
            permute,
            rows,
            cols,
        };
        match (self.w.block, self.flipped) {
            (_, false) => stored(false, None),
            (Block::Two, true) => stored(true, Some(FLIP)),
            (Block::Four, true) => {
                // The flipped kernel is `[c_in, c_out]` with each 3×3 reversed; built as
                // `[ξ][c_out][c_in]` of the original and read transposed, like F(2×2)'s.
                let reversed = |g: &[f32]| std::array::from_fn(|i| g[8 - i]);
                let u = transform_all::<F4, 4, 6, 36>(
                    &self.w.kernel,
                    self.w.c_out,
                    self.w.c_in,
                    reversed,
                );
                Points {
                    u: Cow::Owned(u),
                    transposed: true,
                    permute: None,
                    rows,
                    cols,
                }
            }
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
    match kernel.w.block {
        Block::Two => conv::<F2, 2, 4, 16>(x, (n, h, w), kernel, padding, bias),
        Block::Four => conv::<F4, 4, 6, 36>(x, (n, h, w), kernel, padding, bias),
    }
}

fn conv<V: Variant<M, T, P>, const M: usize, const T: usize, const P: usize>(
    x: &[f32],
    (n, h, w): (usize, usize, usize),
    kernel: WinogradKernel,
    padding: usize,
    bias: Option<&[f32]>,
) -> (Vec<f32>, usize, usize) {
    debug_assert_eq!(kernel.w.block.points(), P);
    let (ci, co) = (kernel.c_in(), kernel.c_out());
    assert!(padding <= 2 && h + 2 * padding >= 3 && w + 2 * padding >= 3);
    assert!(x.len() >= n * ci * h * w);
    let (ho, wo) = (h + 2 * padding - 2, w + 2 * padding - 2);
    let (th, tw) = (ho.div_ceil(M), wo.div_ceil(M));
    let points = kernel.points();
    let mut out = vec![0f32; n * co * ho * wo];
    let rows_per_chunk = (OUTPUTS_PER_CHUNK / (M * M) / tw).clamp(1, th);
    let ts_max = rows_per_chunk * tw + ROW_GAP;
    let mut v = vec![0f32; ci * P * ts_max];
    // The products are ξ-major, so they can run side by side, one per thread.
    let mut m = vec![0f32; P * (co * ts_max + ROW_GAP)];
    for img in 0..n {
        let x_img = &x[img * ci * h * w..(img + 1) * ci * h * w];
        let out_img = &mut out[img * co * ho * wo..(img + 1) * co * ho * wo];
        for r0 in (0..th).step_by(rows_per_chunk) {
            let rows = rows_per_chunk.min(th - r0);
            let tc = rows * tw;
            let ts = tc + ROW_GAP;
            let geo = Tiles::<M> {
                h,
                w,
                padding,
                r0,
                rows,
                tw,
            };
            v[..ci * P * ts]
                .par_chunks_mut(P * ts)
                .zip(x_img.par_chunks(h * w))
                .for_each(|(v, plane)| geo.input::<V, T, P>(plane, v));
            let block = co * ts + ROW_GAP;
            m[..P * block]
                .par_chunks_mut(block)
                .enumerate()
                .for_each(|(xi, m)| {
                    matmul(
                        ViewMut::rows(m, co, tc, ts),
                        points.point(xi),
                        View::rows(&v[xi * ts..], ci, tc, P * ts),
                        false,
                        Parallelism::None,
                    );
                });
            let m = &m[..P * block];
            out_img
                .par_chunks_mut(ho * wo)
                .enumerate()
                .for_each(|(c, plane)| {
                    let point = |xi: usize| &m[xi * block + c * ts..xi * block + (c + 1) * ts];
                    geo.output::<V, T, P>(point, plane, (ho, wo), bias.map_or(0.0, |b| b[c]))
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

    /// Against the direct per-tap convolution, forward and flipped, both blocks, for odd sizes,
    /// one-row images, every padding, rows wider than one group of lanes, and more tiles than
    /// one chunk holds.
    #[test]
    fn winograd_matches_the_direct_convolution() {
        for block in [Block::Two, Block::Four] {
            for &(n, ci, co, h, w, pad) in &[
                (2, 3, 5, 7, 9, 1),
                (1, 4, 2, 1, 6, 1),
                (1, 2, 3, 5, 5, 0),
                (1, 3, 2, 4, 3, 2),
                (1, 2, 2, 70, 130, 1),
                (1, 2, 3, 9, 37, 0),
                (2, 3, 2, 6, 35, 2),
                (1, 3, 2, 3, 3, 0),
                (1, 2, 2, 11, 13, 2),
            ] {
                check(block, n, ci, co, h, w, pad, 1e-4);
            }
            // A reduction as wide as the decoder's narrow levels, where F(4×4)'s larger
            // constants round most.
            check(block, 1, 128, 8, 19, 21, 1, 2e-4);
        }
    }

    /// Largest difference from the direct convolution, relative to the largest output.
    #[expect(clippy::too_many_arguments, reason = "one test case's sizes, named")]
    fn check(
        block: Block,
        n: usize,
        ci: usize,
        co: usize,
        h: usize,
        w: usize,
        pad: usize,
        tol: f32,
    ) {
        let weight = data(co * ci * 9, 1)
            .iter()
            .map(|v| v / (ci as f32 * 9.0).sqrt())
            .collect::<Vec<_>>();
        let x = data(n * ci * h * w, 2);
        let bias = data(co, 3);
        let taps = Taps::new(&weight, co, ci, 3);
        let wino = Winograd::new(&weight, co, ci, block);
        let relative = |want: &[f32], got: &[f32]| {
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
            let err = want
                .iter()
                .zip(got)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            err / scale
        };
        let (want, ho, wo) = conv_gemm::conv2d(&x, n, h, w, taps.forward(), pad, Some(&bias));
        let (got, gho, gwo) = conv3x3(&x, n, h, w, wino.forward(), pad, Some(&bias));
        assert_eq!((gho, gwo), (ho, wo));
        let err = relative(&want, &got);
        assert!(
            err < tol,
            "{block:?} forward {n} {ci} {co} {h}x{w} pad {pad}: {err}"
        );

        let g = data(n * co * ho * wo, 4);
        let back = 2 - pad;
        let (want, bh, bw) = conv_gemm::conv2d(&g, n, ho, wo, taps.flipped(), back, None);
        let (got, gbh, gbw) = conv3x3(&g, n, ho, wo, wino.flipped(), back, None);
        assert_eq!((gbh, gbw), (bh, bw));
        let err = relative(&want, &got);
        assert!(
            err < tol,
            "{block:?} flipped {n} {ci} {co} {h}x{w} pad {pad}: {err}"
        );
    }
}
