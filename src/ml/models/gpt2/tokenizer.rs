//! The GPT-2 byte-level BPE tokenizer, read from `tokenizer.json` by the `tokenizers` crate.

use std::path::{Path, PathBuf};

use crate::ml::{Error, Result};

pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
}

impl TextTokenizer {
    pub fn from_file(path: &Path) -> Result<Self> {
        let inner = crate::ml::weights::config_file::read_tokenizer(path)?;
        Ok(Self {
            inner,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::Tokenizer {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    /// Ids of `text`, without special tokens added (GPT-2 adds none).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .inner
            .encode(text, false)
            .map_err(|e| self.err(e))?
            .get_ids()
            .to_vec())
    }

    /// Text of `ids`, keeping special tokens as written (`<|endoftext|>`).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, false).map_err(|e| self.err(e))
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
