//! GPT-2, the story writer.
//!
//! Paper: Radford et al. 2019, "Language Models are Unsupervised Multitask Learners".
//! Reference implementation: Hugging Face transformers `GPT2LMHeadModel` (`modeling_gpt2.py`).
//! Hub id: `openai-community/gpt2` (124M). VarBuilder paths mirror the checkpoint's key names;
//! both the hub file's layout (`wte.weight`, `h.0.…`) and save_pretrained's (`transformer.…`) load.

mod attention;
mod checkpoint;
mod config;
pub mod tokenizer;

use std::path::Path;
use std::sync::Arc;

use candle_core::{Device, Module, Tensor, D};
use candle_nn::VarBuilder;

use crate::ml::kernels::nn::{packed_product, Conv1D, LayerNorm};
use crate::ml::kernels::packed_weight::{PackedWeight, WeightFormat};
use crate::ml::{Error, Result};
use attention::Attention;
pub use checkpoint::{check_checkpoint, expected_keys, KeyLayout};
use config::Activation;
pub use config::Config;

/// The weights GPT-2 writes with when none are asked for: f32, laid out for one token at a
/// time. q8 writes 2.1× faster (`bench/compare.sh story`) and leaves the English oracle's
/// greedy text unchanged, but it changes the Chinese poem oracle's (104 of 120 greedy tokens
/// kept, 55 of 120 with a repetition penalty; bf16 106 and 87), so it stays a choice.
pub const WRITING_WEIGHTS: WeightFormat = WeightFormat::F32;

#[derive(Debug, Clone)]
struct Mlp {
    c_fc: Conv1D,
    c_proj: Conv1D,
    act: Activation,
}

