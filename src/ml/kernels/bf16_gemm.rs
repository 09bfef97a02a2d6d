//! `y = x · B` with a frozen `B` kept in bf16, on AMX tiles or, without AMX, on AVX512-BF16's
//! `vdpbf16ps`: the `--precision bf16` products of CLIP's image tower, and (with the frozen
//! side on the left, [`matmul_frozen_left`]) of the VQGAN decoder's F(2×2) convolutions.
//!
//! `B` is packed once, when the layer switches to bf16, in the layout AMX's `tdpbf16ps` reads
//! (16-column panels of 32×16 k-pairs, one 1 KiB tile per 32 steps of the reduction), so a call
//! only rounds its `x` to bf16. `vdpbf16ps` reads the same layout, one row of pairs at a time.
//! Products accumulate in f32, as PyTorch's bf16 autocast does. Work is split into blocks of up
//! to 128 rows by 128 columns, so a task's rows of `x` and its panels of `B` stay in the core's
//! L2 while it sweeps them.

use std::cell::RefCell;

use rayon::prelude::*;

use super::amx::{self, Block, TILE, TILE_K};
use super::bf16_dot;
pub use super::bf16_kernel::{available, kernel, unavailable_reason, Kernel};
use super::bf16_rows::BLOCK;
pub use super::bf16_rows::{pack_strided, panels_len, Bf16Rows, Panels};
pub(crate) use super::packed_weight::to_bf16;
/// Blocks per task along each side.
const TASK_BLOCKS: usize = 4;

/// A frozen `[k, n]` right-hand side in AMX's bf16 tile layout, zero-padded to whole tiles.
#[derive(Clone)]
pub struct PackedBf16 {
    k: usize,
    n: usize,
    k_tiles: usize,
    /// 16-column panels, an even number so blocks are always two panels wide.
    panels: usize,
    data: Vec<u16>,
}

impl std::fmt::Debug for PackedBf16 {
    /// The shape, not the millions of values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PackedBf16 {{ k: {}, n: {}, bytes: {} }}",
            self.k,
            self.n,
            self.bytes()
        )
    }
}

impl PackedBf16 {
    /// Packs `B[k][n] = at(k, n)`.
    pub fn pack(k: usize, n: usize, at: impl Fn(usize, usize) -> f32 + Sync) -> Self {
        let k_tiles = k.div_ceil(TILE_K);
        let panels = n.div_ceil(BLOCK) * 2;
        let tile = TILE * TILE_K;
        let mut data = vec![0u16; panels * k_tiles * tile];
        data.par_chunks_mut((k_tiles * tile).max(1))
            .enumerate()
            .for_each(|(p, panel)| {
                for (kt, t) in panel.chunks_exact_mut(tile).enumerate() {
                    // Row r holds k-pairs (2r, 2r+1) for each of the panel's 16 columns.
                    for (i, v) in t.iter_mut().enumerate() {
                        let (r, c, e) = (i / TILE_K, (i % TILE_K) / 2, i % 2);
                        let (kk, nn) = (kt * TILE_K + 2 * r + e, p * TILE + c);
                        if kk < k && nn < n {
                            *v = to_bf16(at(kk, nn));
                        }
                    }
                }
            });
        Self {
            k,
            n,
            k_tiles,
            panels,
            data,
        }
    }

    /// `Wᵀ` for a `[d_out, d_in]` weight: the forward product `x Wᵀ`.
    pub fn transposed(w: &[f32], d_out: usize, d_in: usize) -> Self {
        Self::pack(d_in, d_out, |k, n| w[n * d_in + k])
    }

    /// `W` itself: the input gradient `g W`.
    pub fn plain(w: &[f32], d_out: usize, d_in: usize) -> Self {
        Self::pack(d_out, d_in, |k, n| w[k * d_in + n])
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn bytes(&self) -> usize {
        self.data.len() * 2
    }

    /// `B[k][n]` as stored (bf16, widened).
    pub fn at(&self, k: usize, n: usize) -> f32 {
        self.panels().at(k, n)
    }

    /// The panels, as the block products read them.
    pub fn panels(&self) -> Panels<'_> {
        Panels {
            k: self.k,
            n: self.n,
            k_tiles: self.k_tiles,
            panels: self.panels,
            data: &self.data,
        }
    }
}

/// A frozen `[d_out, d_in]` weight in bf16, packed for both products its layer runs.
#[derive(Debug)]
pub struct Bf16Linear {
    /// `Wᵀ`, for `x Wᵀ`.
    pub forward: PackedBf16,
    /// `W`, for the input gradient `g W`.
    pub backward: PackedBf16,
}

impl Bf16Linear {
    pub fn new(w: &[f32], d_out: usize, d_in: usize) -> Self {
        Self {
            forward: PackedBf16::transposed(w, d_out, d_in),
            backward: PackedBf16::plain(w, d_out, d_in),
        }
    }

    /// `(d_out, d_in)`.
    pub fn dims(&self) -> (usize, usize) {
        (self.backward.k, self.backward.n)
    }

