//! Stride-1 convolutions as a few large matrix products, without an im2col buffer.
//!
//! With the input zero-padded once (plus one spare row), every kernel tap (ky, kx) reads the
//! padded image at a constant offset `ky * Wp + kx` from the output position, when outputs are
//! laid out on the padded width `Wp`. Each tap is then one GEMM, `W_tap[co, ci] · Xp[ci, j + off]`,
//! accumulated into the output, reading the input in place through a strided view. The two
//! spare columns per row are computed and dropped. candle 0.11's conv2d builds a full im2col
//! matrix (9× the input for 3×3) and runs at about 20 GFLOP/s here; this keeps the working set
//! to the input and output and lets the `gemm` crate block for the caches.

use gemm::Parallelism;

/// A kernel rearranged for [`conv2d`]: `taps[t][co][ci]` for `t = ky * k + kx`.
///
/// The same array also serves the input gradient ([`Taps::flipped`]): the convolution with
/// the kernel reversed in space and its channel axes swapped reads tap `k² - 1 - t`, transposed,
/// so no second copy of the weights is kept.
#[derive(Debug, Clone)]
pub struct Taps {
    taps: Vec<f32>,
    pub c_out: usize,
    pub c_in: usize,
    pub k: usize,
}

impl Taps {
    /// From a `[c_out, c_in, k, k]` kernel in row-major order.
    pub fn new(weight: &[f32], c_out: usize, c_in: usize, k: usize) -> Self {
        let kk = k * k;
        let mut taps = vec![0f32; kk * c_out * c_in];
        for co in 0..c_out {
            for ci in 0..c_in {
                for t in 0..kk {
                    taps[(t * c_out + co) * c_in + ci] = weight[(co * c_in + ci) * kk + t];
                }
            }
        }
        Self {
            taps,
            c_out,
            c_in,
            k,
        }
    }
}

/// A kernel as one convolution reads it: as stored, or flipped for the input gradient.
#[derive(Debug, Clone, Copy)]
pub struct Kernel<'a> {
    taps: &'a Taps,
    flipped: bool,
}

impl Taps {
    pub fn forward(&self) -> Kernel<'_> {
        Kernel {
            taps: self,
            flipped: false,
        }
    }

    /// The kernel of the input gradient: spatially reversed, in and out channels swapped.
    pub fn flipped(&self) -> Kernel<'_> {
        Kernel {
            taps: self,
            flipped: true,
        }
    }
}

impl Kernel<'_> {
    pub fn c_in(&self) -> usize {
        if self.flipped {
            self.taps.c_out
        } else {
            self.taps.c_in
        }
    }

    pub fn c_out(&self) -> usize {
        if self.flipped {
            self.taps.c_in
        } else {
            self.taps.c_out
        }
    }

    /// Tap `t` as a `[c_out, c_in]` matrix: its slice, row stride and column stride.
    fn tap(&self, t: usize) -> (&[f32], usize, usize) {
        let (co, ci, kk) = (self.taps.c_out, self.taps.c_in, self.taps.k * self.taps.k);
        if self.flipped {
            let t = kk - 1 - t;
            (&self.taps.taps[t * co * ci..(t + 1) * co * ci], 1, ci)
        } else {
            (&self.taps.taps[t * co * ci..(t + 1) * co * ci], ci, 1)
        }
    }
}

fn parallelism() -> Parallelism {
    match candle_core::utils::get_num_threads() {
        0 | 1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}

/// Convolves `n` images `[c_in, h, w]` (contiguous, row-major) with `padding` on every side and
/// stride 1; returns `[n, c_out, ho, wo]` and `(ho, wo)`. `bias` has `c_out` entries.
pub fn conv2d(
    x: &[f32],
    n: usize,
    h: usize,
    w: usize,
    taps: Kernel,
    padding: usize,
    bias: Option<&[f32]>,
) -> (Vec<f32>, usize, usize) {
    let (ci, co, k) = (taps.c_in(), taps.c_out(), taps.taps.k);
    let (ho, wo) = (h + 2 * padding + 1 - k, w + 2 * padding + 1 - k);
    let mut out = vec![0f32; n * co * ho * wo];
    for img in 0..n {
        let x_img = &x[img * ci * h * w..(img + 1) * ci * h * w];
        let out_img = &mut out[img * co * ho * wo..(img + 1) * co * ho * wo];
        if k == 1 && padding == 0 {
            // A 1×1 convolution is one product, straight into the output.
            gemm_into(out_img, ho * wo, taps.tap(0), x_img, h * w, ci, co, false);
        } else {
            conv_padded(x_img, h, w, taps, padding, ho, wo, out_img);
        }
        if let Some(b) = bias {
            for (c, plane) in out_img.chunks_exact_mut(ho * wo).enumerate() {
                plane.iter_mut().for_each(|v| *v += b[c]);
            }
        }
    }
    (out, ho, wo)
}

#[allow(clippy::too_many_arguments)]
fn conv_padded(
    x: &[f32],
    h: usize,
    w: usize,
    taps: Kernel,
    padding: usize,
    ho: usize,
    wo: usize,
    out: &mut [f32],
) {
    let (ci, co, k) = (taps.c_in(), taps.c_out(), taps.taps.k);
    let wp = w + 2 * padding;
    // One spare row keeps the last tap's reads of the two dropped columns inside the buffer.
    let hp = h + 2 * padding + 1;
    let mut xp = vec![0f32; ci * hp * wp];
    for c in 0..ci {
        for y in 0..h {
            let src = &x[(c * h + y) * w..(c * h + y + 1) * w];
            let dst = (c * hp + y + padding) * wp + padding;
            xp[dst..dst + w].copy_from_slice(src);
        }
    }
    let cols = ho * wp;
    let mut wide = vec![0f32; co * cols];
    for t in 0..k * k {
        let offset = (t / k) * wp + t % k;
        gemm_into(
            &mut wide,
            cols,
            taps.tap(t),
            &xp[offset..],
            hp * wp,
            ci,
            co,
            t > 0,
        );
    }
    for c in 0..co {
        for y in 0..ho {
            let src = (c * ho + y) * wp;
            out[(c * ho + y) * wo..(c * ho + y + 1) * wo].copy_from_slice(&wide[src..src + wo]);
        }
    }
}

/// `dst[co, cols] (+)= lhs[co, ci] · rhs[ci, cols]`, where rhs rows are `rhs_stride` apart
/// and lhs is `(slice, row stride, column stride)`.
#[allow(clippy::too_many_arguments)]
fn gemm_into(
    dst: &mut [f32],
    cols: usize,
    (lhs, lhs_rs, lhs_cs): (&[f32], usize, usize),
    rhs: &[f32],
    rhs_stride: usize,
    ci: usize,
    co: usize,
    accumulate: bool,
) {
    assert!(dst.len() >= co * cols);
    assert!(co == 0 || ci == 0 || (co - 1) * lhs_rs + (ci - 1) * lhs_cs < lhs.len());
    assert!(ci == 0 || rhs.len() >= (ci - 1) * rhs_stride + cols);
    // SAFETY: the asserts above keep every strided read and write inside the slices.
    unsafe {
        gemm::gemm(
            co,
            cols,
            ci,
            dst.as_mut_ptr(),
            1,
            cols as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            1,
            rhs_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism(),
        );
    }
}
