//! Bounds-checked strided matrix views over `f32` slices, multiplied with the `gemm` crate.
//!
//! The frozen linear layers and the fused attention read their operands in place: a head of
//! a packed QKV row, a weight read as its own transpose. Strides say how, so nothing is copied
//! into a contiguous layout first, and every view is checked against its slice once.

use gemm::Parallelism;

/// A `rows × cols` matrix whose element (r, c) is `data[r * rs + c * cs]`.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A row-major matrix with rows `stride` apart, starting at `data[0]`.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize, stride: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            rs: stride,
            cs: 1,
        }
    }

    /// The same elements read as the transpose.
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    fn fits(&self) -> bool {
        fits(self.data.len(), self.rows, self.cols, self.rs, self.cs)
    }
}

/// A mutable `rows × cols` row-major matrix with rows `stride` apart.
pub struct ViewMut<'a> {
    pub data: &'a mut [f32],
    pub rows: usize,
    pub cols: usize,
    pub stride: usize,
}

impl<'a> ViewMut<'a> {
    pub fn rows(data: &'a mut [f32], rows: usize, cols: usize, stride: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            stride,
        }
    }
}

fn fits(len: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < len
}

/// Threads for one large product: candle's count, so the two never oversubscribe.
pub fn parallel() -> Parallelism {
    match candle_core::utils::get_num_threads() {
        0 | 1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}

/// `y = x Wᵀ` (or `y +=` when `accumulate`) for `x` `[rows, d_in]` and `w` `[d_out, d_in]`,
/// PyTorch's `Linear` layout, all row-major: the product every frozen linear layer runs.
pub fn linear_into(y: &mut [f32], x: &[f32], w: &[f32], rows: usize, accumulate: bool) {
    let d_in = x.len() / rows.max(1);
    let d_out = y.len() / rows.max(1);
    matmul(
        ViewMut::rows(y, rows, d_out, d_out),
        View::rows(x, rows, d_in, d_in),
        View::rows(w, d_out, d_in, d_in).t(),
        accumulate,
        parallel(),
    );
}

/// `dst = a · b`, or `dst += a · b` when `accumulate`.
///
/// # Panics
/// When the shapes disagree or a view reaches past its slice: both are programming errors.
pub fn matmul(dst: ViewMut, a: View, b: View, accumulate: bool, par: Parallelism) {
    assert!(a.rows == dst.rows && b.cols == dst.cols && a.cols == b.rows);
    assert!(a.fits() && b.fits());
    assert!(fits(dst.data.len(), dst.rows, dst.cols, dst.stride, 1));
    // SAFETY: the asserts above keep every strided read and write inside the three slices,
    // and `dst` is borrowed mutably, so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            dst.rows,
            dst.cols,
            a.cols,
            dst.data.as_mut_ptr(),
            1,
            dst.stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: View, b: View) -> Vec<f32> {
        let mut out = vec![0f32; a.rows * b.cols];
        for r in 0..a.rows {
            for c in 0..b.cols {
                out[r * b.cols + c] = (0..a.cols)
                    .map(|k| a.data[r * a.rs + k * a.cs] * b.data[k * b.rs + c * b.cs])
                    .sum();
            }
        }
        out
    }

    #[test]
    fn strided_and_transposed_views_multiply_like_the_definition() {
        let data: Vec<f32> = (0..200).map(|i| ((i * 37) % 23) as f32 - 11.0).collect();
        // A 3×4 block inside rows of 10, times a 5×4 block read transposed.
        let a = View::rows(&data[7..], 3, 4, 10);
        let b = View::rows(&data[50..], 5, 4, 9).t();
        let want = naive(a, b);
        let mut got = vec![1f32; 3 * 6];
        matmul(
            ViewMut::rows(&mut got, 3, 5, 6),
            a,
            b,
            false,
            Parallelism::None,
        );
        for r in 0..3 {
            assert_eq!(&got[r * 6..r * 6 + 5], &want[r * 5..r * 5 + 5]);
            assert_eq!(got[r * 6 + 5], 1.0, "the gap between rows is left alone");
        }
        matmul(
            ViewMut::rows(&mut got, 3, 5, 6),
            a,
            b,
            true,
            Parallelism::None,
        );
        assert_eq!(got[0], 2.0 * want[0]);
    }

    #[test]
    #[should_panic]
    fn a_view_past_its_slice_is_refused() {
        let data = vec![0f32; 10];
        let mut out = vec![0f32; 4];
        let a = View::rows(&data, 2, 5, 6);
        let b = View::rows(&data, 5, 2, 2);
        matmul(
            ViewMut::rows(&mut out, 2, 2, 2),
            a,
            b,
            false,
            Parallelism::None,
        );
    }
}
