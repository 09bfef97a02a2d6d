//! Small layers shared by our models, each recording a backward pass.
//!
//! candle 0.11's fused `layer_norm` and `softmax_last_dim` silently cut the autograd graph
//! (see `shared/notes/candle-gradients.md`), so the layers here are composed from plain ops,
//! or, on the CPU, run as our own fused ops whose backward passes are tested against the
//! composed ones. Fine-tuning and image optimisation both differentiate through them.

use std::sync::Arc;

use candle_core::{DType, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::packed_weight::{PackedWeight, WeightFormat};

/// LayerNorm over the last dimension, composed so that gradients reach its input.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn new(weight: Tensor, bias: Tensor, eps: f64) -> Self {
        Self { weight, bias, eps }
    }

    pub fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: vb.get(size, "weight")?,
            bias: vb.get(size, "bias")?,
            eps,
        })
    }

    /// The fused op on the CPU (with gradients for the input, the weight and the bias), the
    /// composed form elsewhere.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if super::use_fused(x) && self.weight.dtype() == DType::F32 {
            let op = super::trainable_norm::LayerNormOp { eps: self.eps };
            return op.forward(x, &self.weight, &self.bias);
        }
        self.forward_composed(x)
    }

    /// LayerNorm from candle ops: off the CPU, and the reference of the fused op's tests.
    pub fn forward_composed(&self, x: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centred.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        normed
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

/// GPT-2's `Conv1D`: a linear layer whose weight is stored `[in, out]` (`x @ W + b`).
#[derive(Debug, Clone)]
pub struct Conv1D {
    weight: Weight,
    bias: Tensor,
}

/// A weight as loaded (trainable, any device), or packed for CPU inference.
#[derive(Debug, Clone)]
enum Weight {
    /// `[in, out]`.
    Dense(Tensor),
    Packed(Arc<PackedWeight>),
}

impl Conv1D {
    pub fn load(vb: VarBuilder, d_in: usize, d_out: usize) -> Result<Self> {
        Ok(Self {
            weight: Weight::Dense(vb.get((d_in, d_out), "weight")?),
            bias: vb.get(d_out, "bias")?,
        })
    }

    /// Keeps the weight in `format`, laid out for decoding, from now on (inference only: a
    /// packed weight records no gradient). The weight must be an f32 CPU tensor.
    pub fn pack(&mut self, format: WeightFormat) -> Result<()> {
        let Weight::Dense(w) = &self.weight else {
            return Ok(());
        };
        let (d_in, d_out) = w.dims2()?;
        let out_in = w.t()?.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let packed = PackedWeight::pack(&out_in, d_out, d_in, format)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        self.weight = Weight::Packed(Arc::new(packed));
        Ok(())
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // Flatten leading dims so one 2-D matmul does the work instead of a broadcast batch.
        let d_in = x.dim(D::Minus1)?;
        let rows = x.elem_count() / d_in.max(1);
        let x2 = x.reshape((rows, d_in))?;
        let (y, d_out) = match &self.weight {
            Weight::Dense(w) if super::use_fused(x) && w.dtype() == DType::F32 => (
                super::trainable_linear::Conv1dOp::forward(&x2, w, &self.bias)?,
                w.dim(1)?,
            ),
            Weight::Dense(w) => (x2.matmul(w)?.broadcast_add(&self.bias)?, w.dim(1)?),
            Weight::Packed(p) => (
                packed_product(p, x, rows)?.broadcast_add(&self.bias)?,
                p.d_out(),
            ),
        };
        let mut out_dims = x.dims().to_vec();
        let last = out_dims.len() - 1;
        out_dims[last] = d_out;
        y.reshape(out_dims)
    }
}

/// `x Wᵀ` as `[rows, d_out]` for a packed `W`, `x` of any shape with `d_in` last.
pub fn packed_product(p: &PackedWeight, x: &Tensor, rows: usize) -> Result<Tensor> {
    let xs = x.flatten_all()?.to_vec1::<f32>()?;
    let mut y = vec![0f32; rows * p.d_out()];
    p.matmul_t_into(&xs, rows, &mut y);
    Tensor::from_vec(y, (rows, p.d_out()), x.device())
}

/// Softmax over the last dimension from plain ops, with a max shift for stability.
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?;
    let e = x.broadcast_sub(&max)?.exp()?;
    let sum = e.sum_keepdim(D::Minus1)?;
    e.broadcast_div(&sum)
}
