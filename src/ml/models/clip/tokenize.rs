//! CLIP's BPE tokenizer from `tokenizer.json`: start and end tokens added, truncated and padded
//! to the 77-token context as transformers' `CLIPTokenizer(padding="max_length")` does.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::END_OF_TEXT;
use crate::ml::{Error, Result};

pub struct ClipTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
    context: usize,
}

impl ClipTokenizer {
    pub fn from_file(path: &Path, context: usize) -> Result<Self> {
        let inner = crate::ml::weights::config_file::read_tokenizer(path)?;
        Ok(Self {
            inner,
            path: path.to_path_buf(),
            context,
        })
    }

    /// Ids with start and end tokens, untruncated.
    pub fn encode_raw(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .inner
            .encode(text, true)
            .map_err(|e| Error::Tokenizer {
                path: self.path.clone(),
                reason: e.to_string(),
            })?
            .get_ids()
            .to_vec())
    }

    /// Ids cut to the context (keeping the end token last) and padded with end tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = self.encode_raw(text)?;
        if ids.len() > self.context {
            ids.truncate(self.context);
            ids[self.context - 1] = END_OF_TEXT;
        }
        ids.resize(self.context, END_OF_TEXT);
        Ok(ids)
    }

    /// The longest text, in tokens, CLIP reads.
    pub fn context(&self) -> usize {
        self.context
    }

    /// How many tokens `text` takes, start and end included.
    pub fn token_count(&self, text: &str) -> Result<usize> {
        Ok(self.encode_raw(text)?.len())
    }

    /// A `[n, context]` batch of padded ids.
    pub fn batch(&self, texts: &[&str], device: &Device) -> Result<Tensor> {
        let mut flat = Vec::with_capacity(texts.len() * self.context);
        for text in texts {
            flat.extend(self.encode(text)?);
        }
        Ok(Tensor::from_vec(flat, (texts.len(), self.context), device)?)
    }

    /// A `[n, longest]` batch: padded only to the longest text. Same embeddings as [`Self::batch`]
    /// because CLIP pools at the first end token under a causal mask, for a fraction of the work.
    pub fn batch_tight(&self, texts: &[&str], device: &Device) -> Result<Tensor> {
        let encoded = texts
            .iter()
            .map(|t| self.encode(t))
            .collect::<Result<Vec<_>>>()?;
        let longest = encoded
            .iter()
            .map(|ids| {
                ids.iter()
                    .position(|&t| t == END_OF_TEXT)
                    .map_or(ids.len(), |p| p + 1)
            })
            .max()
            .unwrap_or(1);
        let flat: Vec<u32> = encoded
            .iter()
            .flat_map(|ids| ids[..longest].to_vec())
            .collect();
        Ok(Tensor::from_vec(flat, (texts.len(), longest), device)?)
    }
}
