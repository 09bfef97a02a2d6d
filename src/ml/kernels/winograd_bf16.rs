//! The F(2×2) Winograd convolutions' channel-mixing products in bf16 (`--precision bf16`):
//! each point's transformed kernel rounded once, the transformed tiles rounded as they are
//! packed for the product, sums in f32 (see [`super::bf16_gemm`]). The transforms stay in f32.
//! (F(4×4) stays in f32: see `Winograd::switch_to_bf16`.)

use rayon::prelude::*;

use super::bf16_gemm::{self, pack_strided, panels_len, Bf16Rows};
use super::winograd_scratch::Grown;

/// Both directions' point matrices in bf16: `forward[ξ]` is `[c_out, c_in]`, `flipped[ξ]` the
/// input gradient's `[c_in, c_out]`.
#[derive(Debug, Clone)]
pub(crate) struct Bf16Points {
    pub forward: Vec<Bf16Rows>,
    pub flipped: Vec<Bf16Rows>,
}

impl Bf16Points {
    /// From `u[ξ][c_out][c_in]` and the flipped kernel's points `u_flip(ξ, c_out, c_in)` (read
    /// transposed).
    pub fn new(
        u: &[f32],
        (c_out, c_in, points): (usize, usize, usize),
        u_flip: impl Fn(usize, usize, usize) -> f32,
    ) -> Self {
        let forward = (0..points)
            .map(|xi| {
                let u = &u[xi * c_out * c_in..(xi + 1) * c_out * c_in];
                Bf16Rows::new(c_out, c_in, |o, i| u[o * c_in + i])
            })
            .collect();
        let flipped = (0..points)
            .map(|xi| Bf16Rows::new(c_in, c_out, |i, o| u_flip(xi, o, i)))
            .collect();
        Self { forward, flipped }
    }
}

/// `m[ξ] = A[ξ] · v[ξ]` for every point: `v[ci][ξ][tile]` holds `tiles` tiles per point
/// `stride` apart, `m` one block of `block` values per point, row `co` at `co · stride`. `buf`
/// holds the packed tiles, grown as needed.
pub(crate) fn products(
    points: &[Bf16Rows],
    v: &[f32],
    m: &mut [f32],
    (tiles, stride, block): (usize, usize, usize),
    buf: &mut Grown<u16>,
) {
    let Some(first) = points.first() else {
        return;
    };
    let ci = first.k;
    let p = points.len();
    let len = panels_len(ci, tiles).max(1);
    buf.at_least(p * len)
        .par_chunks_mut(len)
        .zip(m[..p * block].par_chunks_mut(block))
        .enumerate()
        .for_each(|(xi, (b, m))| {
            let panels = pack_strided(b, ci, tiles, &v[xi * stride..], p * stride);
            bf16_gemm::matmul_frozen_left(m, stride, &points[xi], panels);
        });
}
