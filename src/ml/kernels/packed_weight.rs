//! Frozen linear weights laid out for decoding: f32, or fewer bytes as bf16 or q8 blocks.
//!
//! Writing one token reads every weight once, so a GPT-2 step runs at the memory's pace:
//! 500 MB a token for the 124M model in f32. bf16 halves the bytes; q8 keeps 32 signed bytes
//! and one f32 scale per block of 32 inputs (GGML's Q8_0 with an f32 scale), about 0.28× of
//! f32. Only the weights are rounded; the activations and sums stay f32, so the error is the
//! weights' rounding alone: at most 2⁻⁸ of each weight in bf16, half a step of its block's
//! scale (`max |w| / 127`) in q8.

use std::fmt;
use std::str::FromStr;

use rayon::prelude::*;

use super::gemm_view::linear_into;
pub use super::packed_dot::Q8_BLOCK;
use super::packed_dot::{dot_bf16, dot_f32, dot_q8, widen_bf16, widen_q8};

/// How a frozen weight is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightFormat {
    #[default]
    F32,
    Bf16,
    Q8,
}

impl WeightFormat {
    pub const ALL: [WeightFormat; 3] = [WeightFormat::Q8, WeightFormat::Bf16, WeightFormat::F32];

    pub fn name(self) -> &'static str {
        match self {
            WeightFormat::F32 => "f32",
            WeightFormat::Bf16 => "bf16",
            WeightFormat::Q8 => "q8",
        }
    }
}

impl fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WeightFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("weights are q8, bf16 or f32, not “{s}”"))
    }
}

/// Rows one pass over the packed weight serves: a writing step has one row per sequence.
pub const MAX_STREAMED_ROWS: usize = 8;

/// Rows above which the whole weight is unpacked to f32 for one GEMM (a prompt being read).
/// Up to here the rows go in passes of [`MAX_STREAMED_ROWS`]: 32 rows read q8's packed bytes
/// four times, 1.1× f32's once, where unpacking would write and read 2× f32's.
pub const MAX_PASSED_ROWS: usize = 32;

/// Outputs per parallel task: enough weight rows to amortise scheduling.
const OUTPUTS_PER_TASK: usize = 32;

#[derive(Debug, Clone)]
enum Data {
    F32(Vec<f32>),
    Bf16(Vec<u16>),
    /// `scales[o * blocks + b]` scales the block `q[o * d_in + b * 32 ..][..32]`; a row's last
    /// block is short when `d_in` is not a multiple of 32.
    Q8 {
        scales: Vec<f32>,
        q: Vec<i8>,
    },
}

/// A `[d_out, d_in]` weight (PyTorch's `Linear` layout) in bf16 or q8, for `y = x Wᵀ`.
#[derive(Debug, Clone)]
pub struct PackedWeight {
    d_out: usize,
    d_in: usize,
    data: Data,
}

/// A weight that is not a finite number: q8 would turn it into zeros or a block of NaN while
/// bf16 and f32 keep it, so no format writes with it.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("a weight is not a finite number; the model file is damaged")]
pub struct NotFinite;

impl PackedWeight {
    /// Packs `w`, `[d_out, d_in]` row-major. F32 keeps the values as they are, in the layout
    /// the streamed product reads.
    ///
    /// # Panics
    /// When `w.len() != d_out * d_in`: a programming error.
    pub fn pack(
        w: &[f32],
        d_out: usize,
        d_in: usize,
        format: WeightFormat,
    ) -> Result<Self, NotFinite> {
        assert_eq!(w.len(), d_out * d_in, "weight is not {d_out}×{d_in}");
        if !w.iter().all(|v| v.is_finite()) {
            return Err(NotFinite);
        }
        let data = match format {
            WeightFormat::F32 => Data::F32(w.to_vec()),
            WeightFormat::Bf16 => Data::Bf16(w.iter().map(|&v| to_bf16(v)).collect()),
            WeightFormat::Q8 => {
                let blocks = d_in.div_ceil(Q8_BLOCK);
                let mut scales = Vec::with_capacity(d_out * blocks);
                let mut q = Vec::with_capacity(w.len());
                for row in w.chunks_exact(d_in.max(1)).take(d_out) {
                    for block in row.chunks(Q8_BLOCK) {
                        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
                        let scale = amax / 127.0;
                        let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
                        scales.push(scale);
                        q.extend(
                            block
                                .iter()
                                .map(|v| (v * inv).round().clamp(-127.0, 127.0) as i8),
                        );
                    }
                }
                Data::Q8 { scales, q }
            }
        };
        Ok(Self { d_out, d_in, data })
    }

    pub fn d_out(&self) -> usize {
        self.d_out
    }

    pub fn d_in(&self) -> usize {
        self.d_in
    }

