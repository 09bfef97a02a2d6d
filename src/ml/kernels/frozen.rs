//! Convolutions whose weights never train, with a backward pass that computes only the input
//! gradient.
//!
//! candle 0.11's autograd computes a gradient for the kernel of every conv2d, frozen or not, and
//! computes the input gradient with `conv_transpose2d`, which runs several times slower than a
//! conv2d. For a stride-1 convolution the input gradient is itself a convolution: of the output
//! gradient with the kernel flipped in space and with its channel axes swapped, padded by
//! `k - 1 - p`. This op does exactly that and nothing else. Off the CPU, or when no gradient is
//! being tracked, it is the plain candle convolution.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use std::sync::{Arc, Mutex, OnceLock};

use candle_nn::{Conv2d, Module};

use crate::ml::kernels::conv_gemm::{self, Taps};
use crate::ml::kernels::winograd::{self, Block, Winograd};

/// `(n, c, h, w)`.
pub type Dims4 = (usize, usize, usize, usize);

/// A stride-1, dilation-1, ungrouped conv2d with frozen weights.
#[derive(Debug, Clone)]
pub struct FrozenConv2d {
    padding: usize,
    kernel: usize,
    weights: Weights,
}

/// On the CPU only the rearranged kernel is kept (it serves both directions); elsewhere the
/// candle tensors, with the flipped kernel for the backward convolution.
#[derive(Debug, Clone)]
enum Weights {
    Cpu(Arc<CpuKernel>),
    Device {
        weight: Tensor,
        bias: Option<Tensor>,
        weight_bwd: Tensor,
    },
}

#[derive(Debug)]
struct CpuKernel {
    /// Rearranged from `weight` on first use, which then frees it: the encoder of a model that
    /// only ever decodes (no init image) never pays for Winograd's 16/9 larger kernels.
    kind: OnceLock<KernelKind>,
    weight: Mutex<Option<Vec<f32>>>,
    c_out: usize,
    c_in: usize,
    size: usize,
    bias: Option<Vec<f32>>,
}

/// 3×3 kernels in Winograd's transform domain (2.25× fewer multiplies); others as taps.
#[derive(Debug)]
enum KernelKind {
    Taps(Taps),
    Winograd(Winograd),
}

impl CpuKernel {
    fn c_in(&self, flipped: bool) -> usize {
        if flipped {
            self.c_out
        } else {
            self.c_in
        }
    }

    fn kind(&self) -> &KernelKind {
        self.kind.get_or_init(|| {
            let weight = self.weight.lock().ok().and_then(|mut w| w.take());
            let weight = weight.unwrap_or_default();
            let (co, ci, k) = (self.c_out, self.c_in, self.size);
            // Winograd's input tiles reach two pixels past the output on each side, so it
            // needs padding ≤ 2: `from_conv` keeps padding below the kernel size.
            if k == 3 {
                KernelKind::Winograd(Winograd::new(&weight, co, ci, Block::for_layer(co, ci)))
            } else {
                KernelKind::Taps(Taps::new(&weight, co, ci, k))
            }
        })
    }

    /// Convolves `[n, c, h, w]` with the kernel, or with its flipped form for a gradient.
    fn run(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
        padding: usize,
        flipped: bool,
    ) -> Result<(CpuStorage, Shape)> {
        let (Some((start, end)), CpuStorage::F32(v)) = (layout.contiguous_offsets(), storage)
        else {
            candle_core::bail!("frozen convolutions need a contiguous f32 input")
        };
        let (out, dims) =
            self.run_slice(&v[start..end], layout.shape().dims4()?, padding, flipped)?;
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }

    /// The same over a contiguous slice of dimensions `(n, c, h, w)`.
    fn run_slice(
        &self,
        x: &[f32],
        (n, c, h, w): (usize, usize, usize, usize),
        padding: usize,
        flipped: bool,
    ) -> Result<(Vec<f32>, Dims4)> {
        if c != self.c_in(flipped) || x.len() != n * c * h * w {
            candle_core::bail!(
                "a frozen convolution expects {} channels, got {c}",
                self.c_in(flipped)
            )
        }
        let bias = if flipped { None } else { self.bias.as_deref() };
        let (out, ho, wo) = match self.kind() {
            KernelKind::Taps(t) => {
                let k = if flipped { t.flipped() } else { t.forward() };
                conv_gemm::conv2d(x, n, h, w, k, padding, bias)
            }
            KernelKind::Winograd(wg) => {
                let k = if flipped { wg.flipped() } else { wg.forward() };
                winograd::conv3x3(x, n, h, w, k, padding, bias)
            }
        };
        let c_out = out.len() / (n * ho * wo).max(1);
        Ok((out, (n, c_out, ho, wo)))
    }
}

/// The input gradient of a frozen conv: the flipped-kernel convolution, with no backward.
struct FlippedConv {
    kernel: Arc<CpuKernel>,
    padding: usize,
}

impl CustomOp1 for FlippedConv {
    fn name(&self) -> &'static str {
        "frozen-conv2d-input-grad"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        self.kernel.run(storage, layout, self.padding, true)
    }
}

