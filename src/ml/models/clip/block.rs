//! One pre-LayerNorm CLIP block with frozen weights, as a single op:
//! `m = x + out_proj(attention(qkv_proj(ln1(x))))`, `y = m + fc2(quick_gelu(fc1(ln2(m))))`.
//!
//! Built from separate ops, every block keeps about nine activations alive until the backward
//! pass (each op's input and output), and the backward pass adds a zero-filled buffer and an
//! extra pass for every gradient contribution candle collects, two of them per residual add.
//! With 32 cutouts of 50 tokens that traffic was a tenth of CLIP's step. This op keeps three
//! buffers (the packed QKV for the attention's backward, the residual stream `m` for LN2's, and
//! the MLP's pre-activation for quick-GELU's), writes each residual branch straight onto its
//! stream by accumulating the product, and returns one input gradient per block. In bf16,
//! quick-GELU and its slope are applied as the MLP's products round their inputs
//! (`frozen_linear_gelu.rs`).

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Storage, Tensor};

use crate::ml::kernels::attention::Attention;
use crate::ml::kernels::frozen_linear::FrozenLinear;
use crate::ml::kernels::frozen_norm::FrozenLayerNorm;

/// The weights of one quick-GELU block.
#[derive(Debug, Clone)]
pub struct Block {
    pub layer_norm1: FrozenLayerNorm,
    /// q_proj, k_proj and v_proj stacked into one `[3 × width, width]` product.
    pub qkv_proj: FrozenLinear,
    pub out_proj: FrozenLinear,
    pub layer_norm2: FrozenLayerNorm,
    pub fc1: FrozenLinear,
    pub fc2: FrozenLinear,
    pub attention: Attention,
}

impl Block {
    /// `x` `[b, t, width]` through the block, as one op on f32 CPU tensors; `None` elsewhere,
    /// where the caller composes the block from its layers.
    pub fn forward_fused(&self, x: &Tensor) -> Result<Option<Tensor>> {
        if !crate::ml::kernels::use_fused(x) {
            return Ok(None);
        }
        let op = BlockOp {
            block: self.clone(),
            saved: Mutex::new(None),
        };
        x.contiguous()?.apply_op1(op).map(Some)
    }

    fn width(&self) -> usize {
        self.layer_norm1.rows().weight.len()
    }

    /// `x` rows `[rows, e]` (items of `t` tokens) to the block's output, and what its backward
    /// pass needs.
    fn forward_rows(&self, x: &[f32], t: usize) -> Result<(Vec<f32>, Saved)> {
        let e = self.width();
        let rows = x.len() / e.max(1);
        let inner = self.fc1.out_features()?;
        let mut a = vec![0f32; rows * e];
        self.layer_norm1.rows().forward(x, &mut a);
        let mut qkv = vec![0f32; rows * 3 * e];
        self.qkv_proj.affine_into(&a, rows, &mut qkv, false)?;
        self.attention.forward_rows(&qkv, e, t, &mut a)?;
        let mut mid = x.to_vec();
        self.out_proj.affine_into(&a, rows, &mut mid, true)?;
        self.layer_norm2.rows().forward(&mid, &mut a);
        let mut pre = vec![0f32; rows * inner];
        self.fc1.affine_into(&a, rows, &mut pre, false)?;
        drop(a);
        let mut y = mid.clone();
        self.fc2.affine_gelu_into(&pre, rows, &mut y, true)?;
        Ok((y, Saved { qkv, mid, pre }))
    }

    /// `dy` to `dx` for input rows `x`, consuming what the forward pass kept.
    fn backward_rows(&self, x: &[f32], dy: &[f32], t: usize, saved: Saved) -> Result<Vec<f32>> {
        let Saved { qkv, mid, pre } = saved;
        let e = self.width();
        let rows = x.len() / e.max(1);
        let inner = self.fc1.out_features()?;
        let mut dh = vec![0f32; rows * inner];
        self.fc2.input_grad_into(dy, rows, &mut dh, false)?;
        let mut da = vec![0f32; rows * e];
        self.fc1
            .input_grad_gelu_into(&mut dh, &pre, rows, &mut da, false)?;
        drop(pre);
        drop(dh);
        // The residual stream's gradient: straight through, plus LN2's branch.
        let mut dmid = dy.to_vec();
        self.layer_norm2.rows().backward_add(&mid, &da, &mut dmid);
        drop(mid);
        self.out_proj.input_grad_into(&dmid, rows, &mut da, false)?;
        let mut dqkv = vec![0f32; rows * 3 * e];
        self.attention.backward_rows(&qkv, &da, e, t, &mut dqkv)?;
        drop(qkv);
        self.qkv_proj.input_grad_into(&dqkv, rows, &mut da, false)?;
        drop(dqkv);
        let mut dx = dmid;
        self.layer_norm1.rows().backward_add(x, &da, &mut dx);
        Ok(dx)
    }
}

/// The buffers one forward pass keeps for its backward pass.
struct Saved {
    qkv: Vec<f32>,
    mid: Vec<f32>,
    pre: Vec<f32>,
}

/// One application of a block; its saved buffers are taken by the first backward pass.
struct BlockOp {
    block: Block,
    saved: Mutex<Option<Saved>>,
}