    pub fn format(&self) -> WeightFormat {
        match self.data {
            Data::F32(_) => WeightFormat::F32,
            Data::Bf16(_) => WeightFormat::Bf16,
            Data::Q8 { .. } => WeightFormat::Q8,
        }
    }

    /// Bytes the weight takes (and a decoding step reads).
    pub fn bytes(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len() * 4,
            Data::Bf16(v) => v.len() * 2,
            Data::Q8 { scales, q } => scales.len() * 4 + q.len(),
        }
    }

    /// Row `o` back in f32 into `out` (`d_in` long).
    fn unpack_row(&self, o: usize, out: &mut [f32]) {
        let d_in = self.d_in;
        match &self.data {
            Data::F32(v) => out.copy_from_slice(&v[o * d_in..(o + 1) * d_in]),
            Data::Bf16(v) => widen_bf16(&v[o * d_in..(o + 1) * d_in], out),
            Data::Q8 { scales, q } => {
                let blocks = d_in.div_ceil(Q8_BLOCK);
                widen_q8(
                    &q[o * d_in..(o + 1) * d_in],
                    &scales[o * blocks..(o + 1) * blocks],
                    out,
                );
            }
        }
    }

    /// The whole weight back in f32, `[d_out, d_in]`.
    pub fn unpack(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.d_out * self.d_in];
        out.par_chunks_mut(self.d_in.max(1))
            .enumerate()
            .for_each(|(o, row)| self.unpack_row(o, row));
        out
    }

    /// `y = x Wᵀ` for `rows` rows of `x` (`[rows, d_in]`), into `y` (`[rows, d_out]`).
    ///
    /// # Panics
    /// When the slices disagree with the sizes: a programming error.
    pub fn matmul_t_into(&self, x: &[f32], rows: usize, y: &mut [f32]) {
        let (d_in, d_out) = (self.d_in, self.d_out);
        assert!(x.len() == rows * d_in && y.len() == rows * d_out);
        if rows == 0 || d_out == 0 {
            return;
        }
        if d_in == 0 {
            y.fill(0.0);
            return;
        }
        if rows > MAX_STREAMED_ROWS && rows <= MAX_PASSED_ROWS {
            for (xs, ys) in x
                .chunks(MAX_STREAMED_ROWS * d_in)
                .zip(y.chunks_mut(MAX_STREAMED_ROWS * d_out))
            {
                self.matmul_t_into(xs, xs.len() / d_in, ys);
            }
            return;
        }
        if rows > MAX_STREAMED_ROWS {
            let unpacked;
            let w = match &self.data {
                Data::F32(v) => v.as_slice(),
                _ => {
                    unpacked = self.unpack();
                    unpacked.as_slice()
                }
            };
            linear_into(y, x, w, rows, false);
            return;
        }
        // Each weight row is dotted with every input row while it is in L1, so the packed
        // weight is read from memory once. The results come output-major ([d_out, rows]);
        // with one row, the common writing step, that is already `y`'s layout.
        let blocks = d_in.div_ceil(Q8_BLOCK);
        let mut transposed = Vec::new();
        let out: &mut [f32] = if rows == 1 {
            &mut *y
        } else {
            transposed.resize(d_out * rows, 0f32);
            &mut transposed
        };
        out.par_chunks_mut(OUTPUTS_PER_TASK * rows)
            .enumerate()
            .for_each(|(task, ys)| {
                let mut buf = vec![0f32; d_in];
                for (k, yo) in ys.chunks_exact_mut(rows).enumerate() {
                    let o = task * OUTPUTS_PER_TASK + k;
                    let w = o * d_in..(o + 1) * d_in;
                    for (r, v) in yo.iter_mut().enumerate() {
                        let xr = &x[r * d_in..(r + 1) * d_in];
                        *v = match &self.data {
                            Data::F32(d) => dot_f32(xr, &d[w.clone()]),
                            Data::Bf16(d) => dot_bf16(xr, &d[w.clone()], &mut buf),
                            Data::Q8 { scales, q } => dot_q8(
                                xr,
                                &q[w.clone()],
                                &scales[o * blocks..(o + 1) * blocks],
                                &mut buf,
                            ),
                        };
                    }
                }
            });
        // The caller wants rows first.
        for (o, ys) in transposed.chunks_exact(rows).enumerate() {
            for (r, v) in ys.iter().enumerate() {
                y[r * d_out + o] = *v;
            }
        }
    }
}

/// f32 to bf16, rounding to nearest, ties to even; NaN stays NaN.
pub(crate) fn to_bf16(v: f32) -> u16 {
    if v.is_nan() {
        return 0x7fc0;
    }
    let b = v.to_bits();
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

#[cfg(test)]
#[path = "packed_weight_tests.rs"]
mod tests;
