//! BLIP's text decoder: a post-LayerNorm BERT whose layers attend causally to the caption so
//! far, then to the picture, followed by BERT's masked-LM head (its output matrix tied to the
//! word embeddings).
//!
//! The weights are immutable and the per-caption state lives in [`DecoderState`], so one
//! loaded model serves any number of captions. The picture's keys and values are computed once
//! per caption rather than at every token (candle-transformers' BLIP recomputes them, which
//! for the large model costs more than the rest of a step), and every hypothesis of a beam
//! search shares them.

use candle_core::{Module, Tensor, D};
use candle_nn::{Embedding, LayerNorm, VarBuilder};

use super::config::{Activation, TextConfig};
use super::vision::activate;
use crate::ml::kernels::frozen_linear::FrozenLinear;

#[derive(Debug, Clone)]
struct Attention {
    query: FrozenLinear,
    key: FrozenLinear,
    value: FrozenLinear,
    dense: FrozenLinear,
    layer_norm: LayerNorm,
    heads: usize,
}

impl Attention {
    fn load(vb: VarBuilder, cfg: &TextConfig, kv_width: usize) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            query: FrozenLinear::load(vb.pp("self.query"), h, h)?,
            key: FrozenLinear::load(vb.pp("self.key"), kv_width, h)?,
            value: FrozenLinear::load(vb.pp("self.value"), kv_width, h)?,
            dense: FrozenLinear::load(vb.pp("output.dense"), h, h)?,
            layer_norm: candle_nn::layer_norm(h, cfg.layer_norm_eps, vb.pp("output.LayerNorm"))?,
            heads: cfg.num_attention_heads,
        })
    }

    /// `[b, t, h]` to `[b, heads, t, h / heads]`.
    fn split_heads(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t, h) = x.dims3()?;
        x.reshape((b, t, self.heads, h / self.heads))?
            .transpose(1, 2)?
            .contiguous()
    }

    fn scale(&self, q: &Tensor) -> candle_core::Result<f64> {
        Ok(1.0 / (q.dim(D::Minus1)? as f64).sqrt())
    }

    /// `LN(dense(context) + x)`, BERT's output sub-layer; `context` is `[b, heads, t, dh]`.
    fn output(&self, context: &Tensor, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t, h) = x.dims3()?;
        let context = context.transpose(1, 2)?.reshape((b, t, h))?;
        self.layer_norm
            .forward(&(self.dense.forward(&context)? + x)?)
    }

    /// Causal self-attention of `x` (`t` new tokens after `cache`'s) over everything so far.
    fn forward_self(
        &self,
        x: &Tensor,
        cache: &mut Option<(Tensor, Tensor)>,
    ) -> candle_core::Result<Tensor> {
        let q = self.split_heads(&self.query.forward(x)?)?;
        let k = self.split_heads(&self.key.forward(x)?)?;
        let v = self.split_heads(&self.value.forward(x)?)?;
        let (k, v) = match cache.take() {
            Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
            None => (k, v),
        };
        *cache = Some((k.clone(), v.clone()));
        let (t, total) = (q.dim(2)?, k.dim(2)?);
        let mut scores = (q.matmul(&k.t()?)? * self.scale(&q)?)?;
        if t > 1 {
            let past = total - t;
            let mask: Vec<f32> = (0..t)
                .flat_map(|i| {
                    (0..total).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 })
                })
                .collect();
            let mask = Tensor::from_vec(mask, (t, total), x.device())?;
            scores = scores.broadcast_add(&mask)?;
        }
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        self.output(&probs.matmul(&v)?, x)
    }

    /// The picture's keys and values `[1, heads, positions, dh]`, computed once per caption.
    fn picture_kv(&self, image: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        Ok((
            self.split_heads(&self.key.forward(image)?)?,
            self.split_heads(&self.value.forward(image)?)?,
        ))
    }

    /// Attention of `x` `[b, t, h]` over one picture shared by all `b` hypotheses: the rows of
    /// every hypothesis become one query block, so the keys are never copied per hypothesis.
    fn forward_cross(&self, x: &Tensor, kv: &(Tensor, Tensor)) -> candle_core::Result<Tensor> {
        let (b, t, h) = x.dims3()?;
        let dh = h / self.heads;
        let q = self
            .split_heads(&self.query.forward(x)?)? // [b, heads, t, dh]
            .transpose(0, 1)?
            .reshape((1, self.heads, b * t, dh))?;
        let scores = (q.matmul(&kv.0.t()?)? * self.scale(&q)?)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probs
            .matmul(&kv.1)?
            .reshape((self.heads, b, t, dh))?
            .transpose(0, 1)?;
        self.output(&context, x)
    }
}

#[derive(Debug, Clone)]
struct Layer {
    attention: Attention,
    cross: Attention,
    intermediate: FrozenLinear,
    output: FrozenLinear,
    output_norm: LayerNorm,
    act: Activation,
}

impl Layer {
    fn load(vb: VarBuilder, cfg: &TextConfig) -> candle_core::Result<Self> {
        let (h, inner) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(Self {
            attention: Attention::load(vb.pp("attention"), cfg, h)?,
            cross: Attention::load(vb.pp("crossattention"), cfg, cfg.encoder_hidden_size)?,
            intermediate: FrozenLinear::load(vb.pp("intermediate.dense"), h, inner)?,
            output: FrozenLinear::load(vb.pp("output.dense"), inner, h)?,
            output_norm: candle_nn::layer_norm(h, cfg.layer_norm_eps, vb.pp("output.LayerNorm"))?,
            act: cfg.hidden_act,
        })
    }
}