    /// The weight as the products read it, `[d_out, d_in]` row-major in f32.
    pub fn unpack(&self) -> Vec<f32> {
        let (d_out, d_in) = self.dims();
        (0..d_out * d_in)
            .map(|i| self.backward.at(i / d_in, i % d_in))
            .collect()
    }
}

/// The output slice, shared by tasks that each write their own rows×columns block.
struct Out(*mut f32);
// SAFETY: tasks write disjoint blocks of the slice `Out` points into, which outlives them.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

/// `y = x · B`, or `y += x · B` when `accumulate`; `x` is `[rows, B.k]`, `y` `[rows, B.n]`, on
/// this process's [`kernel`].
///
/// # Panics
/// When bf16 is not [`available`] or the sizes disagree: both are the caller's checks.
pub fn matmul_into(y: &mut [f32], x: &[f32], rows: usize, b: &PackedBf16, accumulate: bool) {
    matmul_on(this_kernel(), y, x, rows, b, accumulate);
}

/// [`matmul_into`] with `x` made row by row in bf16: `row(r, out)` must write every one of row
/// `r`'s `B.k` values (the buffer holds an earlier product's), rounded with [`to_bf16`]. An
/// elementwise step before a product (CLIP's quick-GELU and its slope) done here costs no pass
/// over memory and no f32 buffer of its own.
///
/// # Panics
/// When bf16 is not [`available`] or the sizes disagree.
pub fn matmul_rows_into(
    y: &mut [f32],
    rows: usize,
    b: &PackedBf16,
    accumulate: bool,
    row: impl Fn(usize, &mut [u16]) + Sync,
) {
    product(this_kernel(), y, rows, b, accumulate, row);
}

/// This process's [`kernel`]; the callers have checked [`available`].
fn this_kernel() -> Kernel {
    kernel().expect("bf16 product without checking bf16_gemm::available()")
}

/// [`matmul_into`] on the kernel named, so tests can run both where the CPU has both.
///
/// # Panics
/// When the CPU (or the system, for AMX) does not run `kernel`, or the sizes disagree.
pub fn matmul_on(
    kernel: Kernel,
    y: &mut [f32],
    x: &[f32],
    rows: usize,
    b: &PackedBf16,
    accumulate: bool,
) {
    assert_eq!(x.len(), rows * b.k, "bf16 product: x is not rows × k");
    product(kernel, y, rows, b, accumulate, |r, dst| {
        let src = &x[r * b.k..(r + 1) * b.k];
        debug_assert_eq!(src.len(), dst.len());
        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = to_bf16(s));
    });
}

/// Panics unless this CPU (and, for AMX, its system) runs `kernel`.
fn assert_runs(kernel: Kernel) {
    match kernel {
        Kernel::Amx => assert!(
            amx::available(),
            "AMX used without checking amx::available()"
        ),
        Kernel::Dot => assert!(bf16_dot::available(), "this CPU has no AVX512-BF16"),
    }
}

/// The product, with row `r` of `x` written in bf16 by `fill(r, out)`.
fn product(
    kernel: Kernel,
    y: &mut [f32],
    rows: usize,
    b: &PackedBf16,
    accumulate: bool,
    fill: impl Fn(usize, &mut [u16]) + Sync,
) {
    assert_runs(kernel);
    assert_eq!(y.len(), rows * b.n, "bf16 product: y is not rows × n");
    if rows == 0 || b.n == 0 {
        return;
    }
    if b.k == 0 {
        if !accumulate {
            y.fill(0.0);
        }
        return;
    }
    // x in bf16, rows padded to whole blocks and the reduction to whole tiles, so every tile
    // load stays inside the buffer.
    let k_pad = b.k_tiles * TILE_K;
    let m_blocks = rows.div_ceil(BLOCK);
    with_input(m_blocks * BLOCK * k_pad, |a| {
        a.par_chunks_mut(k_pad * TILE)
            .enumerate()
            .for_each(|(chunk, dst)| {
                for (i, d) in dst.chunks_exact_mut(k_pad).enumerate() {
                    let r = chunk * TILE + i;
                    let (row, pad) = d.split_at_mut(b.k);
                    // The padding meets B's zero rows, so it must hold finite values: zeros.
                    pad.fill(0);
                    // Rows past the last make output rows that are never kept: left as found.
                    if r < rows {
                        fill(r, row);
                    }
                }
            });
        sweep_blocks(kernel, (y, b.n), a, rows, k_pad, b.panels(), accumulate);
    });
}

/// `y = A · B` with both sides already in bf16: `A` frozen ([`Bf16Rows`]), `B` packed for this
/// call by [`pack_strided`]. Row `r` of `y` starts at `r · y_stride`; its columns past `B.n`
/// are left as found. On this process's [`kernel`].
///
/// # Panics
/// When bf16 is not [`available`] or the sizes disagree.
pub fn matmul_frozen_left(y: &mut [f32], y_stride: usize, a: &Bf16Rows, b: Panels) {
    matmul_frozen_left_on(this_kernel(), y, y_stride, a, b);
}

