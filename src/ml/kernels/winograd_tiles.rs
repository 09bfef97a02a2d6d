//! The data transforms of Winograd F(2×2, 3×3) (see `winograd`): input tiles into the 16-point
//! domain, and products back into 2×2 output blocks.
//!
//! They are additions only, so they are bound by how many tiles go through per instruction.
//! Written tile by tile they compiled to scalar code with a bounds check per value, about a
//! tenth of a decoder step at 256². Here `LANES` neighbouring tiles of a tile row go through
//! together as fixed-size arrays, which the compiler keeps in vector registers, and the whole
//! pass is compiled a second time for AVX2, chosen at run time.

use std::array::from_fn;

/// Transform points per tile.
pub const POINTS: usize = 16;
/// Gap between the 16 point-rows of one channel's scratch, in floats. Without it those rows sit
/// a power of two apart and all 16 fall into the same L1 cache set while a tile is scattered.
pub const ROW_GAP: usize = 16;
/// Tiles transformed side by side: one AVX2 register of f32.
const LANES: usize = 8;

type Lanes<const N: usize> = [f32; N];

#[inline(always)]
fn add<const N: usize>(a: Lanes<N>, b: Lanes<N>) -> Lanes<N> {
    let mut out = a;
    for (o, b) in out.iter_mut().zip(b) {
        *o += b;
    }
    out
}

#[inline(always)]
fn sub<const N: usize>(a: Lanes<N>, b: Lanes<N>) -> Lanes<N> {
    let mut out = a;
    for (o, b) in out.iter_mut().zip(b) {
        *o -= b;
    }
    out
}

/// `Bᵀ d B` for `N` tiles at once; `d[r][c]` holds element (r, c) of every tile.
#[inline(always)]
fn transform<const N: usize>(d: [[Lanes<N>; 4]; 4]) -> [Lanes<N>; POINTS] {
    // Columns first (Bᵀ d), then rows (· B).
    let col = |c: usize| {
        [
            sub(d[0][c], d[2][c]),
            add(d[1][c], d[2][c]),
            sub(d[2][c], d[1][c]),
            sub(d[1][c], d[3][c]),
        ]
    };
    let cols = [col(0), col(1), col(2), col(3)];
    let mut out = [[0f32; N]; POINTS];
    for r in 0..4 {
        let v = [cols[0][r], cols[1][r], cols[2][r], cols[3][r]];
        out[r * 4] = sub(v[0], v[2]);
        out[r * 4 + 1] = add(v[1], v[2]);
        out[r * 4 + 2] = sub(v[2], v[1]);
        out[r * 4 + 3] = sub(v[1], v[3]);
    }
    out
}

/// `Aᵀ m A` for `N` tiles at once: `[y00, y01, y10, y11]`, each plus `bias`.
#[inline(always)]
fn untransform<const N: usize>(m: [Lanes<N>; POINTS], bias: f32) -> [Lanes<N>; 4] {
    let (mut a, mut b) = ([[0f32; N]; 4], [[0f32; N]; 4]);
    for j in 0..4 {
        a[j] = add(add(m[j], m[4 + j]), m[8 + j]);
        b[j] = sub(sub(m[4 + j], m[8 + j]), m[12 + j]);
    }
    let biased = |v: Lanes<N>| add(v, [bias; N]);
    [
        biased(add(add(a[0], a[1]), a[2])),
        biased(sub(sub(a[1], a[2]), a[3])),
        biased(add(add(b[0], b[1]), b[2])),
        biased(sub(sub(b[1], b[2]), b[3])),
    ]
}

/// The tile rows `r0..r0 + rows` of one image.
pub struct Tiles {
    pub h: usize,
    pub w: usize,
    pub padding: usize,
    pub r0: usize,
    pub rows: usize,
    pub tw: usize,
}

impl Tiles {
    /// Row stride of one point in a channel's scratch.
    pub fn stride(&self) -> usize {
        self.rows * self.tw + ROW_GAP
    }

    /// Transforms one channel's tiles into `v[ξ][tile]`.
    pub fn input(&self, plane: &[f32], v: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has just been checked for AVX2.
            return unsafe { self.input_avx2(plane, v) };
        }
        self.input_lanes(plane, v)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn input_avx2(&self, plane: &[f32], v: &mut [f32]) {
        self.input_lanes(plane, v)
    }

