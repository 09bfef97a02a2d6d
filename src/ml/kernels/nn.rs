//! Small layers shared by our models, written from candle ops that all record a backward pass.
//!
//! candle 0.11's fused `layer_norm` and `softmax_last_dim` silently cut the autograd graph
//! (see `shared/notes/candle-gradients.md`), so the layers here are composed from plain ops.
//! Fine-tuning and image optimisation both differentiate through them.

use candle_core::{Result, Tensor, D};
use candle_nn::VarBuilder;

/// LayerNorm over the last dimension, composed so that gradients reach its input.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: vb.get(size, "weight")?,
            bias: vb.get(size, "bias")?,
            eps,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
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
    weight: Tensor,
    bias: Tensor,
}

impl Conv1D {
    pub fn load(vb: VarBuilder, d_in: usize, d_out: usize) -> Result<Self> {
        Ok(Self {
            weight: vb.get((d_in, d_out), "weight")?,
            bias: vb.get(d_out, "bias")?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // Flatten leading dims so one 2-D matmul does the work instead of a broadcast batch.
        let d_in = x.dim(D::Minus1)?;
        let rows = x.elem_count() / d_in.max(1);
        let y = x.reshape((rows, d_in))?.matmul(&self.weight)?;
        let mut out_dims = x.dims().to_vec();
        let last = out_dims.len() - 1;
        out_dims[last] = self.weight.dim(1)?;
        y.broadcast_add(&self.bias)?.reshape(out_dims)
    }
}

/// Softmax over the last dimension from plain ops, with a max shift for stability.
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?;
    let e = x.broadcast_sub(&max)?.exp()?;
    let sum = e.sum_keepdim(D::Minus1)?;
    e.broadcast_div(&sum)
}
