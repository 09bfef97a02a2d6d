//! The spherical distance loss of VQGAN+CLIP, `2 * asin(|x - y| / 2)²` for unit vectors.
//! candle has no `asin`, so it is a custom op with its own backward pass.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, D};

struct Asin;

impl CustomOp1 for Asin {
    fn name(&self) -> &'static str {
        "asin"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("asin needs a contiguous input")
        };
        let out = match storage {
            CpuStorage::F32(v) => CpuStorage::F32(v[start..end].iter().map(|x| x.asin()).collect()),
            CpuStorage::F64(v) => CpuStorage::F64(v[start..end].iter().map(|x| x.asin()).collect()),
            _ => candle_core::bail!("asin supports f32 and f64"),
        };
        Ok((out, layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        // d/dx asin(x) = 1 / sqrt(1 - x²); clamped away from ±1 where it is infinite.
        let slope = (1.0 - arg.sqr()?)?.clamp(1e-12, 1.0)?.sqrt()?.recip()?;
        Ok(Some(grad_res.mul(&slope)?))
    }
}

pub fn asin(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() {
        return x.contiguous()?.apply_op1(Asin);
    }
    // No CUDA or Metal kernel: the loss holds only cutouts × prompts values, so they make the
    // round trip to the CPU, and `to_device` carries the gradient back.
    let device = x.device().clone();
    x.to_device(&candle_core::Device::Cpu)?
        .contiguous()?
        .apply_op1(Asin)?
        .to_device(&device)
}

/// Distances `[n, m]` between unit rows of `x` `[n, d]` and `y` `[m, d]`.
pub fn spherical_distance(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let diff = x.unsqueeze(1)?.broadcast_sub(&y.unsqueeze(0)?)?;
    let half = (diff.sqr()?.sum(D::Minus1)?.sqrt()? / 2.0)?;
    asin(&half.clamp(0.0, 1.0)?)?.sqr()? * 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn asin_gradient_matches_finite_differences() {
        let x = Var::new(&[-0.7f64, -0.1, 0.0, 0.3, 0.8], &Device::Cpu).unwrap();
        let r = Tensor::new(&[0.5f64, -1.0, 2.0, 1.5, -0.3], &Device::Cpu).unwrap();
        let loss = (asin(x.as_tensor()).unwrap() * &r)
            .unwrap()
            .sum_all()
            .unwrap();
        let grad = loss
            .backward()
            .unwrap()
            .get(x.as_tensor())
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let xs = [-0.7f64, -0.1, 0.0, 0.3, 0.8];
        let rs = [0.5f64, -1.0, 2.0, 1.5, -0.3];
        for i in 0..5 {
            let h = 1e-6;
            let fd = rs[i] * ((xs[i] + h).asin() - (xs[i] - h).asin()) / (2.0 * h);
            assert!((grad[i] - fd).abs() < 1e-6, "{i}: {} vs {fd}", grad[i]);
        }
    }

    #[test]
    fn distance_is_zero_for_equal_and_grows_with_angle() {
        let d = Device::Cpu;
        let x = Tensor::new(&[[1f32, 0.0], [0.0, 1.0]], &d).unwrap();
        let y = Tensor::new(&[[1f32, 0.0]], &d).unwrap();
        let dist = spherical_distance(&x, &y)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert!(dist[0][0].abs() < 1e-6);
        // 90 degrees: theta²/2 = (pi/2)²/2.
        assert!((dist[1][0] - std::f32::consts::FRAC_PI_2.powi(2) / 2.0).abs() < 1e-5);
    }
}