/// [`matmul_frozen_left`] on the kernel named, so tests can run both.
pub(crate) fn matmul_frozen_left_on(
    kernel: Kernel,
    y: &mut [f32],
    y_stride: usize,
    a: &Bf16Rows,
    b: Panels,
) {
    assert_runs(kernel);
    assert_eq!(a.k, b.k, "bf16 product: A's columns are not B's rows");
    assert_eq!(a.k_pad, b.k_tiles * TILE_K);
    assert!(
        y_stride >= b.n,
        "bf16 product: y's rows are shorter than B's"
    );
    // Checked: an absurd stride must not wrap around and pass the check it fails.
    let needed = (a.rows.saturating_sub(1))
        .checked_mul(y_stride)
        .and_then(|v| v.checked_add(b.n));
    assert!(
        a.rows == 0 || b.n == 0 || needed.is_some_and(|n| y.len() >= n),
        "bf16 product: y is not rows × n"
    );
    if a.rows == 0 || b.n == 0 {
        return;
    }
    if a.k == 0 {
        for row in y.chunks_mut(y_stride).take(a.rows) {
            row[..b.n].fill(0.0);
        }
        return;
    }
    sweep_blocks(kernel, (y, y_stride), &a.data, a.rows, a.k_pad, b, false);
}

thread_local! {
    /// The bf16 copy of `x` the last product on this thread made, kept for the next one rather
    /// than allocated and zeroed at every call (470 MB of zero-fill a step at 32 cutouts).
    /// Never cleared: every value a product reads is written by its own call, or is in a row
    /// whose output is thrown away.
    static INPUT: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` values of this thread's input buffer, or of a fresh one when it is in use
/// (a product called from a rayon task can run another, stolen while it waits).
fn with_input(len: usize, f: impl FnOnce(&mut [u16])) {
    INPUT.with(|cell| match cell.try_borrow_mut() {
        Ok(mut a) => {
            if a.len() < len {
                a.resize(len, 0);
            }
            f(&mut a[..len])
        }
        Err(_) => f(&mut vec![0u16; len]),
    })
}

/// The blocks of `y (+)= A·B`, `A` in bf16 rows of `k_pad`, split among rayon tasks; `y`
/// comes with its row stride.
fn sweep_blocks(
    kernel: Kernel,
    (y, y_stride): (&mut [f32], usize),
    a: &[u16],
    rows: usize,
    k_pad: usize,
    b: Panels,
    accumulate: bool,
) {
    let m_blocks = rows.div_ceil(BLOCK);
    let n_blocks = b.panels / 2;
    let (mt, nt) = (
        m_blocks.div_ceil(TASK_BLOCKS),
        n_blocks.div_ceil(TASK_BLOCKS),
    );
    let out = Out(y.as_mut_ptr());
    let n = b.n;
    (0..mt * nt).into_par_iter().for_each(|task| {
        // The whole `Out`, not its raw pointer field, which is neither `Send` nor `Sync`.
        let out = &out;
        let (tm, tn) = (task / nt, task % nt);
        let sweep = |product: &dyn Fn(&Block, &mut [f32; BLOCK * BLOCK])| {
            let mut c = [0f32; BLOCK * BLOCK];
            for nb in tn * TASK_BLOCKS..((tn + 1) * TASK_BLOCKS).min(n_blocks) {
                for mb in tm * TASK_BLOCKS..((tm + 1) * TASK_BLOCKS).min(m_blocks) {
                    let blk = Block {
                        a: a[mb * BLOCK * k_pad..].as_ptr(),
                        a_stride: k_pad * 2,
                        b0: b.panel(2 * nb),
                        b1: b.panel(2 * nb + 1),
                        k_tiles: b.k_tiles,
                    };
                    product(&blk, &mut c);
                    let (r0, c0) = (mb * BLOCK, nb * BLOCK);
                    let cols = BLOCK.min(n - c0);
                    for r in 0..BLOCK.min(rows - r0) {
                        let src = &c[r * BLOCK..r * BLOCK + cols];
                        // SAFETY: row r0+r and columns c0..c0+cols lie inside `y`, and no
                        // other task writes this block.
                        let dst = unsafe {
                            std::slice::from_raw_parts_mut(
                                out.0.add((r0 + r) * y_stride + c0),
                                cols,
                            )
                        };
                        if accumulate {
                            dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
                        } else {
                            dst.copy_from_slice(src);
                        }
                    }
                }
            }
        };
        // SAFETY (both): `a` holds whole blocks of `k_pad` bf16 per row and each panel
        // `k_tiles` tiles, as the block products read them; the kernel was checked above.
        match kernel {
            Kernel::Amx => amx::with_tiles(|tiles| sweep(&|blk, c| unsafe { tiles.block(blk, c) })),
            Kernel::Dot => sweep(&|blk, c| unsafe { bf16_dot::block(blk, c) }),
        }
    });
}

#[cfg(test)]
#[path = "bf16_gemm_tests.rs"]
mod tests;
