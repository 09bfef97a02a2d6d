//! all-MiniLM-L6-v2 sentence embeddings: BERT, mean pooling over real tokens, L2 normalisation.
//!
//! Paper: Wang et al., "MiniLM: Deep Self-Attention Distillation" (2020), and Reimers & Gurevych,
//! "Sentence-BERT" (2019). Reference: sentence-transformers' `SentenceTransformer.encode` with
//! the model's `1_Pooling` (mean) and `Normalize` modules. The encoder is candle-transformers'
//! BERT, which loads the checkpoint's `embeddings.*` / `encoder.*` names unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{self, BertModel};

use crate::ml::weights::safetensors_check::{check_keys, read_header, Header};
use crate::ml::{Error, Result};

/// sentence-transformers' `max_seq_length` for this model, `[CLS]` and `[SEP]` included.
pub const MAX_SEQ_LEN: usize = 256;

#[derive(Debug, Clone)]
pub struct Config {
    pub bert: bert::Config,
    pub max_seq_len: usize,
}

impl Config {
    pub fn from_file(path: &Path) -> Result<Self> {
        let bert: bert::Config =
            crate::ml::weights::config_file::read_json(path, |c: &bert::Config| {
                use crate::ml::weights::config_file::{check_sizes, most};
                check_sizes(&[
                    ("vocab_size", c.vocab_size, most::VOCAB),
                    ("hidden_size", c.hidden_size, most::WIDTH),
                    ("num_hidden_layers", c.num_hidden_layers, most::LAYERS),
                    ("num_attention_heads", c.num_attention_heads, most::HEADS),
                    ("intermediate_size", c.intermediate_size, most::INNER),
                    (
                        "max_position_embeddings",
                        c.max_position_embeddings,
                        most::POSITIONS,
                    ),
                    ("type_vocab_size", c.type_vocab_size, most::HEADS),
                ])?;
                if c.hidden_size == 0 || !c.hidden_size.is_multiple_of(c.num_attention_heads.max(1))
                {
                    return Err(format!(
                        "hidden_size {} is not a multiple of num_attention_heads {}",
                        c.hidden_size, c.num_attention_heads
                    ));
                }
                Ok(())
            })?;
        let max_seq_len = MAX_SEQ_LEN.min(bert.max_position_embeddings);
        Ok(Self { bert, max_seq_len })
    }
}

/// The key prefix a checkpoint uses: none (sentence-transformers' file), or the model type
/// (`bert.`) as candle's BERT loader also accepts.
fn key_prefix(header: &Header, cfg: &Config) -> String {
    let typed = cfg.bert.model_type.as_deref().map(|t| format!("{t}."));
    typed
        .filter(|p| {
            let word = format!("{p}embeddings.word_embeddings.weight");
            header.tensors.contains_key(&word)
        })
        .unwrap_or_default()
}

/// Every weight candle's `BertModel` reads, with its shape, under `prefix`.
pub fn expected_keys(cfg: &Config, prefix: &str) -> BTreeMap<String, Vec<usize>> {
    let c = &cfg.bert;
    bert_keys(
        prefix,
        BertShape {
            vocab: c.vocab_size,
            positions: c.max_position_embeddings,
            token_types: c.type_vocab_size,
            hidden: c.hidden_size,
            inner: c.intermediate_size,
            layers: c.num_hidden_layers,
        },
    )
}

/// The sizes that fix a BERT encoder's weights.
#[derive(Debug, Clone, Copy)]
pub struct BertShape {
    pub vocab: usize,
    pub positions: usize,
    pub token_types: usize,
    pub hidden: usize,
    pub inner: usize,
    pub layers: usize,
}

/// A BERT encoder's weights (embeddings and layers, no pooler) under `prefix`, named as
/// transformers names them; MiniLM and Chinese CLIP's text tower share them.
pub fn bert_keys(prefix: &str, b: BertShape) -> BTreeMap<String, Vec<usize>> {
    let (h, inner) = (b.hidden, b.inner);
    let mut keys = BTreeMap::new();
    let mut add = |name: String, shape: Vec<usize>| {
        keys.insert(format!("{prefix}{name}"), shape);
    };
    let e = "embeddings";
    add(format!("{e}.word_embeddings.weight"), vec![b.vocab, h]);
    add(
        format!("{e}.position_embeddings.weight"),
        vec![b.positions, h],
    );
    add(
        format!("{e}.token_type_embeddings.weight"),
        vec![b.token_types, h],
    );
    for i in 0..b.layers {
        let l = format!("encoder.layer.{i}");
        for (name, d_out, d_in) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", inner, h),
            ("output.dense", h, inner),
        ] {
            add(format!("{l}.{name}.weight"), vec![d_out, d_in]);
            add(format!("{l}.{name}.bias"), vec![d_out]);
        }
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            add(format!("{l}.{ln}.weight"), vec![h]);
            add(format!("{l}.{ln}.bias"), vec![h]);
        }
    }
    for s in ["weight", "bias"] {
        add(format!("{e}.LayerNorm.{s}"), vec![h]);
    }
    keys
}

