//! Nearest-neighbour ×2 upsampling, as one op with a backward that sums each 2×2 block.
//!
//! candle's `upsample_nearest2d` overwrites instead of accumulating in its backward. The
//! broadcast-and-reshape spelling is correct but copies through a 6-D strided view, and its
//! backward reduces over two broadcast axes; at the decoder's 128 channels and 256² output both
//! were tens of milliseconds per call on this machine. Here each is one parallel pass.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

struct NearestX2;

/// `[n, c, h, w]` to `[n, c, 2h, 2w]`, every pixel repeated into a 2×2 block.
pub fn upsample_nearest_x2(x: &Tensor) -> Result<Tensor> {
    if crate::ml::kernels::use_fused(x) {
        return x.contiguous()?.apply_op1(NearestX2);
    }
    let (b, c, h, w) = x.dims4()?;
    x.reshape((b, c, h, 1, w, 1))?
        .broadcast_as((b, c, h, 2, w, 2))?
        .reshape((b, c, 2 * h, 2 * w))
}

fn plane_slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        _ => candle_core::bail!("upsampling needs a contiguous f32 tensor"),
    }
}

impl CustomOp1 for NearestX2 {
    fn name(&self) -> &'static str {
        "upsample-nearest-x2"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = plane_slice(storage, layout)?;
        let (n, c, h, w) = layout.shape().dims4()?;
        let mut out = vec![0f32; x.len() * 4];
        if h > 0 && w > 0 {
            out.par_chunks_mut(4 * w)
                .zip(x.par_chunks(w))
                .for_each(|(rows, src)| {
                    let (top, bottom) = rows.split_at_mut(2 * w);
                    for (pair, v) in top.chunks_exact_mut(2).zip(src) {
                        pair[0] = *v;
                        pair[1] = *v;
                    }
                    bottom.copy_from_slice(top);
                });
        }
        Ok((CpuStorage::F32(out), Shape::from((n, c, 2 * h, 2 * w))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        let (n, c, h, w) = arg.dims4()?;
        let mut dx = vec![0f32; n * c * h * w];
        {
            let (storage, layout) = grad.storage_and_layout();
            let candle_core::Storage::Cpu(cpu) = &*storage else {
                candle_core::bail!("upsampling's backward runs on the CPU only")
            };
            let g = plane_slice(cpu, layout)?;
            if h > 0 && w > 0 {
                dx.par_chunks_mut(w)
                    .zip(g.par_chunks(4 * w))
                    .for_each(|(d, rows)| {
                        let (top, bottom) = rows.split_at(2 * w);
                        for (i, v) in d.iter_mut().enumerate() {
                            *v = top[2 * i] + top[2 * i + 1] + bottom[2 * i] + bottom[2 * i + 1];
                        }
                    });
            }
        }
        Ok(Some(Tensor::from_vec(dx, (n, c, h, w), arg.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn upsampling_matches_the_broadcast_forward_and_gradient() {
        let dev = Device::Cpu;
        let raw = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 5, 3, 3), &dev).unwrap()).unwrap();
        // A transposed (non-contiguous) input with odd sizes.
        let x = raw.as_tensor().transpose(2, 3).unwrap();
        let (b, c, h, w) = x.dims4().unwrap();
        let plain = x
            .reshape((b, c, h, 1, w, 1))
            .unwrap()
            .broadcast_as((b, c, h, 2, w, 2))
            .unwrap()
            .reshape((b, c, 2 * h, 2 * w))
            .unwrap();
        let ours = upsample_nearest_x2(&x).unwrap();
        let diff = (&ours - &plain).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);
        let r = Tensor::randn(0f32, 1.0, (2, 5, 6, 6), &dev).unwrap();
        let ga = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let gb = (plain * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let d = (ga.get(raw.as_tensor()).unwrap() - gb.get(raw.as_tensor()).unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(d < 1e-5, "gradient {d}");
    }
}
