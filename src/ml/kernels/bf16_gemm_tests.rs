use super::*;

/// `v` rounded to the nearest bf16 and widened back, as the product reads it.
fn round_bf16(v: f32) -> f32 {
    f32::from_bits((to_bf16(v) as u32) << 16)
}

/// The same product computed plainly in f64 from the bf16-rounded inputs: the tests' reference.
fn matmul_reference(x: &[f32], rows: usize, b: &PackedBf16) -> Vec<f32> {
    let mut y = vec![0f32; rows * b.n];
    for r in 0..rows {
        for j in 0..b.n {
            let s: f64 = (0..b.k)
                .map(|k| round_bf16(x[r * b.k + k]) as f64 * b.at(k, j) as f64)
                .sum();
            y[r * b.n + j] = s as f32;
        }
    }
    y
}

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 20001) as f32 / 10000.0 - 1.0
        })
        .collect()
}

#[test]
fn packing_keeps_every_value_rounded_to_bf16_in_both_orientations() {
    let (d_out, d_in) = (37, 70);
    let w = values(d_out * d_in, 1);
    let fwd = PackedBf16::transposed(&w, d_out, d_in);
    let bwd = PackedBf16::plain(&w, d_out, d_in);
    assert_eq!((fwd.k(), fwd.n()), (d_in, d_out));
    assert_eq!((bwd.k(), bwd.n()), (d_out, d_in));
    for o in 0..d_out {
        for i in 0..d_in {
            let v = round_bf16(w[o * d_in + i]);
            assert_eq!(fwd.at(i, o), v, "forward ({i}, {o})");
            assert_eq!(bwd.at(o, i), v, "backward ({o}, {i})");
        }
    }
    // Whole tiles: 3 of 32 along k = 70, and 64 columns (4 panels) for n = 37.
    assert_eq!(fwd.bytes(), 4 * 3 * 16 * 32 * 2);
}

/// The kernels this CPU runs, whatever `STORYBOOK_BF16_KERNEL` says: each is tested where it
/// can be.
fn kernels_here() -> Vec<Kernel> {
    let mut here = Vec::new();
    if amx::available() {
        here.push(Kernel::Amx);
    }
    if bf16_dot::available() {
        here.push(Kernel::Dot);
    }
    // CI names the kernels its CPU has (from /proc/cpuinfo), so a kernel that fails to be
    // detected fails the tests instead of leaving them with nothing to check.
    let expected = std::env::var("STORYBOOK_EXPECT_BF16_KERNELS").unwrap_or_default();
    for name in expected.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kernel = match name {
            "amx" => Kernel::Amx,
            "avx512bf16" => Kernel::Dot,
            _ => panic!("STORYBOOK_EXPECT_BF16_KERNELS names '{name}': amx or avx512bf16"),
        };
        assert!(
            here.contains(&kernel),
            "this CPU should run {name}, but it is not detected"
        );
    }
    here
}

/// Each kernel's product against the plain product of the same bf16 values, over sizes that
/// leave partial tiles and blocks on every side, with and without accumulation.
#[test]
fn each_bf16_kernel_matches_the_rounded_reference() {
    for kernel in kernels_here() {
        for (rows, k, n) in [(1, 1, 1), (37, 45, 50), (130, 96, 161), (33, 768, 64)] {
            let x = values(rows * k, 2);
            let b = PackedBf16::pack(k, n, |kk, nn| ((kk * 7 + nn * 3) % 11) as f32 / 5.0 - 1.0);
            let want = matmul_reference(&x, rows, &b);
            let mut y = vec![f32::NAN; rows * n];
            matmul_on(kernel, &mut y, &x, rows, &b, false);
            let tol = 1e-5 * (k as f32).sqrt();
            for (i, (g, w)) in y.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= tol * (1.0 + w.abs()),
                    "{kernel:?} {rows}×{k}×{n} [{i}]: {g} vs {w}"
                );
            }
            let base = values(rows * n, 3);
            let mut acc = base.clone();
            matmul_on(kernel, &mut acc, &x, rows, &b, true);
            for i in 0..acc.len() {
                let w = base[i] + want[i];
                assert!(
                    (acc[i] - w).abs() <= tol * (1.0 + w.abs()),
                    "{kernel:?} accumulated [{i}]"
                );
            }
        }
    }
}

/// Where both kernels run, they agree to the last bits the order of their sums allows: the
/// same rounded operands, the same f32 accumulation over pairs.
#[test]
fn amx_and_vdpbf16ps_give_the_same_product() {
    if kernels_here().len() < 2 {
        eprintln!("only one bf16 kernel runs here: they are not compared");
        return;
    }
    let (rows, k, n) = (70, 768, 96);
    let x = values(rows * k, 4);
    let w = values(k * n, 5);
    let b = PackedBf16::pack(k, n, |kk, nn| w[kk * n + nn]);
    let (mut amx_y, mut dot_y) = (vec![0f32; rows * n], vec![0f32; rows * n]);
    matmul_on(Kernel::Amx, &mut amx_y, &x, rows, &b, false);
    matmul_on(Kernel::Dot, &mut dot_y, &x, rows, &b, false);
    let worst = amx_y
        .iter()
        .zip(&dot_y)
        .map(|(a, d)| (a - d).abs() / (1.0 + a.abs()))
        .fold(0f32, f32::max);
    assert!(worst < 1e-5, "AMX and vdpbf16ps differ by {worst}");
}

