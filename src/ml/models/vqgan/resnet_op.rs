//! taming's ResnetBlock with frozen weights as one op on the CPU:
//! `y = shortcut(x) + conv2(swish(norm2(conv1(swish(norm1(x))))))`.
//!
//! Built from separate ops, every block keeps each op's input and output alive until the
//! backward pass: six or seven tensors the size of its activations, at 256² output 33 MB each
//! in the top level's three blocks. This op keeps one: `conv1`'s output, which norm2's
//! backward needs (norm1's reads `x`, which the graph keeps anyway). Convolutions and norms
//! are the same kernels as the separate ops, so the numbers match them.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

use crate::ml::kernels::frozen::{Dims4 as Dims, FrozenConv2d};
use crate::ml::kernels::frozen_norm::FrozenGroupNorm;

/// The layers of one block, every convolution a frozen CPU one.
#[derive(Debug, Clone)]
pub struct FusedResnet {
    pub norm1: FrozenGroupNorm,
    pub conv1: FrozenConv2d,
    pub norm2: FrozenGroupNorm,
    pub conv2: FrozenConv2d,
    pub nin_shortcut: Option<FrozenConv2d>,
}

fn conv(c: &FrozenConv2d, x: &[f32], dims: Dims, grad: bool) -> Result<(Vec<f32>, Dims)> {
    c.run_slice(x, dims, grad)?
        .ok_or_else(|| candle_core::Error::Msg("a fused ResnetBlock needs CPU weights".into()))
}

/// `a += b`, elementwise.
fn add_into(a: &mut [f32], b: &[f32]) {
    a.par_chunks_mut(1 << 14)
        .zip(b.par_chunks(1 << 14))
        .for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(a, b)| *a += b));
}

impl FusedResnet {
    /// The block over `x`, or `None` when `x` is not an f32 CPU tensor.
    pub fn forward(&self, x: &Tensor) -> Result<Option<Tensor>> {
        if !crate::ml::kernels::use_fused(x) || x.rank() != 4 {
            return Ok(None);
        }
        let op = ResnetOp {
            block: self.clone(),
            saved: Mutex::new(None),
        };
        x.contiguous()?.apply_op1(op).map(Some)
    }

    /// The output, and `conv1`'s output for the backward pass.
    fn forward_slice(&self, x: &[f32], dims: Dims) -> Result<(Vec<f32>, Vec<f32>, Dims)> {
        let a = self.norm1.swish_slice(x, &Shape::from(dims))?;
        let (h1, d1) = conv(&self.conv1, &a, dims, false)?;
        drop(a);
        let b = self.norm2.swish_slice(&h1, &Shape::from(d1))?;
        let (mut y, d2) = conv(&self.conv2, &b, d1, false)?;
        drop(b);
        match &self.nin_shortcut {
            Some(s) => add_into(&mut y, &conv(s, x, dims, false)?.0),
            None => add_into(&mut y, x),
        }
        Ok((y, h1, d2))
    }

    fn backward_slice(&self, x: &[f32], dims: Dims, h1: &[f32], dy: &[f32]) -> Result<Vec<f32>> {
        let d2 = (dims.0, self_channels(h1, dims), dims.2, dims.3);
        let (db, _) = conv(&self.conv2, dy, d2, true)?;
        let dh1 = self.norm2.swish_grad_slice(h1, &db, &Shape::from(d2))?;
        drop(db);
        let (da, _) = conv(&self.conv1, &dh1, d2, true)?;
        drop(dh1);
        let mut dx = self.norm1.swish_grad_slice(x, &da, &Shape::from(dims))?;
        match &self.nin_shortcut {
            Some(s) => add_into(&mut dx, &conv(s, dy, d2, true)?.0),
            None => add_into(&mut dx, dy),
        }
        Ok(dx)
    }
}

/// Channels of `conv1`'s output, from its size (the spatial size is unchanged).
fn self_channels(h1: &[f32], (n, _, h, w): Dims) -> usize {
    h1.len() / (n * h * w).max(1)
}

struct ResnetOp {
    block: FusedResnet,
    saved: Mutex<Option<Vec<f32>>>,
}

fn f32_slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((start, end))) => Ok(&v[start..end]),
        _ => candle_core::bail!("the fused ResnetBlock needs a contiguous f32 tensor"),
    }
}

