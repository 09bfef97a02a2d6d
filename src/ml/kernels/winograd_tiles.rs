//! Moving a plane through a Winograd variant (see `winograd_transforms`): its input tiles into
//! the transform domain, and products back into output blocks.
//!
//! These passes are additions only, so they are bound by memory traffic and by how many values
//! go through per instruction. Both are done a tile row at a time in two streaming passes,
//! the variant's one-dimensional map down the columns and then along the rows, each over
//! `LANES` neighbouring tiles in vector registers. Gathering whole tiles instead (`T × T` values
//! of `LANES` tiles, 1,152 bytes for F(4×4)) spilled out of the registers into copies through
//! `memcpy`, a fifth of a decoder step. The passes are compiled for AVX-512 and AVX2 too,
//! chosen at run time.

use std::array::from_fn;

use crate::ml::kernels::winograd_transforms::Variant;

/// Gap between the point-rows of one channel's scratch, in floats. Without it those rows sit
/// a power of two apart and all fall into the same L1 cache set while a tile is scattered.
/// The input pass also stores whole groups of lanes past a row's last tile into it.
pub const ROW_GAP: usize = 16;
/// Tiles transformed side by side: one AVX-512 register of f32.
const LANES: usize = 16;
const _: () = assert!(ROW_GAP >= LANES - 1);

/// The tile rows `r0..r0 + rows` of one image, for output blocks of `M × M`.
pub struct Tiles<const M: usize> {
    pub h: usize,
    pub w: usize,
    pub padding: usize,
    pub r0: usize,
    pub rows: usize,
    pub tw: usize,
}

impl<const M: usize> Tiles<M> {
    /// Row stride of one point in a channel's scratch.
    pub fn stride(&self) -> usize {
        self.rows * self.tw + ROW_GAP
    }

    /// The tile row's width rounded up to whole groups of lanes.
    fn wide(&self) -> usize {
        self.tw.next_multiple_of(LANES)
    }