    #[inline(always)]
    fn input_lanes(&self, plane: &[f32], v: &mut [f32]) {
        let (tc, tw) = (self.stride(), self.tw);
        // Each plane row the tiles read, zero-padded and split into even and odd columns:
        // tile `tx` reads columns 2tx..2tx+4, that is even[tx], odd[tx], even[tx+1], odd[tx+1].
        let ph = 2 * self.rows + 2;
        let mut even = vec![0f32; ph * (tw + 1)];
        let mut odd = vec![0f32; ph * (tw + 1)];
        let mut padded = vec![0f32; 2 * (tw + 1)];
        for py in 0..ph {
            let y = (2 * self.r0 + py) as isize - self.padding as isize;
            if y < 0 || y >= self.h as isize {
                continue;
            }
            let src = &plane[y as usize * self.w..(y as usize + 1) * self.w];
            // The padded row by a plain copy, then split: both passes vectorise.
            padded.fill(0.0);
            let start = self.padding.min(padded.len());
            let len = self.w.min(padded.len() - start);
            padded[start..start + len].copy_from_slice(&src[..len]);
            let row = py * (tw + 1)..(py + 1) * (tw + 1);
            for ((e, o), pair) in even[row.clone()]
                .iter_mut()
                .zip(&mut odd[row])
                .zip(padded.chunks_exact(2))
            {
                (*e, *o) = (pair[0], pair[1]);
            }
        }
        for ty in 0..self.rows {
            let row = |r: usize, odd_col: bool, shift: usize| {
                let base = (2 * ty + r) * (tw + 1) + shift;
                let src = if odd_col { &odd } else { &even };
                &src[base..base + tw]
            };
            let d: [[&[f32]; 4]; 4] = from_fn(|r| {
                [
                    row(r, false, 0),
                    row(r, true, 0),
                    row(r, false, 1),
                    row(r, true, 1),
                ]
            });
            let out_row = ty * tw;
            let mut tx = 0;
            while tx + LANES <= tw {
                let mut tile = [[[0f32; LANES]; 4]; 4];
                for (dst, src) in tile.iter_mut().flatten().zip(d.iter().flatten()) {
                    dst.copy_from_slice(&src[tx..tx + LANES]);
                }
                let t = transform::<LANES>(tile);
                for (xi, lanes) in t.iter().enumerate() {
                    let at = xi * tc + out_row + tx;
                    v[at..at + LANES].copy_from_slice(lanes);
                }
                tx += LANES;
            }
            for tx in tx..tw {
                let t = transform::<1>(from_fn(|r| from_fn(|c| [d[r][c][tx]])));
                for (xi, lanes) in t.iter().enumerate() {
                    v[xi * tc + out_row + tx] = lanes[0];
                }
            }
        }
    }

    /// Maps one output channel's transform-domain values back to its plane, plus the bias:
    /// `point(ξ)` is that channel's row of tiles for point ξ.
    pub fn output<'a>(
        &self,
        point: impl Fn(usize) -> &'a [f32],
        plane: &mut [f32],
        (ho, wo): (usize, usize),
        bias: f32,
    ) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has just been checked for AVX2.
            return unsafe { self.output_avx2(&point, plane, (ho, wo), bias) };
        }
        self.output_lanes(&point, plane, (ho, wo), bias)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn output_avx2<'a>(
        &self,
        point: &impl Fn(usize) -> &'a [f32],
        plane: &mut [f32],
        size: (usize, usize),
        bias: f32,
    ) {
        self.output_lanes(point, plane, size, bias)
    }

    #[inline(always)]
    fn output_lanes<'a>(
        &self,
        point: &impl Fn(usize) -> &'a [f32],
        plane: &mut [f32],
        (ho, wo): (usize, usize),
        bias: f32,
    ) {
        let tw = self.tw;
        let points: [&[f32]; POINTS] = from_fn(point);
        // The four outputs of each tile of a tile row, then interleaved into two plane rows.
        let mut y = vec![0f32; 4 * tw];
        for ty in 0..self.rows {
            let m: [&[f32]; POINTS] = from_fn(|xi| &points[xi][ty * tw..(ty + 1) * tw]);
            let (y00, rest) = y.split_at_mut(tw);
            let (y01, rest) = rest.split_at_mut(tw);
            let (y10, y11) = rest.split_at_mut(tw);
            let mut tx = 0;
            while tx + LANES <= tw {
                let mut tile = [[0f32; LANES]; POINTS];
                for (dst, src) in tile.iter_mut().zip(&m) {
                    dst.copy_from_slice(&src[tx..tx + LANES]);
                }
                let r = untransform::<LANES>(tile, bias);
                y00[tx..tx + LANES].copy_from_slice(&r[0]);
                y01[tx..tx + LANES].copy_from_slice(&r[1]);
                y10[tx..tx + LANES].copy_from_slice(&r[2]);
                y11[tx..tx + LANES].copy_from_slice(&r[3]);
                tx += LANES;
            }
            for tx in tx..tw {
                let r = untransform::<1>(from_fn(|xi| [m[xi][tx]]), bias);
                (y00[tx], y01[tx], y10[tx], y11[tx]) = (r[0][0], r[1][0], r[2][0], r[3][0]);
            }
            for (dy, (left, right)) in [(&*y00, &*y01), (&*y10, &*y11)].into_iter().enumerate() {
                let oy = 2 * (self.r0 + ty) + dy;
                if oy >= ho {
                    continue;
                }
                let row = &mut plane[oy * wo..(oy + 1) * wo];
                for (pair, (&l, &r)) in row.chunks_mut(2).zip(left.iter().zip(right)) {
                    pair[0] = l;
                    if let Some(v) = pair.get_mut(1) {
                        *v = r;
                    }
                }
            }
        }
    }
}
