//! GEMM throughput on CLIP ViT-B/32's products during an illustration step: 32 cutouts of 50
//! tokens make 1,600 rows through each frozen linear layer, forward and back to the input
//! (the weights never train, so there is no weight gradient). Our `FrozenLinear` against
//! candle's matmul, in GFLOP/s (2 × multiply-adds per second), and in bf16 where a bf16 kernel
//! runs.

use candle_core::{Device, Tensor};
use serde::Serialize;

use super::best_of;
use crate::ml::kernels::frozen_linear::FrozenLinear;
use crate::ml::Result;

#[derive(Debug, Clone, Serialize)]
pub struct GemmCase {
    pub name: &'static str,
    pub rows: usize,
    pub d_in: usize,
    pub d_out: usize,
    pub gflop: f64,
    pub forward_gflops: f64,
    pub input_grad_gflops: f64,
    pub candle_gflops: f64,
    /// The same two products with the weight in bf16 (on AMX or AVX512-BF16); `None` where
    /// neither runs.
    pub bf16_forward_gflops: Option<f64>,
    pub bf16_input_grad_gflops: Option<f64>,
}

/// ViT-B/32's layers: (name, in, out).
const LAYERS: [(&str, usize, usize); 4] = [
    ("qkv", 768, 2304),
    ("out_proj", 768, 768),
    ("fc1", 768, 3072),
    ("fc2", 3072, 768),
];

pub fn bench_gemm(cutouts: usize, runs: usize) -> Result<Vec<GemmCase>> {
    let dev = Device::Cpu;
    let rows = cutouts * 50;
    let mut out = Vec::new();
    for (name, d_in, d_out) in LAYERS {
        let w = Tensor::randn(0f32, 0.02, (d_out, d_in), &dev)?;
        let layer = FrozenLinear::new(w.clone(), None)?;
        let x = Tensor::randn(0f32, 1.0, (rows, d_in), &dev)?;
        let xs: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let grad: Vec<f32> = Tensor::randn(0f32, 1.0, (rows, d_out), &dev)?
            .flatten_all()?
            .to_vec1()?;
        let mut y = vec![0f32; rows * d_out];
        let mut dx = vec![0f32; rows * d_in];
        let gflop = 2.0 * (rows * d_in * d_out) as f64 / 1e9;
        let forward = best_of(runs, || Ok(layer.affine_into(&xs, rows, &mut y, false)?))?;
        let backward = best_of(runs, || {
            Ok(layer.input_grad_into(&grad, rows, &mut dx, false)?)
        })?;
        let mut bf16 = layer.clone();
        let (bf16_forward_gflops, bf16_input_grad_gflops) = if bf16.switch_to_bf16()? {
            let f = best_of(runs, || Ok(bf16.affine_into(&xs, rows, &mut y, false)?))?;
            let b = best_of(runs, || {
                Ok(bf16.input_grad_into(&grad, rows, &mut dx, false)?)
            })?;
            (Some(gflop / f), Some(gflop / b))
        } else {
            (None, None)
        };
        let wt = w.t()?;
        let candle = best_of(runs, || {
            x.matmul(&wt)?;
            Ok(())
        })?;
        out.push(GemmCase {
            name,
            rows,
            d_in,
            d_out,
            gflop,
            forward_gflops: gflop / forward,
            input_grad_gflops: gflop / backward,
            candle_gflops: gflop / candle,
            bf16_forward_gflops,
            bf16_input_grad_gflops,
        });
    }
    Ok(out)
}
