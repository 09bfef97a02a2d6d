//! BLIP's tokenizer: bert-base-uncased WordPiece with `[DEC]` and `[ENC]` added, read from the
//! published `tokenizer.json`.

use std::path::{Path, PathBuf};

use crate::ml::{Error, Result};

pub struct BlipTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
}

impl BlipTokenizer {
    pub fn from_file(path: &Path) -> Result<Self> {
        let inner = crate::ml::weights::config_file::read_tokenizer(path)?;
        Ok(Self {
            inner,
            path: path.to_path_buf(),
        })
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Tokenizer {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    /// The wordpieces of `text`, without `[CLS]` or `[SEP]`.
    pub fn wordpieces(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.inner.encode(text, false).map_err(|e| self.error(e))?;
        Ok(enc.get_ids().to_vec())
    }

    /// The text of `ids`, special tokens left out.
    pub fn text(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, true).map_err(|e| self.error(e))
    }
}