#[test]
fn an_empty_reduction_gives_zeros_or_leaves_the_sum() {
    let b = PackedBf16::pack(0, 5, |_, _| 1.0);
    for kernel in kernels_here() {
        let mut y = vec![3.0f32; 10];
        matmul_on(kernel, &mut y, &[], 2, &b, true);
        assert_eq!(y, vec![3.0; 10]);
        matmul_on(kernel, &mut y, &[], 2, &b, false);
        assert_eq!(y, vec![0.0; 10]);
    }
    assert_eq!(matmul_reference(&[], 2, &b), vec![0.0; 10]);
}

/// The measured ratio is a rate, not a verdict: positive wherever the instruction runs. (How
/// fast it is belongs to `bench conv`, not to a test.)
#[test]
fn the_vdpbf16ps_speed_is_measured_where_it_runs() {
    let ratio = bf16_dot::speedup_over_f32();
    eprintln!("vdpbf16ps multiplies at {ratio:.2}x the f32 FMA rate here");
    if bf16_dot::available() {
        assert!(ratio.is_finite() && ratio > 0.0, "{ratio}");
    } else {
        assert_eq!(ratio, 0.0);
    }
}

/// The input buffer is kept between products and never cleared: poisoned with NaN before each
/// product, it must give, bit for bit, what a fresh thread's zeroed one gives, with reductions
/// that leave padding and rows that end inside a block.
#[test]
fn a_leftover_input_buffer_never_reaches_the_output() {
    for kernel in kernels_here() {
        let run = move |poison: bool| {
            let mut out = Vec::new();
            for (rows, k, n) in [(70, 3 * 32, 40), (37, 45, 50), (5, 1, 33)] {
                let x = values(rows * k, 6);
                let b = PackedBf16::pack(k, n, |kk, nn| ((kk * 5 + nn) % 13) as f32 / 6.0 - 1.0);
                if poison {
                    INPUT.with(|a| *a.borrow_mut() = vec![0x7fc0; 1 << 16]);
                }
                let mut y = vec![0f32; rows * n];
                matmul_on(kernel, &mut y, &x, rows, &b, false);
                if poison {
                    assert_eq!(
                        INPUT.with(|a| a.borrow().len()),
                        1 << 16,
                        "a product outgrew the poisoned buffer, which then tested nothing"
                    );
                }
                out.push(y);
            }
            out
        };
        let fresh = std::thread::spawn(move || run(false)).join().unwrap();
        let poisoned = run(true);
        for (f, p) in fresh.iter().zip(&poisoned) {
            assert!(f.iter().all(|v| v.is_finite()));
            let same = f.iter().zip(p).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{kernel:?}: the leftover buffer changed a product");
        }
    }
}

/// Packing a right-hand side per call from strided rows: every value within `k × n` rounded to
/// bf16, and nothing read past a row's `n` values (NaN there would show) or past row `k`.
#[test]
fn strided_packing_rounds_each_value_and_reads_nothing_past_the_edges() {
    for (k, n, stride) in [(45, 50, 61), (1, 1, 1), (64, 32, 32), (33, 17, 20)] {
        let mut src = values(k * stride + 7, 7);
        for r in 0..k {
            src[r * stride + n..(r + 1) * stride].fill(f32::NAN);
        }
        src[k * stride..].fill(f32::NAN);
        let mut buf = vec![0x7fc0u16; panels_len(k, n) + 3];
        let panels = pack_strided(&mut buf, k, n, &src, stride);
        for kk in 0..k.div_ceil(TILE_K) * TILE_K {
            for nn in 0..n.div_ceil(BLOCK) * BLOCK {
                let want = if kk < k && nn < n {
                    round_bf16(src[kk * stride + nn])
                } else {
                    0.0
                };
                assert_eq!(panels.at(kk, nn), want, "{k}×{n}: ({kk}, {nn})");
            }
        }
    }
}

/// `A · B` with a frozen bf16 `A` and a per-call `B`, on each kernel, against the plain f64
/// product of the same rounded values: rows, reduction and columns off whole tiles, output
/// rows wider than `B`, whose extra columns must be left as they were.
#[test]
fn the_frozen_left_product_matches_the_rounded_reference() {
    for kernel in kernels_here() {
        for (rows, k, n, y_stride) in [(45, 70, 50, 53), (1, 1, 1, 1), (64, 32, 33, 40)] {
            let a_vals = values(rows * k, 8);
            let a = Bf16Rows::new(rows, k, |r, kk| a_vals[r * k + kk]);
            let src = values(k * n, 9);
            let mut buf = vec![0u16; panels_len(k, n)];
            let b = pack_strided(&mut buf, k, n, &src, n);
            let mut y = vec![-7.0f32; (rows - 1) * y_stride + n];
            matmul_frozen_left_on(kernel, &mut y, y_stride, &a, b);
            for r in 0..rows {
                for j in 0..y_stride.min(y.len() - r * y_stride) {
                    let got = y[r * y_stride + j];
                    if j >= n {
                        assert_eq!(got, -7.0, "{kernel:?}: column {j} past n was written");
                        continue;
                    }
                    let want: f64 = (0..k)
                        .map(|kk| a.at(r, kk) as f64 * round_bf16(src[kk * n + j]) as f64)
                        .sum();
                    let tol = 1e-5 * (k as f64).sqrt() * (1.0 + want.abs());
                    assert!(
                        (got as f64 - want).abs() <= tol,
                        "{kernel:?} {rows}×{k}×{n} ({r}, {j}): {got} vs {want}"
                    );
                }
            }
        }
    }
}
