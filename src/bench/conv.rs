//! Convolution throughput on the decoder's shapes: our im2col-free GEMM kernel, our Winograd
//! kernels in both blocks (F(2×2, 3×3) and F(4×4, 3×3)) and candle's conv2d, in GFLOP/s
//! (2 × multiply-adds per second), forward only. Winograd's figures are *effective*: the direct
//! convolution's FLOP count over its time, so they can exceed the machine's FMA peak by up to
//! the 2.25× (F2) or 4× (F4) fewer multiplies. The decoder picks a block per layer
//! (`Block::for_layer`); both are shown so that choice can be checked.

use candle_core::{Device, Tensor};
use serde::Serialize;

use super::best_of;
use crate::ml::kernels::conv_gemm::{conv2d, Taps};
use crate::ml::kernels::winograd::{conv3x3, Block, Winograd};
use crate::ml::Result;

#[derive(Debug, Clone, Serialize)]
pub struct ConvCase {
    pub channels: usize,
    pub side: usize,
    pub kernel: usize,
    pub gflop: f64,
    pub ours_gflops: f64,
    /// Effective GFLOP/s of the Winograd kernel with 2×2 output tiles (3×3 only).
    pub winograd_f2_effective_gflops: Option<f64>,
    /// The same with 4×4 output tiles.
    pub winograd_f4_effective_gflops: Option<f64>,
    /// The block the decoder uses for this layer: "F2" or "F4" (3×3 only).
    pub winograd_block_used: Option<&'static str>,
    /// The used block's effective GFLOP/s with its products in bf16 (3×3 only, and only
    /// where a bf16 kernel runs).
    pub winograd_bf16_effective_gflops: Option<f64>,
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
        let ws: Vec<f32> = w.flatten_all()?.to_vec1()?;
        let taps = Taps::new(&ws, c, c, k);
        let gflop = 2.0 * (c * c * k * k * side * side) as f64 / 1e9;
        let ours = best_of(runs, || {
            conv2d(&xs, 1, side, side, taps.forward(), pad, None);
            Ok(())
        })?;
        let winograd = |block: Block, bf16: bool| -> Result<Option<f64>> {
            if k != 3 {
                return Ok(None);
            }
            let mut wg = Winograd::new(&ws, c, c, block);
            // F(4×4) stays f32 when switched: no bf16 figure for it.
            if bf16 && !(wg.switch_to_bf16() && wg.is_bf16()) {
                return Ok(None);
            }
            let secs = best_of(runs, || {
                conv3x3(&xs, 1, side, side, wg.forward(), pad, None);
                Ok(())
            })?;
            Ok(Some(gflop / secs))
        };
        let f2 = winograd(Block::Two, false)?;
        let f4 = winograd(Block::Four, false)?;
        let bf16 = winograd(Block::for_layer(c, c), true)?;
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
            winograd_f2_effective_gflops: f2,
            winograd_f4_effective_gflops: f4,
            winograd_block_used: (k == 3).then(|| match Block::for_layer(c, c) {
                Block::Two => "F2",
                Block::Four => "F4",
            }),
            winograd_bf16_effective_gflops: bf16,
            candle_gflops: gflop / theirs,
        });
    }
    Ok(out)
}
