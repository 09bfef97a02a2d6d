//! GPT-2's masked self-attention: candle ops with a KV cache for writing, the fused op for
//! whole texts (training, scoring).

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::Config;
use crate::ml::kernels::attention::Attention as FusedAttention;
use crate::ml::kernels::nn::{softmax_last, Conv1D};
use crate::ml::kernels::use_fused;

#[derive(Debug, Clone)]
pub(super) struct Attention {
    pub(super) c_attn: Conv1D,
    pub(super) c_proj: Conv1D,
    n_head: usize,
    head_dim: usize,
    scale: f64,
    /// Scores scaled by `1/sqrt(head_dim)`, as the fused op does.
    scale_is_standard: bool,
}

impl Attention {
    pub(super) fn load(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let e = cfg.n_embd;
        let head_dim = cfg.head_dim();
        Ok(Self {
            c_attn: Conv1D::load(vb.pp("c_attn"), e, 3 * e)?,
            c_proj: Conv1D::load(vb.pp("c_proj"), e, e)?,
            n_head: cfg.n_head,
            head_dim,
            scale: if cfg.scale_attn_weights {
                1.0 / (head_dim as f64).sqrt()
            } else {
                1.0
            },
            scale_is_standard: cfg.scale_attn_weights,
        })
    }

    /// Attention over `x`; with a `cache`, after its keys and values, which it then extends.
    /// Without one (training, scoring whole texts) the CPU runs it as one fused op that keeps
    /// nothing for its backward but the QKV rows.
    pub(super) fn forward(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> candle_core::Result<Tensor> {
        let qkv = self.c_attn.forward(x)?;
        let fused = FusedAttention {
            heads: self.n_head,
            causal: true,
        };
        let y = match cache {
            None if self.scale_is_standard && use_fused(&qkv) => fused.forward(&qkv)?,
            cache => self.attend(&qkv, mask, cache)?,
        };
        self.c_proj.forward(&y)
    }

    /// Attention from candle ops, as transformers computes it.
    fn attend(
        &self,
        qkv: &Tensor,
        mask: Option<&Tensor>,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> candle_core::Result<Tensor> {
        let (b, t, e3) = qkv.dims3()?;
        let e = e3 / 3;
        let heads = |i: usize| -> candle_core::Result<Tensor> {
            qkv.narrow(2, i * e, e)?
                .reshape((b, t, self.n_head, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, mut k, mut v) = (heads(0)?, heads(1)?, heads(2)?);
        if let Some(cache) = cache {
            if let Some((pk, pv)) = cache.as_ref() {
                k = Tensor::cat(&[pk, &k], 2)?;
                v = Tensor::cat(&[pv, &v], 2)?;
            }
            *cache = Some((k.clone(), v.clone()));
        }
        let mut att = (q.matmul(&k.t()?)? * self.scale)?;
        if let Some(mask) = mask {
            att = att.broadcast_add(mask)?;
        }
        let y = softmax_last(&att)?.matmul(&v)?;
        y.transpose(1, 2)?.reshape((b, t, e))
    }
}