impl CustomOp1 for ResnetOp {
    fn name(&self) -> &'static str {
        "frozen-resnet-block"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = layout.shape().dims4()?;
        let (y, h1, out) = self
            .block
            .forward_slice(f32_slice(storage, layout)?, dims)?;
        if let Ok(mut slot) = self.saved.lock() {
            *slot = Some(h1);
        }
        Ok((CpuStorage::F32(y), Shape::from(out)))
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        let dims = arg.dims4()?;
        if grad.dims() != res.dims() {
            candle_core::bail!("the ResnetBlock's gradient has the wrong shape")
        }
        let (xs, xl) = arg.storage_and_layout();
        let (gs, gl) = grad.storage_and_layout();
        let (Storage::Cpu(xs), Storage::Cpu(gs)) = (&*xs, &*gs) else {
            candle_core::bail!("the fused ResnetBlock's backward runs on the CPU only")
        };
        let (x, dy) = (f32_slice(xs, xl)?, f32_slice(gs, gl)?);
        let saved = self.saved.lock().ok().and_then(|mut s| s.take());
        // Recomputed only when a second backward pass runs over the same graph.
        let h1 = match saved {
            Some(h1) => h1,
            None => self.block.forward_slice(x, dims)?.1,
        };
        let dx = self.block.backward_slice(x, dims, &h1, dy)?;
        Ok(Some(Tensor::from_vec(dx, arg.shape(), arg.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::super::blocks::ResnetBlock;
    use crate::ml::kernels::max_diff;
    use candle_core::{DType, Device, Tensor, Var};
    use candle_nn::VarBuilder;
    use std::collections::HashMap;

    fn randn(shape: &[usize], scale: f64) -> Tensor {
        (Tensor::randn(0f32, 1.0, shape, &Device::Cpu).unwrap() * scale).unwrap()
    }

    /// Odd spatial sizes; with `c_in != c_out` the 1×1 shortcut runs too.
    fn check(c_in: usize, c_out: usize) {
        let mut t = HashMap::new();
        for (name, c) in [("norm1", c_in), ("norm2", c_out)] {
            t.insert(
                format!("{name}.weight"),
                randn(&[c], 0.3).affine(1.0, 1.0).unwrap(),
            );
            t.insert(format!("{name}.bias"), randn(&[c], 0.3));
        }
        for (name, ci, co, k) in [
            ("conv1", c_in, c_out, 3),
            ("conv2", c_out, c_out, 3),
            ("nin_shortcut", c_in, c_out, 1),
        ] {
            let scale = 1.0 / ((ci * k * k) as f64).sqrt();
            t.insert(format!("{name}.weight"), randn(&[co, ci, k, k], scale));
            t.insert(format!("{name}.bias"), randn(&[co], 0.1));
        }
        let vb = VarBuilder::from_tensors(t, DType::F32, &Device::Cpu);
        let block = ResnetBlock::load(vb, c_in, c_out).unwrap();
        let x = Var::from_tensor(&randn(&[2, c_in, 7, 5], 1.0)).unwrap();
        // A transposed view, so the op has to make its input contiguous first.
        let input = x.as_tensor().transpose(2, 3).unwrap();
        let ours = block.forward(&input).unwrap();
        let theirs = block.forward_composed(&input).unwrap();
        assert_eq!(ours.dims(), &[2, c_out, 5, 7]);
        assert!(max_diff(&ours, &theirs) < 1e-4, "forward {c_in}->{c_out}");
        let r = randn(&[2, c_out, 5, 7], 1.0);
        let loss = (&ours * &r).unwrap().sum_all().unwrap();
        let ga = loss.backward().unwrap();
        let gb = (&theirs * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let (ga, gb) = (
            ga.get(x.as_tensor()).unwrap(),
            gb.get(x.as_tensor()).unwrap(),
        );
        let scale = gb
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(scale > 0.1, "the reference gradient is not trivial");
        assert!(
            max_diff(ga, gb) < 1e-4 * scale.max(1.0),
            "gradient {c_in}->{c_out}"
        );
        let again = loss.backward().unwrap();
        assert_eq!(max_diff(again.get(x.as_tensor()).unwrap(), ga), 0.0);
    }

    #[test]
    fn the_fused_resnet_block_matches_its_layers_forward_and_gradient() {
        check(32, 32);
    }

    #[test]
    fn the_fused_resnet_block_with_a_shortcut_conv_matches_its_layers() {
        check(32, 64);
    }
}
