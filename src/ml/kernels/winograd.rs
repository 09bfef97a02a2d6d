//! 3×3 stride-1 convolutions by Winograd's minimal filtering, F(2×2, 3×3) or F(4×4, 3×3).
//!
//! Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2015). Each M×M block of
//! outputs comes from an (M+2)² input tile: the tile and the kernel are mapped into a transform
//! domain of (M+2)² points, where the convolution becomes that many independent channel-mixing
//! products, and the result is mapped back (`winograd_transforms` holds the maps). F(2×2)
//! multiplies 2.25× less than the direct convolution, F(4×4) 4× less. The VQGAN decoder is
//! almost all 3×3 convolutions, forward and (with the flipped kernel) backward.
//!
//! The input gradient convolves with the flipped kernel, channel axes swapped. For F(2×2) in f32
//! that needs no second copy (in bf16 both directions are rounded and stored once, see
//! `winograd_bf16`): flipping a 3×3 kernel in space permutes its transform's rows and
//! columns by `[3, 1, 2, 0]` (the rows of `G` read backwards), and swapping channel axes is
//! reading each transformed matrix transposed. F(4×4)'s points (0, ±1, ±2, ∞) are not closed
//! under that flip, so its flipped transform is built from the kept 3×3 kernel for each call:
//! 36 values per channel pair, little beside the convolution it serves.

use std::borrow::Cow;

use rayon::prelude::*;

use gemm::Parallelism;

use crate::ml::kernels::bf16_gemm;
use crate::ml::kernels::gemm_view::{matmul, View, ViewMut};
use crate::ml::kernels::winograd_bf16::{self, Bf16Points};
pub use crate::ml::kernels::winograd_scratch::release_scratch;
#[cfg(test)]
use crate::ml::kernels::winograd_scratch::SCRATCH;
use crate::ml::kernels::winograd_scratch::{with_scratch, Grown};
use crate::ml::kernels::winograd_tiles::{Tiles, ROW_GAP};
use crate::ml::kernels::winograd_transforms::{Variant, F2, F4};

/// Output pixels transformed and multiplied together, bounding the scratch memory. At 2,048 a
/// 128-channel F(4×4) chunk's tiles and products (about 2.4 MB) stay near the core's L2 between
/// the transforms and the products; 8,192 spilled them, and a step at 256², 8 cutouts took
/// about 5% longer with 60 MB more peak memory (Zen 4; `bench illustrate`, alternating builds).
const OUTPUTS_PER_CHUNK: usize = 2048;
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

/// A 3×3 kernel in the transform domain: `u[ξ][co][ci]` (or its bf16 points instead).
#[derive(Debug, Clone)]
pub struct Winograd {
    u: Vec<f32>,
    /// F(4×4) only: the `[c_out, c_in, 3, 3]` kernel, for the flipped transform.
    kernel: Vec<f32>,
    /// F(2×2) only: both directions' points in bf16, once [`Winograd::switch_to_bf16`] has
    /// run; `u` is freed then.
    bf16: Option<Box<Bf16Points>>,
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

/// A 3×3 kernel reversed in space: the flipped convolution's.
fn reversed(g: &[f32]) -> [f32; 9] {
    std::array::from_fn(|i| g[8 - i])
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
            bf16: None,
            c_out,
            c_in,
            block,
        }
    }

    /// Runs this kernel's products in bf16 from now on, freeing its f32 points; `false`, with
    /// nothing changed, where no bf16 kernel runs. F(4×4) kernels stay in f32 (and say `true`):
    /// their transforms scale values by up to 100 before the inverse cancels them, so bf16
    /// rounding reached the output at about 13× a direct bf16 convolution's error (4.6e-2 of
    /// the largest output against 3.5e-3, 128 input channels), where F(2×2)'s is 1.1–2×.
    pub fn switch_to_bf16(&mut self) -> bool {
        if !bf16_gemm::available() {
            return false;
        }
        if self.bf16.is_some() || self.block == Block::Four {
            return true;
        }
        let (co, ci) = (self.c_out, self.c_in);
        let u = &self.u;
        let points = Bf16Points::new(u, (co, ci, 16), |xi, o, i| {
            u[((FLIP[xi / 4] * 4 + FLIP[xi % 4]) * co + o) * ci + i]
        });
        self.bf16 = Some(Box::new(points));
        self.u = Vec::new();
        true
    }

    /// Whether the products run in bf16.
    pub fn is_bf16(&self) -> bool {
        self.bf16.is_some()
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
    let mut out = vec![0f32; n * co * ho * wo];
    let ts_max = rows_per_chunk::<M>(ho, wo) * wo.div_ceil(M) + ROW_GAP;
    with_scratch(|scratch| {
        let v = scratch.v.at_least(ci * P * ts_max);
        // The products are ξ-major, so they can run side by side, one per thread.
        let m = scratch.m.at_least(P * (co * ts_max + ROW_GAP));
        let scratch = (v, m, &mut scratch.packed);
        chunks::<V, M, T, P>(x, (n, h, w), kernel, padding, bias, scratch, &mut out);
    });
    (out, ho, wo)
}

/// Tile rows transformed and multiplied together: about `OUTPUTS_PER_CHUNK` outputs.
fn rows_per_chunk<const M: usize>(ho: usize, wo: usize) -> usize {
    (OUTPUTS_PER_CHUNK / (M * M) / wo.div_ceil(M)).clamp(1, ho.div_ceil(M))
}

/// The chunks of tile rows of every image, through `v` and `m`, into `out`.
fn chunks<V: Variant<M, T, P>, const M: usize, const T: usize, const P: usize>(
    x: &[f32],
    (n, h, w): (usize, usize, usize),
    kernel: WinogradKernel,
    padding: usize,
    bias: Option<&[f32]>,
    (v, m, packed): (&mut [f32], &mut [f32], &mut Grown<u16>),
    out: &mut [f32],
) {
    let ci = kernel.c_in();
    let co = kernel.c_out();
    let (ho, wo) = (h + 2 * padding - 2, w + 2 * padding - 2);
    let (th, tw) = (ho.div_ceil(M), wo.div_ceil(M));
    // The f32 points are freed once the kernel is in bf16.
    let bf16 = kernel.w.bf16.as_deref().map(|b| {
        if kernel.flipped {
            &b.flipped
        } else {
            &b.forward
        }
    });
    let points = bf16.is_none().then(|| kernel.points());
    let rows_per_chunk = rows_per_chunk::<M>(ho, wo);
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
            match (&points, bf16) {
                (Some(points), _) => {
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
                        })
                }
                (None, Some(rows)) => winograd_bf16::products(rows, v, m, (tc, ts, block), packed),
                (None, None) => unreachable!("a Winograd kernel has f32 or bf16 points"),
            }
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
}

#[cfg(test)]
#[path = "winograd_tests.rs"]
mod tests;