fn reverse(t: &Tensor, dim: usize) -> Result<Tensor> {
    let n = t.dim(dim)?;
    let idx: Vec<u32> = (0..n as u32).rev().collect();
    t.contiguous()?
        .index_select(&Tensor::new(idx.as_slice(), t.device())?, dim)
}

impl FrozenConv2d {
    /// Wraps a candle conv; `None` when its stride, dilation or groups are not 1.
    pub fn from_conv(conv: &Conv2d) -> Result<Option<Self>> {
        let cfg = conv.config();
        if cfg.stride != 1 || cfg.dilation != 1 || cfg.groups != 1 {
            return Ok(None);
        }
        let weight = conv.weight().clone();
        let (co, ci, kh, kw) = weight.dims4()?;
        if kh != kw || kh == 0 || cfg.padding >= kh {
            return Ok(None);
        }
        let weights = if crate::ml::kernels::use_fused(&weight) {
            let fwd: Vec<f32> = weight.flatten_all()?.to_vec1()?;
            let bias = match conv.bias() {
                Some(b) => Some(b.to_vec1::<f32>()?),
                None => None,
            };
            Weights::Cpu(Arc::new(CpuKernel {
                kind: OnceLock::new(),
                weight: Mutex::new(Some(fwd)),
                c_out: co,
                c_in: ci,
                size: kh,
                bias,
            }))
        } else {
            Weights::Device {
                weight_bwd: reverse(&reverse(&weight.transpose(0, 1)?, 2)?, 3)?.contiguous()?,
                weight,
                bias: conv.bias().cloned(),
            }
        };
        Ok(Some(Self {
            padding: cfg.padding,
            kernel: kh,
            weights,
        }))
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match &self.weights {
            Weights::Cpu(_) if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 => {
                x.contiguous()?.apply_op1(self.clone())
            }
            Weights::Cpu(_) => candle_core::bail!("this convolution's weights live on the CPU"),
            Weights::Device { weight, bias, .. } => {
                let y = x.conv2d(weight, self.padding, 1, 1, 1)?;
                match bias {
                    Some(b) => y.broadcast_add(&b.reshape((1, (), 1, 1))?),
                    None => Ok(y),
                }
            }
        }
    }
}

impl FrozenConv2d {
    /// Runs the CPU kernel over a contiguous `(n, c, h, w)` slice: the convolution, or with
    /// `grad` its input gradient (the output gradient in, the input gradient out). `None` when
    /// the weights live on another device.
    pub(crate) fn run_slice(
        &self,
        x: &[f32],
        dims: (usize, usize, usize, usize),
        grad: bool,
    ) -> Result<Option<(Vec<f32>, Dims4)>> {
        let Weights::Cpu(kernel) = &self.weights else {
            return Ok(None);
        };
        let padding = if grad {
            self.kernel - 1 - self.padding
        } else {
            self.padding
        };
        kernel.run_slice(x, dims, padding, grad).map(Some)
    }

    pub(crate) fn on_cpu(&self) -> bool {
        matches!(self.weights, Weights::Cpu(_))
    }

    /// Runs a 3×3 convolution's Winograd products in bf16 from now on, freeing its f32 points
    /// (other kernel sizes stay f32: the decoder has only 1×1s besides, a sliver of its work).
    /// `false`, with nothing changed, off the CPU or where no bf16 kernel runs. Called between
    /// runs, when no clone of this convolution is alive; a clone held elsewhere is an error.
    pub fn switch_to_bf16(&mut self) -> Result<bool> {
        let Weights::Cpu(kernel) = &mut self.weights else {
            return Ok(false);
        };
        let Some(kernel) = Arc::get_mut(kernel) else {
            candle_core::bail!("a convolution switched to bf16 while it was in use")
        };
        kernel.kind();
        Ok(match kernel.kind.get_mut() {
            Some(KernelKind::Winograd(w)) => w.switch_to_bf16(),
            Some(KernelKind::Taps(_)) => crate::ml::kernels::bf16_gemm::available(),
            None => false,
        })
    }
}

impl Module for FrozenConv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        FrozenConv2d::forward(self, x)
    }
}

impl CustomOp1 for FrozenConv2d {
    fn name(&self) -> &'static str {
        "frozen-conv2d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        match &self.weights {
            Weights::Cpu(k) => k.run(storage, layout, self.padding, false),
            Weights::Device { .. } => candle_core::bail!("a device convolution ran on the CPU"),
        }
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let pad = self.kernel - 1 - self.padding;
        match &self.weights {
            Weights::Cpu(kernel) => {
                let op = FlippedConv {
                    kernel: kernel.clone(),
                    padding: pad,
                };
                Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&op)?))
            }
            Weights::Device { weight_bwd, .. } => Ok(Some(grad.conv2d(weight_bwd, pad, 1, 1, 1)?)),
        }
    }
}

#[cfg(test)]
#[path = "frozen_tests.rs"]
mod tests;
