//! CLIP's MLP around quick-GELU as the fused block runs it: the second product reads
//! `quick_gelu(pre)`, and the first one's input gradient reads `grad ⊙ quick_gelu′(pre)`.
//!
//! With bf16 weights the activation (or its slope) is applied as the product's input is
//! rounded to bf16, so neither is a pass over memory of its own, nor needs an f32 buffer: at
//! 32 cutouts each pass read and wrote 20 MB per block, 0.15 s of a 2 s bf16 step in all. In
//! f32 they stay the plain passes before the product, whose input must be f32 in memory.

use rayon::prelude::*;

use super::{quick_gelu, quick_gelu_rows, quick_gelu_slope, FrozenLinear, Weight, ROWS_PER_TASK};
use crate::ml::kernels::bf16_gemm::{self, to_bf16};
use candle_core::Result;

impl FrozenLinear {
    /// `y = quick_gelu(pre) Wᵀ + b`, or `y += …` when `accumulate`.
    pub(crate) fn affine_gelu_into(
        &self,
        pre: &[f32],
        rows: usize,
        y: &mut [f32],
        accumulate: bool,
    ) -> Result<()> {
        let (_, d_in) = self.dims()?;
        let Weight::Bf16(b) = &self.weight else {
            let mut h = vec![0f32; pre.len()];
            quick_gelu_rows(&mut h, pre, d_in);
            return self.affine_into(&h, rows, y, accumulate);
        };
        self.check_affine(pre.len(), rows, y.len())?;
        let accumulate = self.bias_first(y, accumulate)?;
        bf16_gemm::matmul_rows_into(y, rows, &b.forward, accumulate, |r, dst| {
            let p = &pre[r * d_in..(r + 1) * d_in];
            debug_assert_eq!(p.len(), dst.len());
            dst.iter_mut()
                .zip(p)
                .for_each(|(d, &p)| *d = to_bf16(quick_gelu(p)));
        });
        Ok(())
    }

    /// `dx = (grad ⊙ quick_gelu′(pre)) W`, or `dx += …` when `accumulate`. In f32, `grad` is
    /// scaled in place on the way (the caller is done with it); in bf16 it is left as it is.
    pub(crate) fn input_grad_gelu_into(
        &self,
        grad: &mut [f32],
        pre: &[f32],
        rows: usize,
        dx: &mut [f32],
        accumulate: bool,
    ) -> Result<()> {
        let (d_out, _) = self.dims()?;
        if pre.len() != grad.len() {
            candle_core::bail!(
                "frozen linear: a gradient of {} values for {} pre-activations",
                grad.len(),
                pre.len()
            );
        }
        let Weight::Bf16(b) = &self.weight else {
            grad.par_chunks_mut(d_out.max(1) * ROWS_PER_TASK)
                .zip(pre.par_chunks(d_out.max(1) * ROWS_PER_TASK))
                .for_each(|(g, p)| {
                    g.iter_mut()
                        .zip(p)
                        .for_each(|(g, &p)| *g *= quick_gelu_slope(p))
                });
            return self.input_grad_into(grad, rows, dx, accumulate);
        };
        self.check_input_grad(grad.len(), rows, dx.len())?;
        let grad = &*grad;
        bf16_gemm::matmul_rows_into(dx, rows, &b.backward, accumulate, |r, dst| {
            let (g, p) = (
                &grad[r * d_out..(r + 1) * d_out],
                &pre[r * d_out..(r + 1) * d_out],
            );
            debug_assert_eq!((g.len(), p.len()), (dst.len(), dst.len()));
            dst.iter_mut()
                .zip(g.iter().zip(p))
                .for_each(|(d, (&g, &p))| *d = to_bf16(g * quick_gelu_slope(p)));
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn values(n: usize, seed: u64) -> Vec<f32> {
        Tensor::randn(0f32, 2.0, n, &Device::Cpu)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .into_iter()
            .map(|v| v + seed as f32 * 1e-3)
            .collect()
    }

    /// The fused passes give, bit for bit, what the activation (or its slope) applied first
    /// and then the plain product give, in f32 and (where a kernel runs) in bf16, with and
    /// without a bias and accumulation, at sizes that leave partial tiles.
    #[test]
    fn gelu_fused_into_the_products_input_changes_no_bit() {
        let (rows, d_in, d_out) = (37, 70, 45);
        for bf16 in [false, true] {
            for bias in [false, true] {
                let w = Tensor::randn(0f32, 0.2, (d_out, d_in), &Device::Cpu).unwrap();
                let b = bias.then(|| Tensor::randn(0f32, 1.0, d_out, &Device::Cpu).unwrap());
                let mut layer = FrozenLinear::new(w, b).unwrap();
                if bf16 && !layer.switch_to_bf16().unwrap() {
                    continue;
                }
                for accumulate in [false, true] {
                    // Forward: y (+)= gelu(pre) Wᵀ + b.
                    let pre = values(rows * d_in, 1);
                    let h: Vec<f32> = pre.iter().map(|&p| quick_gelu(p)).collect();
                    let start = values(rows * d_out, 2);
                    let (mut want, mut got) = (start.clone(), start.clone());
                    layer.affine_into(&h, rows, &mut want, accumulate).unwrap();
                    layer
                        .affine_gelu_into(&pre, rows, &mut got, accumulate)
                        .unwrap();
                    assert_eq!(got, want, "forward, bf16 {bf16}, bias {bias}");
                    // Backward: dx (+)= (g ⊙ gelu'(pre)) W.
                    let pre = values(rows * d_out, 3);
                    let g = values(rows * d_out, 4);
                    let scaled: Vec<f32> = g
                        .iter()
                        .zip(&pre)
                        .map(|(&g, &p)| g * quick_gelu_slope(p))
                        .collect();
                    let start = values(rows * d_in, 5);
                    let (mut want, mut got) = (start.clone(), start.clone());
                    layer
                        .input_grad_into(&scaled, rows, &mut want, accumulate)
                        .unwrap();
                    let mut g = g.clone();
                    layer
                        .input_grad_gelu_into(&mut g, &pre, rows, &mut got, accumulate)
                        .unwrap();
                    assert_eq!(got, want, "backward, bf16 {bf16}, bias {bias}");
                }
            }
        }
    }

    #[test]
    fn a_gradient_the_wrong_size_for_its_pre_activations_is_refused() {
        let layer = FrozenLinear::new(
            Tensor::ones((3, 2), candle_core::DType::F32, &Device::Cpu).unwrap(),
            None,
        )
        .unwrap();
        let mut g = vec![0f32; 6];
        let mut dx = vec![0f32; 4];
        let err = layer
            .input_grad_gelu_into(&mut g, &[0.0; 5], 2, &mut dx, false)
            .unwrap_err();
        assert!(err.to_string().contains("pre-activations"), "{err}");
    }
}
