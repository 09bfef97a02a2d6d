//! The two Winograd variants the 3×3 convolutions use, as their three transforms: kernel
//! (`G g Gᵀ`), input tile (`Bᵀ d B`) and product back to outputs (`Aᵀ m A`).
//!
//! F(2×2, 3×3) reads 4×4 input tiles: 16 multiplies per 4 outputs (2.25× fewer than direct).
//! F(4×4, 3×3) reads 6×6 tiles: 36 per 16 outputs (4× fewer), and each output pixel moves
//! 2.25 transformed values through memory instead of 4. Its constants reach 8 and 1/24, so its
//! rounding error is larger; `winograd` picks it only for narrow layers, whose small
//! reductions keep that error near F(2×2)'s. The matrices are Lavin & Gray's (2015), with
//! interpolation points 0, ±1, ±2 and ∞.
//!
//! The data transforms are separable: each variant gives the one-dimensional map of a column of
//! `T` values (`input_1d`, `output_1d`), and a tile's 2-D transform is that map down the
//! columns, then along the rows. They take `N` neighbouring values at once as fixed-size
//! arrays, which the compiler keeps in vector registers; every function here is additions and
//! constant multiplies only.

/// One value of `N` tiles side by side.
pub type Lanes<const N: usize> = [f32; N];

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

/// `a + s b`.
#[inline(always)]
fn add_scaled<const N: usize>(a: Lanes<N>, b: Lanes<N>, s: f32) -> Lanes<N> {
    let mut out = a;
    for (o, b) in out.iter_mut().zip(b) {
        *o += s * b;
    }
    out
}

/// F(M×M, 3×3): output blocks of `M × M` from input tiles of `T × T = M + 2`, through `P = T²`
/// transform points, ξ = `T` × row + column.
pub trait Variant<const M: usize, const T: usize, const P: usize> {
    /// `G g Gᵀ` for one 3×3 kernel `g`, row-major.
    fn kernel(g: &[f32; 9]) -> [f32; P];
    /// `Bᵀ d` for one column of `T` values.
    fn input_1d<const N: usize>(d: [Lanes<N>; T]) -> [Lanes<N>; T];
    /// `Aᵀ m` for one column of `T` values.
    fn output_1d<const N: usize>(m: [Lanes<N>; T]) -> [Lanes<N>; M];

    /// `Bᵀ d B` for `N` tiles; `d[r][c]` holds element (r, c) of every tile.
    #[inline(always)]
    fn input<const N: usize>(d: [[Lanes<N>; T]; T]) -> [Lanes<N>; P] {
        flatten(separable(d, Self::input_1d))
    }

    /// `Aᵀ m A` for `N` tiles, each output plus `bias`; `[row][column]`.
    #[inline(always)]
    fn output<const N: usize>(m: [Lanes<N>; P], bias: f32) -> [[Lanes<N>; M]; M] {
        let m: [[Lanes<N>; T]; T] = std::array::from_fn(|r| std::array::from_fn(|c| m[r * T + c]));
        separable(m, Self::output_1d).map(|row| row.map(|v| add(v, [bias; N])))
    }
}

/// `x g xᵀ` for a 3×3 `g`, given `x`'s map of one column of three (in f64: the kernel is
/// transformed once, so its rounding can be the smallest).
fn kernel_2d<const T: usize, const P: usize>(
    g: &[f32; 9],
    col: impl Fn([f64; 3]) -> [f64; T],
) -> [f32; P] {
    let g = g.map(f64::from);
    // G g: T rows of three, one column at a time.
    let cols: [[f64; T]; 3] = [0, 1, 2].map(|j| col([g[j], g[3 + j], g[6 + j]]));
    let mut out = [0f32; P];
    for a in 0..T {
        let row = col([cols[0][a], cols[1][a], cols[2][a]]);
        for (o, v) in out[a * T..(a + 1) * T].iter_mut().zip(row) {
            *o = v as f32;
        }
    }
    out
}

/// Applies a one-dimensional transform to the columns of `d`, then to the rows of the result.
#[inline(always)]
fn separable<const N: usize, const R: usize, const S: usize>(
    d: [[Lanes<N>; R]; R],
    f: impl Fn([Lanes<N>; R]) -> [Lanes<N>; S],
) -> [[Lanes<N>; S]; S] {
    let cols: [[Lanes<N>; S]; R] = std::array::from_fn(|c| f(std::array::from_fn(|r| d[r][c])));
    std::array::from_fn(|r| f(std::array::from_fn(|c| cols[c][r])))
}

