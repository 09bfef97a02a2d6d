use super::*;

fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let h = (i * 2654435761 + seed * 40503) % 10007;
            (h as f32 - 5003.0) / 2500.0
        })
        .collect()
}

/// `x Wᵀ` in f64 from f32 weights.
fn reference(x: &[f32], w: &[f32], rows: usize, d_in: usize, d_out: usize) -> Vec<f64> {
    let mut y = vec![0f64; rows * d_out];
    for r in 0..rows {
        for o in 0..d_out {
            y[r * d_out + o] = (0..d_in)
                .map(|i| x[r * d_in + i] as f64 * w[o * d_in + i] as f64)
                .sum();
        }
    }
    y
}

#[test]
fn bf16_rounds_to_nearest_even_and_keeps_special_values() {
    assert_eq!(to_bf16(1.0), 0x3f80);
    // 1 + 2⁻⁸ lies halfway between 1 and 1 + 2⁻⁷: ties go to the even one, 1.
    assert_eq!(to_bf16(1.0 + 1.0 / 256.0), 0x3f80);
    // 1 + 3·2⁻⁸ lies halfway between 1 + 2⁻⁷ (odd) and 1 + 2⁻⁶: it goes up.
    assert_eq!(to_bf16(1.0 + 3.0 / 256.0), 0x3f82);
    assert_eq!(to_bf16(-2.0), 0xc000);
    assert_eq!(to_bf16(f32::INFINITY), 0x7f80);
    assert!(f32::from_bits((to_bf16(f32::NAN) as u32) << 16).is_nan());
    for v in values(4000, 1) {
        let back = f32::from_bits((to_bf16(v) as u32) << 16);
        assert!((back - v).abs() <= v.abs() / 256.0, "{v} became {back}");
    }
}

#[test]
fn q8_keeps_each_weight_within_half_a_step_of_its_block_scale_with_short_last_blocks() {
    let (d_out, d_in) = (5, 37);
    let mut w = values(d_out * d_in, 2);
    // A row of zeros has a zero scale and must come back as zeros, not NaN.
    w[2 * d_in..3 * d_in].fill(0.0);
    let p = PackedWeight::pack(&w, d_out, d_in, WeightFormat::Q8).unwrap();
    assert_eq!(p.bytes(), d_out * d_in + d_out * 2 * 4);
    let back = p.unpack();
    for o in 0..d_out {
        for (b, block) in w[o * d_in..(o + 1) * d_in].chunks(Q8_BLOCK).enumerate() {
            let scale = block.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            for (i, v) in block.iter().enumerate() {
                let got = back[o * d_in + b * Q8_BLOCK + i];
                assert!(got.is_finite());
                assert!(
                    (got - v).abs() <= scale * 0.5 + 1e-7,
                    "row {o}: {v} became {got}"
                );
            }
        }
    }
    assert!(back[2 * d_in..3 * d_in].iter().all(|&v| v == 0.0));
}

#[test]
fn products_equal_the_unpacked_weight_times_x_streamed_or_unpacked_at_odd_sizes() {
    for format in WeightFormat::ALL {
        for (rows, d_in, d_out) in [
            (1, 1, 1),
            (1, 37, 131),
            (3, 770, 65),
            (MAX_STREAMED_ROWS, 64, 33),
            (MAX_STREAMED_ROWS + 1, 96, 70),
            (MAX_PASSED_ROWS, 40, 9),
            (MAX_PASSED_ROWS + 1, 33, 17),
            (13, 33, 257),
        ] {
            let w = values(d_out * d_in, rows + d_in);
            let x = values(rows * d_in, d_out);
            let p = PackedWeight::pack(&w, d_out, d_in, format).unwrap();
            let want = reference(&x, &p.unpack(), rows, d_in, d_out);
            let mut y = vec![f32::NAN; rows * d_out];
            p.matmul_t_into(&x, rows, &mut y);
            for (k, (&got, &want)) in y.iter().zip(&want).enumerate() {
                assert!(
                    (got as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "{format} {rows}×{d_in}→{d_out} at {k}: {got} vs {want}"
                );
            }
            // And close to the f32 weight's product, as the format's rounding allows.
            let exact = reference(&x, &w, rows, d_in, d_out);
            let scale = exact.iter().fold(1f64, |m, v| m.max(v.abs()));
            let worst = y
                .iter()
                .zip(&exact)
                .fold(0f64, |m, (&g, &e)| m.max((g as f64 - e).abs()));
            assert!(
                worst <= 0.02 * scale,
                "{format} {rows}×{d_in}→{d_out}: {worst}"
            );
        }
    }
}

#[test]
fn f32_keeps_its_values_and_names_parse_back() {
    let p = PackedWeight::pack(&[1.0, 2.0], 1, 2, WeightFormat::F32).unwrap();
    assert_eq!(
        (p.unpack(), p.bytes(), p.format()),
        (vec![1.0, 2.0], 8, WeightFormat::F32)
    );
    for f in WeightFormat::ALL {
        assert_eq!(f.name().parse::<WeightFormat>(), Ok(f));
        assert_eq!(f.to_string().to_uppercase().parse::<WeightFormat>(), Ok(f));
    }
    let err = "int4".parse::<WeightFormat>().unwrap_err();
    assert!(err.contains("q8, bf16 or f32"), "{err}");
}

#[test]
fn a_weight_that_is_not_a_finite_number_is_refused_in_every_format() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        for format in WeightFormat::ALL {
            let err = PackedWeight::pack(&[1.0, bad], 1, 2, format).unwrap_err();
            assert!(
                err.to_string().contains("not a finite number"),
                "{format}: {err}"
            );
        }
    }
}