fn f32_slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((start, end))) => Ok(&v[start..end]),
        _ => candle_core::bail!("the fused CLIP block needs a contiguous f32 tensor"),
    }
}

impl BlockOp {
    fn tokens(&self, shape: &Shape) -> Result<usize> {
        let (_, t, e) = shape.dims3()?;
        if e != self.block.width() {
            candle_core::bail!(
                "a CLIP block of width {} got {e} features",
                self.block.width()
            )
        }
        Ok(t)
    }
}

impl CustomOp1 for BlockOp {
    fn name(&self) -> &'static str {
        "frozen-clip-block"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let t = self.tokens(layout.shape())?;
        let (y, saved) = self.block.forward_rows(f32_slice(storage, layout)?, t)?;
        if let Ok(mut slot) = self.saved.lock() {
            *slot = Some(saved);
        }
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        let t = self.tokens(arg.shape())?;
        let (xs, xl) = arg.storage_and_layout();
        let (gs, gl) = grad.storage_and_layout();
        let (Storage::Cpu(xs), Storage::Cpu(gs)) = (&*xs, &*gs) else {
            candle_core::bail!("the fused CLIP block's backward runs on the CPU only")
        };
        let (x, dy) = (f32_slice(xs, xl)?, f32_slice(gs, gl)?);
        if dy.len() != x.len() {
            candle_core::bail!("the CLIP block's gradient has the wrong shape")
        }
        let saved = self.saved.lock().ok().and_then(|mut s| s.take());
        // Recomputed only when a second backward pass runs over the same graph.
        let saved = match saved {
            Some(saved) => saved,
            None => self.block.forward_rows(x, t)?.1,
        };
        let dx = self.block.backward_rows(x, dy, t, saved)?;
        Ok(Some(Tensor::from_vec(dx, arg.shape(), arg.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::kernels::max_diff;
    use candle_core::{DType, Device, Var};
    use candle_nn::VarBuilder;
    use std::collections::HashMap;

    fn randn(shape: &[usize]) -> Tensor {
        Tensor::randn(0f32, 1.0, shape, &Device::Cpu).unwrap()
    }

    /// Odd sizes: width 12 in 3 heads of 4, an MLP 20 wide, 7 tokens.
    fn block(causal: bool) -> Block {
        let norm = |name: &str| {
            let tensors = HashMap::from([
                ("weight".to_string(), randn(&[12]).affine(0.3, 1.0).unwrap()),
                ("bias".to_string(), randn(&[12])),
            ]);
            let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
            FrozenLayerNorm::load(vb, 12, 1e-5).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let linear = |d_out: usize, d_in: usize| {
            let scale = (d_in as f64).powf(-0.5);
            FrozenLinear::new(
                (randn(&[d_out, d_in]) * scale).unwrap(),
                Some(randn(&[d_out])),
            )
            .unwrap()
        };
        Block {
            layer_norm1: norm("ln1"),
            qkv_proj: linear(36, 12),
            out_proj: linear(12, 12),
            layer_norm2: norm("ln2"),
            fc1: linear(20, 12),
            fc2: linear(12, 20),
            attention: Attention { heads: 3, causal },
        }
    }

    /// The block composed from each layer's plain candle form.
    fn composed(b: &Block, x: &Tensor) -> Tensor {
        let qkv = b
            .qkv_proj
            .forward_plain(&b.layer_norm1.forward(x).unwrap())
            .unwrap();
        let att = b.attention.forward_plain(&qkv).unwrap();
        let mid = (x + b.out_proj.forward_plain(&att).unwrap()).unwrap();
        let fc1 = b
            .fc1
            .clone()
            .with_epilogue(crate::ml::kernels::frozen_linear::Epilogue::QuickGelu);
        let h = fc1
            .forward_plain(&b.layer_norm2.forward(&mid).unwrap())
            .unwrap();
        (&mid + b.fc2.forward_plain(&h).unwrap()).unwrap()
    }

    fn check(causal: bool) {
        let b = block(causal);
        let x = Var::from_tensor(&randn(&[2, 12, 7])).unwrap();
        // A transposed view, so the op has to make its input contiguous first.
        let input = x.as_tensor().transpose(1, 2).unwrap();
        let r = randn(&[2, 7, 12]);
        let ours = b
            .forward_fused(&input)
            .unwrap()
            .expect("a CPU tensor is fused");
        let theirs = composed(&b, &input);
        assert_eq!(ours.dims(), &[2, 7, 12]);
        assert!(max_diff(&ours, &theirs) < 1e-4, "forward, causal {causal}");
        let loss = (&ours * &r).unwrap().sum_all().unwrap();
        let ga = loss.backward().unwrap();
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
            "gradient, causal {causal}"
        );
        // A second backward pass finds the saved buffers gone and recomputes them.
        let again = loss.backward().unwrap();
        assert_eq!(max_diff(again.get(x.as_tensor()).unwrap(), ga), 0.0);
    }

    #[test]
    fn the_fused_block_matches_its_layers_forward_and_gradient() {
        check(false);
    }

    #[test]
    fn the_fused_causal_block_matches_its_layers_forward_and_gradient() {
        check(true);
    }

    #[test]
    fn a_block_refuses_rows_of_the_wrong_width() {
        let b = block(false);
        assert!(b.forward_fused(&randn(&[1, 3, 10])).is_err());
    }
}