/// F(2×2, 3×3).
pub struct F2;

impl Variant<2, 4, 16> for F2 {
    fn kernel(g: &[f32; 9]) -> [f32; 16] {
        kernel_2d(g, |r| {
            [
                r[0],
                0.5 * (r[0] + r[1] + r[2]),
                0.5 * (r[0] - r[1] + r[2]),
                r[2],
            ]
        })
    }

    #[inline(always)]
    fn input_1d<const N: usize>(d: [Lanes<N>; 4]) -> [Lanes<N>; 4] {
        [
            sub(d[0], d[2]),
            add(d[1], d[2]),
            sub(d[2], d[1]),
            sub(d[1], d[3]),
        ]
    }

    #[inline(always)]
    fn output_1d<const N: usize>(m: [Lanes<N>; 4]) -> [Lanes<N>; 2] {
        [add(add(m[0], m[1]), m[2]), sub(sub(m[1], m[2]), m[3])]
    }
}

/// F(4×4, 3×3).
pub struct F4;

impl Variant<4, 6, 36> for F4 {
    fn kernel(g: &[f32; 9]) -> [f32; 36] {
        kernel_2d(g, |[a, b, c]| {
            [
                a / 4.0,
                -(a + b + c) / 6.0,
                -(a - b + c) / 6.0,
                a / 24.0 + b / 12.0 + c / 6.0,
                a / 24.0 - b / 12.0 + c / 6.0,
                c,
            ]
        })
    }

    #[inline(always)]
    fn input_1d<const N: usize>(d: [Lanes<N>; 6]) -> [Lanes<N>; 6] {
        {
            let t1 = add_scaled(d[4], d[2], -4.0);
            let t2 = add_scaled(d[3], d[1], -4.0);
            let t3 = sub(d[4], d[2]);
            let t4 = sub(d[3], d[1]);
            [
                add_scaled(add_scaled(d[4], d[2], -5.0), d[0], 4.0),
                add(t1, t2),
                sub(t1, t2),
                add_scaled(t3, t4, 2.0),
                add_scaled(t3, t4, -2.0),
                add_scaled(add_scaled(d[5], d[3], -5.0), d[1], 4.0),
            ]
        }
    }

    #[inline(always)]
    fn output_1d<const N: usize>(m: [Lanes<N>; 6]) -> [Lanes<N>; 4] {
        {
            let (a, b) = (add(m[1], m[2]), sub(m[1], m[2]));
            let (c, d) = (add(m[3], m[4]), sub(m[3], m[4]));
            [
                add(add(m[0], a), c),
                add_scaled(b, d, 2.0),
                add_scaled(a, c, 4.0),
                add(add_scaled(b, d, 8.0), m[5]),
            ]
        }
    }
}

#[inline(always)]
fn flatten<const N: usize, const T: usize, const P: usize>(t: [[Lanes<N>; T]; T]) -> [Lanes<N>; P] {
    std::array::from_fn(|xi| t[xi / T][xi % T])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One tile through each variant against the direct 3×3 correlation of that tile.
    fn check<V: Variant<M, T, P>, const M: usize, const T: usize, const P: usize>() {
        let g: [f32; 9] = std::array::from_fn(|i| (i as f32 * 0.37).sin());
        let d: [[Lanes<1>; T]; T] =
            std::array::from_fn(|r| std::array::from_fn(|c| [((r * T + c) as f32 * 0.61).cos()]));
        let u = V::kernel(&g);
        let v = V::input(d);
        let prod: [Lanes<1>; P] = std::array::from_fn(|xi| [u[xi] * v[xi][0]]);
        let y = V::output(prod, 0.25);
        for i in 0..M {
            for j in 0..M {
                let want: f32 = 0.25
                    + (0..9)
                        .map(|k| g[k] * d[i + k / 3][j + k % 3][0])
                        .sum::<f32>();
                assert!((y[i][j][0] - want).abs() < 1e-5, "F({M}) ({i}, {j})");
            }
        }
    }

    #[test]
    fn both_variants_compute_one_tile_exactly() {
        check::<F2, 2, 4, 16>();
        check::<F4, 4, 6, 36>();
    }
}
