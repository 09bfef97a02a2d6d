//! Convolution throughput on the decoder's shapes: our im2col-free GEMM kernel, our Winograd
//! F(2×2, 3×3) kernel and candle's conv2d, in GFLOP/s (2 × multiply-adds per second), forward
//! only. Winograd's figure is *effective*: the direct convolution's FLOP count over its time,
//! so it can exceed the machine's FMA peak by up to the 2.25× it saves.

use candle_core::{Device, Tensor};
use serde::Serialize;

use super::best_of;
use crate::ml::kernels::conv_gemm::{conv2d, Taps};
use crate::ml::kernels::winograd::{conv3x3, Winograd};
use crate::ml::Result;

#[derive(Debug, Clone, Serialize)]
pub struct ConvCase {
    pub channels: usize,
    pub side: usize,
    pub kernel: usize,
    pub gflop: f64,
    pub ours_gflops: f64,
    /// Effective GFLOP/s of the Winograd kernel (3×3 only).
    pub winograd_effective_gflops: Option<f64>,
    pub candle_gflops: f64,
}

/// (channels, side, kernel): the f16-16384 decoder's 3×3 convs at 256² output, and a 1×1.
const CASES: [(usize, usize, usize); 5] = [
    (512, 16, 3),
    (512, 32, 3),
    (256, 64, 3),
    (128, 256, 3),
    (512, 16, 1),
];

pub fn bench_conv(runs: usize) -> Result<Vec<ConvCase>> {
    let dev = Device::Cpu;
    let mut out = Vec::new();
    for (c, side, k) in CASES {
        let pad = k / 2;
        let x = Tensor::randn(0f32, 1.0, (1, c, side, side), &dev)?;
        let w = Tensor::randn(0f32, 0.05, (c, c, k, k), &dev)?;
        let xs: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let taps = Taps::new(&w.flatten_all()?.to_vec1::<f32>()?, c, c, k);
        let gflop = 2.0 * (c * c * k * k * side * side) as f64 / 1e9;
        let ours = best_of(runs, || {
            conv2d(&xs, 1, side, side, taps.forward(), pad, None);
            Ok(())
        })?;
        let winograd = if k == 3 {
            let wg = Winograd::new(&w.flatten_all()?.to_vec1::<f32>()?, c, c);
            Some(
                gflop
                    / best_of(runs, || {
                        conv3x3(&xs, 1, side, side, wg.forward(), pad, None);
                        Ok(())
                    })?,
            )
        } else {
            None
        };
        let theirs = best_of(runs, || {
            x.conv2d(&w, pad, 1, 1, 1)?;
            Ok(())
        })?;
        out.push(ConvCase {
            channels: c,
            side,
            kernel: k,
            gflop,
            ours_gflops: gflop / ours,
            winograd_effective_gflops: winograd,
            candle_gflops: gflop / theirs,
        });
    }
    Ok(out)
}
