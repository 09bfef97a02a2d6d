//! CLIP's MLP, `fc2(quick_gelu(fc1(x)))`, with frozen weights, as one op.
//!
//! Composed, the 3072-wide activation is kept twice until the backward pass (as fc1's
//! pre-activation and as fc2's input); frozen weights need only the pre-activation, so that is
//! all this op keeps, and it is freed once used.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

use crate::ml::kernels::frozen_linear::{with_slice, Epilogue, FrozenLinear};

/// `fc2(quick_gelu(fc1(x)))` over the last dimension.
#[derive(Debug, Clone)]
pub struct FrozenMlp {
    fc1: FrozenLinear,
    fc2: FrozenLinear,
}

impl FrozenMlp {
    /// `fc1` without an epilogue: the quick-GELU between the two is this op's.
    pub fn new(fc1: FrozenLinear, fc2: FrozenLinear) -> Self {
        Self {
            fc1: fc1.with_epilogue(Epilogue::None),
            fc2,
        }
    }

    /// The same MLP from plain candle ops: off the CPU, and as the tests' reference.
    pub fn forward_plain(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.fc1.clone().with_epilogue(Epilogue::QuickGelu);
        self.fc2.forward_plain(&h.forward_plain(x)?)
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !crate::ml::kernels::use_fused(x) {
            return self.forward_plain(x);
        }
        let mut dims = x.dims().to_vec();
        let d_in = x.dim(candle_core::D::Minus1)?;
        let rows = x.elem_count() / d_in.max(1);
        let flat = x.reshape((rows, d_in))?.contiguous()?;
        let op = MlpOp {
            mlp: self.clone(),
            pre_activation: Mutex::new(None),
        };
        let y = flat.apply_op1(op)?;
        let last = dims.len() - 1;
        dims[last] = self.fc2.out_features()?;
        y.reshape(dims)
    }
}

struct MlpOp {
    mlp: FrozenMlp,
    pre_activation: Mutex<Option<Vec<f32>>>,
}

impl CustomOp1 for MlpOp {
    fn name(&self) -> &'static str {
        "frozen-mlp"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (Some((start, end)), CpuStorage::F32(x)) = (layout.contiguous_offsets(), storage)
        else {
            candle_core::bail!("frozen MLP needs a contiguous f32 input")
        };
        let (rows, _) = layout.shape().dims2()?;
        let pre = self.mlp.fc1.affine(&x[start..end], rows)?;
        let d_out = self.mlp.fc2.out_features()?;
        let mut y = vec![0f32; rows * d_out];
        self.mlp.fc2.affine_gelu_into(&pre, rows, &mut y, false)?;
        if let Ok(mut saved) = self.pre_activation.lock() {
            *saved = Some(pre);
        }
        Ok((CpuStorage::F32(y), Shape::from((rows, d_out))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        let (rows, _) = grad.dims2()?;
        let saved = self.pre_activation.lock().ok().and_then(|mut s| s.take());
        // Recomputed only if a second backward runs over the same graph.
        let pre = match saved {
            Some(pre) => pre,
            None => with_slice(arg, |x| self.mlp.fc1.affine(x, rows))?,
        };
        let mut dh = with_slice(&grad, |g| self.mlp.fc2.input_grad(g, rows))?;
        let (_, d_in) = arg.dims2()?;
        let mut dx = vec![0f32; rows * d_in];
        self.mlp
            .fc1
            .input_grad_gelu_into(&mut dh, &pre, rows, &mut dx, false)?;
        drop(pre);
        Ok(Some(Tensor::from_vec(dx, (rows, d_in), arg.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::kernels::max_diff;
    use candle_core::{Device, Var};

    #[test]
    fn the_fused_mlp_matches_two_layers_forward_and_gradient() {
        let dev = Device::Cpu;
        let fc1 = FrozenLinear::new(
            Tensor::randn(0f32, 1.0, (11, 7), &dev).unwrap(),
            Some(Tensor::randn(0f32, 1.0, 11, &dev).unwrap()),
        )
        .unwrap();
        let fc2 = FrozenLinear::new(
            Tensor::randn(0f32, 1.0, (5, 11), &dev).unwrap(),
            Some(Tensor::randn(0f32, 1.0, 5, &dev).unwrap()),
        )
        .unwrap();
        let mlp = FrozenMlp::new(fc1, fc2);
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 7, 3), &dev).unwrap()).unwrap();
        let input = x.as_tensor().transpose(1, 2).unwrap();
        let r = Tensor::randn(0f32, 1.0, (2, 3, 5), &dev).unwrap();
        let ours = mlp.forward(&input).unwrap();
        let theirs = mlp.forward_plain(&input).unwrap();
        assert!(max_diff(&ours, &theirs) < 1e-4, "forward");
        let ga = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let gb = (theirs * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let (ga, gb) = (
            ga.get(x.as_tensor()).unwrap(),
            gb.get(x.as_tensor()).unwrap(),
        );
        assert!(max_diff(ga, gb) < 1e-3, "gradient");
    }
}