    /// Transforms one channel's tiles into `v[ξ][tile]` (`v` is `P × stride()` long).
    pub fn input<V: Variant<M, T, P>, const T: usize, const P: usize>(
        &self,
        plane: &[f32],
        v: &mut [f32],
    ) {
        assert!(v.len() >= P * self.stride());
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has just been checked for AVX-512F.
                return unsafe { self.input_avx512::<V, T, P>(plane, v) };
            }
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has just been checked for AVX2.
                return unsafe { self.input_avx2::<V, T, P>(plane, v) };
            }
        }
        self.input_lanes::<V, T, P>(plane, v)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn input_avx512<V: Variant<M, T, P>, const T: usize, const P: usize>(
        &self,
        plane: &[f32],
        v: &mut [f32],
    ) {
        self.input_lanes::<V, T, P>(plane, v)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn input_avx2<V: Variant<M, T, P>, const T: usize, const P: usize>(
        &self,
        plane: &[f32],
        v: &mut [f32],
    ) {
        self.input_lanes::<V, T, P>(plane, v)
    }

    #[inline(always)]
    fn input_lanes<V: Variant<M, T, P>, const T: usize, const P: usize>(
        &self,
        plane: &[f32],
        v: &mut [f32],
    ) {
        let (tc, tw, wide) = (self.stride(), self.tw, self.wide());
        // Each plane row the tiles read, zero-padded and split by column modulo M (its phase):
        // tile `tx` reads columns M·tx .. M·tx + T, and column M·tx + c is phase c % M at
        // position tx + c / M (T ≤ 2M, so c / M ≤ 1). One row per (plane row, phase), long
        // enough for whole groups of lanes starting at every tile and one past it.
        let span = wide + LANES;
        let ph = M * self.rows + 2;
        let mut phases = vec![0f32; ph * M * span];
        let mut padded = vec![0f32; M * span];
        for py in 0..ph {
            let y = (M * self.r0 + py) as isize - self.padding as isize;
            if y < 0 || y >= self.h as isize {
                continue;
            }
            let src = &plane[y as usize * self.w..(y as usize + 1) * self.w];
            // The padded row by a plain copy, then split: both passes vectorise.
            padded.fill(0.0);
            let start = self.padding.min(padded.len());
            let len = self.w.min(padded.len() - start);
            padded[start..start + len].copy_from_slice(&src[..len]);
            let rows = &mut phases[py * M * span..(py + 1) * M * span];
            for (tx, group) in padded.chunks_exact(M).enumerate() {
                for (p, &value) in group.iter().enumerate() {
                    rows[p * span + tx] = value;
                }
            }
        }
        // Down the columns: `cols[a][phase][x]`, the tile row's T input rows mapped to T.
        let mut cols = vec![0f32; T * M * span];
        for ty in 0..self.rows {
            for p in 0..M {
                for x in (0..span).step_by(LANES) {
                    let d: [[f32; LANES]; T] =
                        gather(|r| &phases[((M * ty + r) * M + p) * span + x..]);
                    for (a, out) in V::input_1d(d).iter().enumerate() {
                        let at = (a * M + p) * span + x;
                        cols[at..at + LANES].copy_from_slice(out);
                    }
                }
            }
            // Along the rows, each tile's T columns from the phases, into ξ = T·a + b. A group
            // running past the row's last tile spills into the next tile row, rewritten next,
            // or into the gap after the last.
            let out_row = ty * tw;
            for a in 0..T {
                for tx in (0..tw).step_by(LANES) {
                    let d: [[f32; LANES]; T] =
                        from_fn(|c| lanes(&cols[(a * M + c % M) * span + tx + c / M..]));
                    for (b, out) in V::input_1d(d).iter().enumerate() {
                        let at = (a * T + b) * tc + out_row + tx;
                        v[at..at + LANES].copy_from_slice(out);
                    }
                }
            }
        }
    }

    /// Maps one output channel's transform-domain values back to its plane, plus the bias:
    /// `point(ξ)` is that channel's row of tiles for point ξ, `stride()` long (the gap after
    /// the tiles is read, and what it makes thrown away).
    pub fn output<'a, V: Variant<M, T, P>, const T: usize, const P: usize>(
        &self,
        point: impl Fn(usize) -> &'a [f32],
        plane: &mut [f32],
        size: (usize, usize),
        bias: f32,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has just been checked for AVX-512F.
                return unsafe { self.output_avx512::<V, T, P>(&point, plane, size, bias) };
            }
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has just been checked for AVX2.
                return unsafe { self.output_avx2::<V, T, P>(&point, plane, size, bias) };
            }
        }
        self.output_lanes::<V, T, P>(&point, plane, size, bias)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn output_avx512<'a, V: Variant<M, T, P>, const T: usize, const P: usize>(
        &self,
        point: &impl Fn(usize) -> &'a [f32],
        plane: &mut [f32],
        size: (usize, usize),
        bias: f32,
    ) {
        self.output_lanes::<V, T, P>(point, plane, size, bias)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn output_avx2<'a, V: Variant<M, T, P>, const T: usize, const P: usize>(
        &self,
        point: &impl Fn(usize) -> &'a [f32],
        plane: &mut [f32],
        size: (usize, usize),
        bias: f32,
    ) {
        self.output_lanes::<V, T, P>(point, plane, size, bias)
    }

    #[inline(always)]
    fn output_lanes<'a, V: Variant<M, T, P>, const T: usize, const P: usize>(
        &self,
        point: &impl Fn(usize) -> &'a [f32],
        plane: &mut [f32],
        (ho, wo): (usize, usize),
        bias: f32,
    ) {
        let (tw, wide) = (self.tw, self.wide());
        let points: [&[f32]; P] = from_fn(point);
        assert!(points.iter().all(|p| p.len() >= self.stride()));
        // Down the columns: `cols[i][b][tx]`, the T point rows of a tile row mapped to M.
        let mut cols = vec![0f32; M * T * wide];
        for ty in 0..self.rows {
            let base = ty * tw;
            for b in 0..T {
                for tx in (0..tw).step_by(LANES) {
                    let m: [[f32; LANES]; T] = gather(|a| &points[a * T + b][base + tx..]);
                    for (i, out) in V::output_1d(m).iter().enumerate() {
                        let at = (i * T + b) * wide + tx;
                        cols[at..at + LANES].copy_from_slice(out);
                    }
                }
            }
            // Along the rows, then the M outputs of each tile interleaved into plane row i.
            for i in 0..M {
                let oy = M * (self.r0 + ty) + i;
                if oy >= ho {
                    break;
                }
                let row = &mut plane[oy * wo..(oy + 1) * wo];
                for tx in (0..tw).step_by(LANES) {
                    let m: [[f32; LANES]; T] = gather(|b| &cols[(i * T + b) * wide + tx..]);
                    let y = V::output_1d(m);
                    let start = M * tx;
                    if start + M * LANES <= wo {
                        let dst = &mut row[start..start + M * LANES];
                        for l in 0..LANES {
                            for j in 0..M {
                                dst[l * M + j] = y[j][l] + bias;
                            }
                        }
                    } else {
                        for (k, out) in row[start..].iter_mut().enumerate() {
                            *out = y[k % M][k / M] + bias;
                        }
                    }
                }
            }
        }
    }
}

/// `T` groups of lanes, group `r` from the start of `at(r)`. A loop, not `array::from_fn`:
/// `core::array::try_from_fn` was compiled out of line, so every group went through memory and
/// a call to `memcpy` instead of staying in registers. `perf record` of an f32 step at 256²,
/// cutn 8: `memmove` fell from 5.6% to 2.7% of its samples with the loop.
#[inline(always)]
fn gather<'a, const T: usize>(at: impl Fn(usize) -> &'a [f32]) -> [[f32; LANES]; T] {
    let mut d = [[0f32; LANES]; T];
    for (r, d) in d.iter_mut().enumerate() {
        *d = lanes(at(r));
    }
    d
}

/// The `LANES` values at the start of `s`.
#[inline(always)]
fn lanes(s: &[f32]) -> [f32; LANES] {
    s[..LANES].try_into().expect("LANES values")
}
