//! Chinese CLIP's text input: bert-base-chinese WordPiece (every CJK character its own token),
//! `[CLS] text [SEP]`, cut and padded to Chinese CLIP's context of 52 tokens.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use crate::ml::{Error, Result};

/// Chinese CLIP's text length (`context_length` in cn_clip), `[CLS]` and `[SEP]` included.
pub const CONTEXT: usize = 52;

pub struct CnClipTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
    cls: u32,
    sep: u32,
    pad: u32,
}

impl CnClipTokenizer {
    /// From a folder's `tokenizer.json` where it has one, else its `vocab.txt`.
    pub fn from_files(json: Option<&Path>, vocab: Option<&Path>) -> Result<Self> {
        let inner = crate::ml::weights::wordpiece_vocab::read_either(json, vocab)?;
        let path = json.or(vocab).unwrap_or(Path::new(".")).to_path_buf();
        let id = |token: &str| {
            inner.token_to_id(token).ok_or_else(|| Error::Tokenizer {
                path: path.clone(),
                reason: format!("it has no {token} token, so it is not a BERT tokenizer"),
            })
        };
        let (cls, sep, pad) = (id("[CLS]")?, id("[SEP]")?, id("[PAD]")?);
        Ok(Self {
            inner,
            path,
            cls,
            sep,
            pad,
        })
    }

    /// `[CLS] wordpieces [SEP]`, the wordpieces cut to fit [`CONTEXT`].
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::Tokenizer {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        let pieces = enc.get_ids();
        let kept = &pieces[..pieces.len().min(CONTEXT - 2)];
        let mut ids = Vec::with_capacity(kept.len() + 2);
        ids.push(self.cls);
        ids.extend_from_slice(kept);
        ids.push(self.sep);
        Ok(ids)
    }

    /// Ids `[n, CONTEXT]` padded with `[PAD]`, and the attention mask (1 for real tokens).
    pub fn batch(&self, texts: &[&str], device: &Device) -> Result<(Tensor, Tensor)> {
        let mut ids = Vec::with_capacity(texts.len() * CONTEXT);
        let mut mask = Vec::with_capacity(texts.len() * CONTEXT);
        for text in texts {
            let row = self.encode(text)?;
            mask.extend(std::iter::repeat_n(1u32, row.len()));
            mask.extend(std::iter::repeat_n(0u32, CONTEXT - row.len()));
            ids.extend_from_slice(&row);
            ids.extend(std::iter::repeat_n(self.pad, CONTEXT - row.len()));
        }
        let shape = (texts.len(), CONTEXT);
        Ok((
            Tensor::from_vec(ids, shape, device)?,
            Tensor::from_vec(mask, shape, device)?,
        ))
    }
}
