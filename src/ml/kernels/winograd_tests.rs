//! Tests of `winograd`, kept apart so the module stays short.

use super::*;
use crate::ml::kernels::bf16_gemm;
use crate::ml::kernels::conv_gemm::{self, Taps};

fn data(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let v = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8;
            (v % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// Against the direct per-tap convolution, forward and flipped, both blocks, for odd sizes,
/// one-row images, every padding, rows wider than one group of lanes, and more tiles than
/// one chunk holds.
#[test]
fn winograd_matches_the_direct_convolution() {
    for block in [Block::Two, Block::Four] {
        for &(n, ci, co, h, w, pad) in &[
            (2, 3, 5, 7, 9, 1),
            (1, 4, 2, 1, 6, 1),
            (1, 2, 3, 5, 5, 0),
            (1, 3, 2, 4, 3, 2),
            (1, 2, 2, 70, 130, 1),
            (1, 2, 3, 9, 37, 0),
            (2, 3, 2, 6, 35, 2),
            (1, 3, 2, 3, 3, 0),
            (1, 2, 2, 11, 13, 2),
        ] {
            check(block, n, ci, co, h, w, pad, 1e-4);
        }
        // A reduction as wide as the decoder's narrow levels, where F(4×4)'s larger
        // constants round most.
        check(block, 1, 128, 8, 19, 21, 1, 2e-4);
    }
}

/// The scratch kept between calls is never cleared: a call must not read what an earlier
/// one left. Poisoned with NaN, it must give the very bits a fresh thread's zeroed scratch
/// gives: rows that end inside a group of lanes (the output pass reads past them), an image
/// of several chunks (the last one shorter), two images, the flipped kernel and a bias.
#[test]
fn leftover_scratch_never_reaches_the_output() {
    const POISONED: usize = 1 << 20;
    // bf16 products pack the tiles into a buffer of their own, poisoned too.
    for (block, bf16) in [Block::Two, Block::Four]
        .into_iter()
        .flat_map(|b| [(b, false), (b, true)])
    {
        for &(n, ci, co, h, w, pad) in &[
            (2, 5, 3, 13, 9, 1),
            (1, 3, 4, 70, 37, 2),
            (1, 3, 2, 70, 130, 1),
        ] {
            assert!(n * h * w > OUTPUTS_PER_CHUNK || w % 16 != 0);
            let weight = data(co * ci * 9, 5);
            let x = data(n * ci * h * w, 6);
            let g = data(n * co * (h + 2) * (w + 2), 7);
            let bias = data(co, 8);
            let mut wino = Winograd::new(&weight, co, ci, block);
            // F(4×4) stays f32 when switched: that case is the f32 one again.
            if bf16 && !(wino.switch_to_bf16() && wino.is_bf16()) {
                continue;
            }
            // The forward convolution, then the flipped one, `before` run ahead of each.
            let run = |before: &dyn Fn()| {
                before();
                let forward = conv3x3(&x, n, h, w, wino.forward(), pad, Some(&bias));
                let (ho, wo) = (forward.1, forward.2);
                before();
                let g = &g[..n * co * ho * wo];
                let flipped = conv3x3(g, n, ho, wo, wino.flipped(), 2 - pad, None);
                (forward, flipped)
            };
            let fresh =
                std::thread::scope(|s| s.spawn(|| run(&|| {})).join().expect("a fresh thread"));
            let (forward, flipped) = run(&|| {
                SCRATCH.with_borrow_mut(|s| {
                    s.v.at_least(POISONED).fill(f32::NAN);
                    s.m.at_least(POISONED).fill(f32::NAN);
                    s.packed.at_least(POISONED).fill(0x7fc0);
                })
            });
            // Had a call needed more than the poisoned length, it would have grown a zeroed
            // buffer and tested nothing.
            SCRATCH.with_borrow(|s| {
                assert_eq!((s.v.0.len(), s.m.0.len()), (POISONED, POISONED));
                assert_eq!(s.packed.0.len(), POISONED);
            });
            let same =
                |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits());
            let case = format!("{block:?} bf16 {bf16} {n} {ci} {co} {h}x{w} pad {pad}");
            assert_eq!((forward.1, forward.2), (fresh.0 .1, fresh.0 .2), "{case}");
            assert!(
                same(&forward.0, &fresh.0 .0),
                "{case}: leftovers changed the output"
            );
            assert!(
                same(&flipped.0, &fresh.1 .0),
                "{case}: leftovers changed the gradient"
            );
        }
    }
}

/// Largest difference from the direct convolution, relative to the largest output.
#[expect(clippy::too_many_arguments, reason = "one test case's sizes, named")]
fn check(block: Block, n: usize, ci: usize, co: usize, h: usize, w: usize, pad: usize, tol: f32) {
    let weight = data(co * ci * 9, 1)
        .iter()
        .map(|v| v / (ci as f32 * 9.0).sqrt())
        .collect::<Vec<_>>();
    let x = data(n * ci * h * w, 2);
    let bias = data(co, 3);
    let taps = Taps::new(&weight, co, ci, 3);
    let wino = Winograd::new(&weight, co, ci, block);
    let relative = |want: &[f32], got: &[f32]| {
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
        let err = want
            .iter()
            .zip(got)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        err / scale
    };
    let (want, ho, wo) = conv_gemm::conv2d(&x, n, h, w, taps.forward(), pad, Some(&bias));
    let (got, gho, gwo) = conv3x3(&x, n, h, w, wino.forward(), pad, Some(&bias));
    assert_eq!((gho, gwo), (ho, wo));
    let err = relative(&want, &got);
    assert!(
        err < tol,
        "{block:?} forward {n} {ci} {co} {h}x{w} pad {pad}: {err}"
    );

    let g = data(n * co * ho * wo, 4);
    let back = 2 - pad;
    let (want, bh, bw) = conv_gemm::conv2d(&g, n, ho, wo, taps.flipped(), back, None);
    let (got, gbh, gbw) = conv3x3(&g, n, ho, wo, wino.flipped(), back, None);
    assert_eq!((gbh, gbw), (bh, bw));
    let err = relative(&want, &got);
    assert!(
        err < tol,
        "{block:?} flipped {n} {ci} {co} {h}x{w} pad {pad}: {err}"
    );
}

/// The largest difference between two outputs, relative to the largest of `want`.
fn relative_error(want: &[f32], got: &[f32]) -> f32 {
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    let err = want
        .iter()
        .zip(got)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    err / scale
}

/// bf16 products against the exact (f32 direct) convolution, forward and flipped, at the
/// decoder's reduction widths. The yardstick is the direct convolution of the same input and
/// kernel rounded to bf16, which is what a bf16 convolution elsewhere (PyTorch's autocast)
/// computes: F(2×2)'s transforms add their own rounding, within a few times that. F(4×4)
/// stays in f32, bit for bit. Where no bf16 kernel runs, the switch says no and nothing
/// changes.
#[test]
fn bf16_winograd_stays_within_a_few_times_bf16_rounding() {
    let round = |v: &[f32]| -> Vec<f32> {
        v.iter()
            .map(|&x| f32::from_bits((bf16_gemm::to_bf16(x) as u32) << 16))
            .collect()
    };
    for block in [Block::Two, Block::Four] {
        for &(n, ci, co, h, w, pad) in &[(1, 128, 40, 19, 21, 1), (2, 37, 33, 9, 13, 0)] {
            let weight: Vec<f32> = data(co * ci * 9, 11)
                .iter()
                .map(|v| v / (ci as f32 * 9.0).sqrt())
                .collect();
            let x = data(n * ci * h * w, 12);
            let g_len = n * co * (h + 2) * (w + 2);
            let g = data(g_len, 13);
            let f32_wino = Winograd::new(&weight, co, ci, block);
            let mut wino = f32_wino.clone();
            let switched = wino.switch_to_bf16();
            assert_eq!(switched, bf16_gemm::available());
            assert_eq!(wino.is_bf16(), switched && block == Block::Two);
            let case = format!("{block:?} {n} {ci} {co} {h}x{w} pad {pad}");
            let (got, ho, wo) = conv3x3(&x, n, h, w, wino.forward(), pad, None);
            let g = &g[..n * co * ho * wo];
            let back = 2 - pad;
            let got_back = conv3x3(g, n, ho, wo, wino.flipped(), back, None).0;
            if !wino.is_bf16() {
                let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(a, b)| a == b);
                let want = conv3x3(&x, n, h, w, f32_wino.forward(), pad, None).0;
                let want_back = conv3x3(g, n, ho, wo, f32_wino.flipped(), back, None).0;
                assert!(same(&got, &want) && same(&got_back, &want_back), "{case}");
                continue;
            }
            let taps = Taps::new(&weight, co, ci, 3);
            let rounded = Taps::new(&round(&weight), co, ci, 3);
            let (exact, ..) = conv_gemm::conv2d(&x, n, h, w, taps.forward(), pad, None);
            let (yard, ..) = conv_gemm::conv2d(&round(&x), n, h, w, rounded.forward(), pad, None);
            let (err, base) = (relative_error(&exact, &got), relative_error(&exact, &yard));
            eprintln!("{case} forward: {err:.2e} against bf16 direct {base:.2e}");
            assert!(err < 3.0 * base, "{case} forward: {err} against {base}");

            let (exact, ..) = conv_gemm::conv2d(g, n, ho, wo, taps.flipped(), back, None);
            let (yard, ..) = conv_gemm::conv2d(&round(g), n, ho, wo, rounded.flipped(), back, None);
            let (err, base) = (
                relative_error(&exact, &got_back),
                relative_error(&exact, &yard),
            );
            eprintln!("{case} flipped: {err:.2e} against bf16 direct {base:.2e}");
            assert!(err < 3.0 * base, "{case} flipped: {err} against {base}");
        }
    }
}