/// Checks a MiniLM checkpoint's header (truncation, keys, shapes) against its config, as the
/// other models' loaders do, so a damaged file is a sentence rather than a loader error.
pub fn check_checkpoint(path: &Path, cfg: &Config) -> Result<()> {
    let header = read_header(path)?;
    let prefix = key_prefix(&header, cfg);
    // The pooler and the position-id buffer are in the published file but not used here; so
    // are a masked-LM head's tensors outside the prefix.
    let ignorable = |name: &str| {
        let Some(inner) = name.strip_prefix(prefix.as_str()) else {
            return true;
        };
        inner.starts_with("pooler.") || inner == "embeddings.position_ids"
    };
    check_keys(path, &header, &expected_keys(cfg, &prefix), ignorable)
}

pub struct MiniLm {
    bert: BertModel,
    tokenizer: tokenizers::Tokenizer,
    tokenizer_path: PathBuf,
    cfg: Config,
    device: Device,
}

impl MiniLm {
    pub fn load(vb: VarBuilder, cfg: &Config, tokenizer_path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::Tokenizer {
            path: tokenizer_path.to_path_buf(),
            reason,
        };
        let mut tokenizer =
            tokenizers::Tokenizer::from_file(tokenizer_path).map_err(|e| bad(e.to_string()))?;
        // The published file pads and truncates to 128; we pad per batch and cut at 256 ourselves,
        // as sentence-transformers does.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| bad(e.to_string()))?;
        let device = vb.device().clone();
        Ok(Self {
            bert: BertModel::load(vb, &cfg.bert)?,
            tokenizer,
            tokenizer_path: tokenizer_path.to_path_buf(),
            cfg: cfg.clone(),
            device,
        })
    }

    pub fn from_files(
        weights: &Path,
        cfg: &Config,
        tokenizer: &Path,
        device: &Device,
    ) -> Result<Self> {
        check_checkpoint(weights, cfg)?;
        // SAFETY: the file is memory-mapped read-only and is not modified while loaded.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, device)? };
        Self::load(vb, cfg, tokenizer)
    }

    pub fn dim(&self) -> usize {
        self.cfg.bert.hidden_size
    }

    /// Token ids with `[CLS]`/`[SEP]`, cut to `max_seq_len` keeping `[SEP]` last, as
    /// sentence-transformers truncates.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Tokenizer {
                path: self.tokenizer_path.clone(),
                reason: e.to_string(),
            })?;
        let mut ids = enc.get_ids().to_vec();
        if ids.len() > self.cfg.max_seq_len {
            let sep = *ids.last().unwrap_or(&0);
            ids.truncate(self.cfg.max_seq_len);
            ids[self.cfg.max_seq_len - 1] = sep;
        }
        Ok(ids)
    }

    /// Last hidden states `[n, seq, hidden]` for padded ids and a 0/1 mask.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let types = ids.zeros_like()?;
        Ok(self.bert.forward(ids, &types, Some(mask))?)
    }

    /// Unit-length embeddings, one row per text, in input order. Texts are batched in groups so
    /// padding stays short and memory stays flat for long lists.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        const BATCH: usize = 32;
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            out.extend(self.embed_batch(chunk)?);
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encoded = texts
            .iter()
            .map(|t| self.encode(t))
            .collect::<Result<Vec<_>>>()?;
        let seq = encoded.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let n = encoded.len();
        let mut ids = vec![0u32; n * seq];
        let mut mask = vec![0u32; n * seq];
        for (row, e) in encoded.iter().enumerate() {
            ids[row * seq..row * seq + e.len()].copy_from_slice(e);
            mask[row * seq..row * seq + e.len()].fill(1);
        }
        let ids = Tensor::from_vec(ids, (n, seq), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, seq), &self.device)?;
        let hidden = self.forward(&ids, &mask)?;
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&m)?.sum(1)?;
        let count = m.sum(1)?.clamp(1e-9, f64::INFINITY)?;
        let mean = summed.broadcast_div(&count)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .sqrt()?
            .clamp(1e-12, f64::INFINITY)?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}

/// Cosine similarity of two equal-length vectors, in f64.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
