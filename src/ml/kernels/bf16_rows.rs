//! bf16 operands for products whose frozen side is the left one, `y = A · B`: the Winograd
//! convolutions, where `A` is a transformed kernel (`[c_out, c_in]` at each point) and `B` the
//! transformed tiles of the current input, made anew at every call.
//!
//! `A` is rounded once, as rows of `k_pad` bf16 values (the layout the block products read
//! their left side in), and `B` is packed per call into the panels [`super::bf16_gemm`]'s
//! frozen right-hand sides use, straight from the f32 tiles: one pass that reads them and
//! writes half the bytes.

use super::amx::{TILE, TILE_K};
use super::packed_weight::to_bf16;

/// Rows (and columns) of one block product: two AMX tiles each way.
pub(crate) const BLOCK: usize = 2 * TILE;
/// Values in one packed tile: 16 rows of k-pairs for 16 columns.
const TILE_VALUES: usize = TILE * TILE_K;

/// A frozen `[rows, k]` left-hand side in bf16, rows padded to whole blocks and each row to
/// whole tiles of the reduction, with zeros: padding meets the other side's padding, and
/// zero times anything finite adds nothing.
#[derive(Clone)]
pub struct Bf16Rows {
    pub(crate) rows: usize,
    pub(crate) k: usize,
    pub(crate) k_pad: usize,
    pub(crate) data: Vec<u16>,
}

impl std::fmt::Debug for Bf16Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bf16Rows {{ rows: {}, k: {} }}", self.rows, self.k)
    }
}

impl Bf16Rows {
    /// Rounds `A[r][k] = at(r, k)`.
    pub fn new(rows: usize, k: usize, at: impl Fn(usize, usize) -> f32) -> Self {
        let k_pad = k.div_ceil(TILE_K) * TILE_K;
        let mut data = vec![0u16; rows.div_ceil(BLOCK) * BLOCK * k_pad];
        for (r, row) in data.chunks_exact_mut(k_pad.max(1)).take(rows).enumerate() {
            for (kk, v) in row[..k].iter_mut().enumerate() {
                *v = to_bf16(at(r, kk));
            }
        }
        Self {
            rows,
            k,
            k_pad,
            data,
        }
    }

    /// `A[r][k]` as stored (bf16, widened).
    pub fn at(&self, r: usize, k: usize) -> f32 {
        f32::from_bits((self.data[r * self.k_pad + k] as u32) << 16)
    }
}

/// A `[k, n]` right-hand side in the block products' packed layout: 16-column panels, an even
/// number of them, each `k_tiles` tiles of 16 rows of k-pairs. Owned by a frozen
/// `PackedBf16`, or borrowed from a buffer [`pack_strided`] filled for one call.
#[derive(Clone, Copy)]
pub struct Panels<'a> {
    pub(crate) k: usize,
    pub(crate) n: usize,
    pub(crate) k_tiles: usize,
    pub(crate) panels: usize,
    pub(crate) data: &'a [u16],
}

impl Panels<'_> {
    /// `B[k][n]` as stored (bf16, widened).
    pub fn at(&self, k: usize, n: usize) -> f32 {
        let (p, c) = (n / TILE, n % TILE);
        let (kt, kk) = (k / TILE_K, k % TILE_K);
        let i = (p * self.k_tiles + kt) * TILE_VALUES + (kk / 2) * TILE_K + c * 2 + kk % 2;
        f32::from_bits((self.data[i] as u32) << 16)
    }

    /// The first value of panel `p`.
    pub(crate) fn panel(&self, p: usize) -> *const u16 {
        self.data[p * self.k_tiles * TILE_VALUES..].as_ptr()
    }
}

/// The values [`pack_strided`] needs for a `[k, n]` right-hand side.
pub fn panels_len(k: usize, n: usize) -> usize {
    k.div_ceil(TILE_K) * n.div_ceil(BLOCK) * 2 * TILE_VALUES
}

/// Packs `B[k][n] = src[k · stride + n]` into the first [`panels_len`] values of `buf`,
/// padding with zeros, and returns it as [`Panels`]. Only `src`'s first `n` values of each of
/// its `k` rows are read.
///
/// # Panics
/// When `buf` or `src` is too short.
pub fn pack_strided<'a>(
    buf: &'a mut [u16],
    k: usize,
    n: usize,
    src: &[f32],
    stride: usize,
) -> Panels<'a> {
    let k_tiles = k.div_ceil(TILE_K);
    let panels = n.div_ceil(BLOCK) * 2;
    let len = panels_len(k, n);
    assert!(buf.len() >= len, "pack_strided: buffer too short");
    assert!(
        k == 0 || n == 0 || src.len() >= (k - 1) * stride + n,
        "pack_strided: source too short"
    );
    let buf = &mut buf[..len];
    for (p, panel) in buf
        .chunks_exact_mut((k_tiles * TILE_VALUES).max(1))
        .enumerate()
    {
        let c0 = p * TILE;
        let cols = TILE.min(n.saturating_sub(c0));
        for (pair, dst) in panel.chunks_exact_mut(2 * TILE).enumerate() {
            // One packed row: the pair (2·pair, 2·pair + 1) of each of the panel's columns.
            let (k0, k1) = (2 * pair, 2 * pair + 1);
            let row = |kk: usize| {
                (kk < k && cols > 0).then(|| &src[kk * stride + c0..kk * stride + c0 + cols])
            };
            match (row(k0), row(k1)) {
                (Some(a), Some(b)) if cols == TILE => {
                    for (c, d) in dst.chunks_exact_mut(2).enumerate() {
                        d[0] = to_bf16(a[c]);
                        d[1] = to_bf16(b[c]);
                    }
                }
                (a, b) => {
                    dst.fill(0);
                    for c in 0..cols {
                        if let Some(a) = a {
                            dst[2 * c] = to_bf16(a[c]);
                        }
                        if let Some(b) = b {
                            dst[2 * c + 1] = to_bf16(b[c]);
                        }
                    }
                }
            }
        }
    }
    Panels {
        k,
        n,
        k_tiles,
        panels,
        data: buf,
    }
}