#[derive(Debug, Clone)]
struct Block {
    ln_1: LayerNorm,
    attn: Attention,
    ln_2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    fn load(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let eps = cfg.layer_norm_epsilon;
        let act = Activation::parse(&cfg.activation_function).map_err(candle_core::Error::msg)?;
        Ok(Self {
            ln_1: LayerNorm::load(vb.pp("ln_1"), cfg.n_embd, eps)?,
            attn: Attention::load(vb.pp("attn"), cfg)?,
            ln_2: LayerNorm::load(vb.pp("ln_2"), cfg.n_embd, eps)?,
            mlp: Mlp {
                c_fc: Conv1D::load(vb.pp("mlp").pp("c_fc"), cfg.n_embd, cfg.inner_dim())?,
                c_proj: Conv1D::load(vb.pp("mlp").pp("c_proj"), cfg.inner_dim(), cfg.n_embd)?,
                act,
            },
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> candle_core::Result<Tensor> {
        let x = (x + self.attn.forward(&self.ln_1.forward(x)?, mask, cache)?)?;
        let h = self
            .mlp
            .act
            .apply(&self.mlp.c_fc.forward(&self.ln_2.forward(&x)?)?)?;
        x + self.mlp.c_proj.forward(&h)?
    }
}

/// Past keys and values per layer; one cache per batch of sequences being generated.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl KvCache {
    pub fn new(n_layer: usize) -> Self {
        Self {
            layers: vec![None; n_layer],
            len: 0,
        }
    }

    /// Number of positions already stored.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies a batch-of-one cache to `n` rows, so one prompt pass serves several sequences.
    pub fn expand_batch(&mut self, n: usize) -> candle_core::Result<()> {
        for (k, v) in self.layers.iter_mut().flatten() {
            *k = k.repeat((n, 1, 1, 1))?;
            *v = v.repeat((n, 1, 1, 1))?;
        }
        Ok(())
    }
}

/// GPT-2 with its language-model head tied to `wte` (or an explicit `lm_head.weight`).
#[derive(Debug, Clone)]
pub struct Gpt2 {
    wte: candle_nn::Embedding,
    wpe: candle_nn::Embedding,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    lm_head: Tensor,
    /// The head in bf16 or q8 for writing, when [`Gpt2::pack_weights`] asked for it.
    lm_head_packed: Option<Arc<PackedWeight>>,
    weights: WeightFormat,
    cfg: Config,
    device: Device,
}

impl Gpt2 {
    /// Builds the model from a VarBuilder rooted where `wte` lives (apply the layout's prefix first).
    pub fn load(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let wte = vb.get((cfg.vocab_size, cfg.n_embd), "wte.weight")?;
        let wpe = vb.get((cfg.n_positions, cfg.n_embd), "wpe.weight")?;
        let blocks = (0..cfg.n_layer)
            .map(|i| Block::load(vb.pp("h").pp(i), cfg))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let ln_f = LayerNorm::load(vb.pp("ln_f"), cfg.n_embd, cfg.layer_norm_epsilon)?;
        Ok(Self {
            wte: candle_nn::Embedding::new(wte.clone(), cfg.n_embd),
            wpe: candle_nn::Embedding::new(wpe, cfg.n_embd),
            blocks,
            ln_f,
            lm_head: wte,
            lm_head_packed: None,
            weights: WeightFormat::F32,
            cfg: cfg.clone(),
            device: vb.device().clone(),
        })
    }

    /// Loads `model.safetensors` after checking its keys and shapes against `cfg`.
    /// Loads `model.safetensors` or `pytorch_model.bin` after checking its keys and shapes.
    pub fn from_file(path: &Path, cfg: &Config, device: &Device) -> Result<Self> {
        let layout = check_checkpoint(path, cfg)?;
        let vb = crate::ml::weights::tensor_file::var_builder(path, device)?;
        let root = match layout {
            KeyLayout::Hub => vb.clone(),
            KeyLayout::SavePretrained => vb.pp("transformer"),
        };
        let mut model = Self::load(root, cfg)?;
        if !cfg.tie_word_embeddings && vb.contains_tensor("lm_head.weight") {
            model.lm_head = vb.get((cfg.vocab_size, cfg.n_embd), "lm_head.weight")?;
        }
        Ok(model)
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Keeps the linear weights and the head in `format`, laid out for writing one token at a
    /// time: a step then reads 0.5× (bf16) or 0.28× (q8) of f32's bytes. The embeddings stay
    /// f32 (a step reads one row of each), and a packed model records no gradient, so it is
    /// for inference only. Packing runs on the CPU; on another device the model stays as
    /// loaded and this says so. A model is packed once.
    pub fn pack_weights(&mut self, format: WeightFormat) -> Result<()> {
        if self.lm_head_packed.is_some() {
            return Err(Error::Input(format!(
                "GPT-2's weights are already kept as {}; load it again to keep them as {format}",
                self.weights
            )));
        }
        if !self.device.is_cpu() {
            if format == WeightFormat::F32 {
                return Ok(());
            }
            return Err(Error::Input(format!(
                "{format} weights run on the CPU only; on this device GPT-2 writes with f32 \
                 weights"
            )));
        }
        for block in &mut self.blocks {
            for layer in [
                &mut block.attn.c_attn,
                &mut block.attn.c_proj,
                &mut block.mlp.c_fc,
                &mut block.mlp.c_proj,
            ] {
                layer
                    .pack(format)
                    .map_err(|e| Error::Input(e.to_string()))?;
            }
        }
        let (vocab, e) = self.lm_head.dims2()?;
        let head = self.lm_head.flatten_all()?.to_vec1::<f32>()?;
        let head =
            PackedWeight::pack(&head, vocab, e, format).map_err(|e| Error::Input(e.to_string()))?;
        self.lm_head_packed = Some(Arc::new(head));
        self.weights = format;
        Ok(())
    }

    /// [`Self::pack_weights`] with the `asked` weights, or [`WRITING_WEIGHTS`] when none were
    /// asked for. A sentence comes back when asked-for weights cannot be had (off the CPU);
    /// the default then quietly leaves the model as loaded.
    pub fn pack_for_writing(&mut self, asked: Option<WeightFormat>) -> Option<String> {
        match self.pack_weights(asked.unwrap_or(WRITING_WEIGHTS)) {
            Ok(()) => None,
            Err(e) => asked.map(|_| e.to_string()),
        }
    }

    /// The head's `[vocab, n_embd]` weight as a trainable tensor, unless it was packed for
    /// writing.
    pub fn head_weight(&self) -> Option<&Tensor> {
        self.lm_head_packed.is_none().then_some(&self.lm_head)
    }

    /// How the weights are kept: f32 unless [`Self::pack_weights`] changed it.
    pub fn weights(&self) -> WeightFormat {
        self.weights
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.cfg.n_layer)
    }

    /// Hidden states after `ln_f` for `ids` `[batch, seq]`, continuing after what `cache` holds.
    pub fn forward_hidden(&self, ids: &Tensor, cache: &mut KvCache) -> Result<Tensor> {
        self.hidden(ids, Some(cache))
    }

    /// Hidden states after `ln_f` for whole texts `ids` `[batch, seq]`, keeping no keys and
    /// values for later tokens: what training and scoring need, with the least memory.
    pub fn forward_hidden_whole(&self, ids: &Tensor) -> Result<Tensor> {
        self.hidden(ids, None)
    }

    fn hidden(&self, ids: &Tensor, cache: Option<&mut KvCache>) -> Result<Tensor> {
        let (_b, t) = ids.dims2()?;
        let offset = cache.as_ref().map_or(0, |c| c.len);
        if offset + t > self.cfg.n_positions {
            return Err(Error::Input(format!(
                "the text is {} tokens long but this model reads at most {}",
                offset + t,
                self.cfg.n_positions
            )));
        }
        let positions = Tensor::arange(offset as u32, (offset + t) as u32, &self.device)?;
        let mut x = self
            .wte
            .forward(ids)?
            .broadcast_add(&self.wpe.forward(&positions)?)?;
        let mask = if t > 1 {
            Some(causal_mask(t, offset, &self.device)?)
        } else {
            None
        };
        match cache {
            Some(cache) => {
                if cache.layers.len() != self.blocks.len() {
                    cache.layers = vec![None; self.blocks.len()];
                }
                for (block, layer_cache) in self.blocks.iter().zip(cache.layers.iter_mut()) {
                    x = block.forward(&x, mask.as_ref(), Some(layer_cache))?;
                }
                cache.len = offset + t;
            }
            None => {
                for block in &self.blocks {
                    x = block.forward(&x, mask.as_ref(), None)?;
                }
            }
        }
        Ok(self.ln_f.forward(&x)?)
    }

    /// Projects hidden states `[.., n_embd]` onto the vocabulary.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let e = self.cfg.n_embd;
        let rows = hidden.elem_count() / e;
        let logits = match &self.lm_head_packed {
            Some(head) => packed_product(head, hidden, rows)?,
            // Rows in, rows out, with no reshape: each reshape of vocabulary-sized logits costs
            // two more vocabulary-sized buffers in a backward pass (fine-tuning's loss uses it).
            None if hidden.rank() == 2 => return Ok(hidden.matmul(&self.lm_head.t()?)?),
            None => hidden.reshape((rows, e))?.matmul(&self.lm_head.t()?)?,
        };
        let mut dims = hidden.dims().to_vec();
        let last = dims.len() - 1;
        dims[last] = self.cfg.vocab_size;
        Ok(logits.reshape(dims)?)
    }

    /// Logits `[batch, seq, vocab]` for every position.
    pub fn forward(&self, ids: &Tensor, cache: &mut KvCache) -> Result<Tensor> {
        let hidden = self.forward_hidden(ids, cache)?;
        self.logits(&hidden)
    }

    /// Logits `[batch, vocab]` of the last position only; what generation needs.
    pub fn forward_last(&self, ids: &Tensor, cache: &mut KvCache) -> Result<Tensor> {
        let hidden = self.forward_hidden(ids, cache)?;
        let t = hidden.dim(1)?;
        self.logits(&hidden.narrow(1, t - 1, 1)?.squeeze(1)?)
    }
}

/// `[t, offset + t]` additive mask: query i sees keys up to `offset + i`.
fn causal_mask(t: usize, offset: usize, device: &Device) -> candle_core::Result<Tensor> {
    let total = offset + t;
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| {
            (0..total).map(move |j| {
                if j <= offset + i {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    Tensor::from_vec(mask, (t, total), device)
}

/// Index of the largest value in the last dimension, per row.
pub fn argmax_last(logits: &Tensor) -> Result<Vec<u32>> {
    Ok(logits.argmax(D::Minus1)?.flatten_all()?.to_vec1::<u32>()?)
}