/// One caption's progress: the decoder's own keys and values per layer, the picture's, and how
/// many tokens have been read.
#[derive(Debug, Clone)]
pub struct DecoderState {
    own: Vec<Option<(Tensor, Tensor)>>,
    picture: Vec<(Tensor, Tensor)>,
    pub len: usize,
}

impl DecoderState {
    /// How many hypotheses it holds (one before any beam search).
    pub fn rows(&self) -> usize {
        match self.own.first() {
            Some(Some((k, _))) => k.dim(0).unwrap_or(1),
            _ => 1,
        }
    }

    /// Keeps the hypotheses at `rows`, in that order (a beam search's survivors; a row may
    /// appear more than once).
    pub fn select(&mut self, rows: &[u32]) -> candle_core::Result<()> {
        let Some(Some((k, _))) = self.own.first() else {
            return Ok(());
        };
        let index = Tensor::new(rows, k.device())?;
        for (k, v) in self.own.iter_mut().flatten() {
            *k = k.index_select(&index, 0)?;
            *v = v.index_select(&index, 0)?;
        }
        Ok(())
    }
}

/// The decoder with frozen weights.
#[derive(Debug, Clone)]
pub struct TextDecoder {
    word_embeddings: Embedding,
    position_embeddings: Tensor,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
    transform: FrozenLinear,
    transform_norm: LayerNorm,
    /// `[vocab, hidden]`, the word embeddings unless the checkpoint stores its own copy.
    lm_head: FrozenLinear,
    pub cfg: TextConfig,
}

impl TextDecoder {
    /// `vb` is at `text_decoder`; `own_head` says whether the head uses its own
    /// `cls.predictions.decoder.weight` (an untied config) rather than the word embeddings.
    pub fn load(vb: VarBuilder, cfg: &TextConfig, own_head: bool) -> candle_core::Result<Self> {
        let (h, vocab) = (cfg.hidden_size, cfg.vocab_size);
        let e = vb.pp("bert.embeddings");
        let words = e.get((vocab, h), "word_embeddings.weight")?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::load(vb.pp(format!("bert.encoder.layer.{i}")), cfg))
            .collect::<candle_core::Result<_>>()?;
        let p = vb.pp("cls.predictions");
        let head_weight = match own_head {
            true => p.get((vocab, h), "decoder.weight")?,
            false => words.clone(),
        };
        Ok(Self {
            word_embeddings: Embedding::new(words, h),
            position_embeddings: e.get(
                (cfg.max_position_embeddings, h),
                "position_embeddings.weight",
            )?,
            embeddings_norm: candle_nn::layer_norm(h, cfg.layer_norm_eps, e.pp("LayerNorm"))?,
            layers,
            transform: FrozenLinear::load(p.pp("transform.dense"), h, h)?,
            transform_norm: candle_nn::layer_norm(
                h,
                cfg.layer_norm_eps,
                p.pp("transform.LayerNorm"),
            )?,
            lm_head: FrozenLinear::new(head_weight, Some(p.get(vocab, "bias")?))?,
            cfg: cfg.clone(),
        })
    }

    /// A fresh caption over `image`, the vision tower's last hidden state `[1, positions, width]`.
    pub fn start(&self, image: &Tensor) -> candle_core::Result<DecoderState> {
        let picture = self
            .layers
            .iter()
            .map(|l| l.cross.picture_kv(image))
            .collect::<candle_core::Result<_>>()?;
        Ok(DecoderState {
            own: vec![None; self.layers.len()],
            picture,
            len: 0,
        })
    }

    /// Reads `ids` `[b, t]` (the next `t` tokens of `b` hypotheses) and returns the logits
    /// `[b, vocab]` for the token after the last of them.
    pub fn step(&self, state: &mut DecoderState, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (_, t) = ids.dims2()?;
        if t == 0 {
            candle_core::bail!("a decoder step needs at least one token");
        }
        if state.len + t > self.cfg.max_position_embeddings {
            candle_core::bail!(
                "a caption can be at most {} tokens long",
                self.cfg.max_position_embeddings
            );
        }
        let positions = self.position_embeddings.narrow(0, state.len, t)?;
        let x = self
            .word_embeddings
            .forward(ids)?
            .broadcast_add(&positions)?;
        let mut x = self.embeddings_norm.forward(&x)?;
        for (i, layer) in self.layers.iter().enumerate() {
            let a = layer.attention.forward_self(&x, &mut state.own[i])?;
            let c = layer.cross.forward_cross(&a, &state.picture[i])?;
            let inner = activate(&layer.intermediate.forward(&c)?, layer.act)?;
            x = layer
                .output_norm
                .forward(&(layer.output.forward(&inner)? + c)?)?;
        }
        state.len += t;
        let last = x.narrow(1, t - 1, 1)?.squeeze(1)?;
        let last = activate(&self.transform.forward(&last)?, self.cfg.hidden_act)?;
        self.lm_head.forward(&self.transform_norm.forward(&last)?)
    }
}
