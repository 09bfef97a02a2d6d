//! GPT-2's tokenizer: the byte-level BPE of the English model, or, for a Chinese GPT-2 such as
//! uer/gpt2-chinese-poem, bert-base-chinese's WordPiece (from `tokenizer.json` or `vocab.txt`).

use std::path::{Path, PathBuf};

use tokenizers::ModelWrapper;

use crate::ml::{Error, Result};

pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
    wordpiece: bool,
}

impl TextTokenizer {
    pub fn from_file(path: &Path) -> Result<Self> {
        let inner = crate::ml::weights::config_file::read_tokenizer(path)?;
        Ok(Self::new(inner, path))
    }

    /// From a folder's `tokenizer.json` where it has one, else its WordPiece `vocab.txt`.
    pub fn from_files(json: Option<&Path>, vocab: Option<&Path>) -> Result<Self> {
        let inner = crate::ml::weights::wordpiece_vocab::read_either(json, vocab)?;
        Ok(Self::new(inner, json.or(vocab).unwrap_or(Path::new("."))))
    }

    fn new(inner: tokenizers::Tokenizer, path: &Path) -> Self {
        let wordpiece = matches!(inner.get_model(), ModelWrapper::WordPiece(_));
        Self {
            inner,
            path: path.to_path_buf(),
            wordpiece,
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::Tokenizer {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    /// Whether this is a WordPiece tokenizer (a Chinese GPT-2): then its text is rebuilt from
    /// the ids, special tokens left out and CJK characters joined, instead of kept as typed.
    pub fn is_wordpiece(&self) -> bool {
        self.wordpiece
    }

    /// Ids of `text`, without special tokens added (GPT-2 adds none); a `[CLS]` typed in the
    /// text of a WordPiece model is kept as its token, as the poem models are prompted.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .inner
            .encode(text, false)
            .map_err(|e| self.err(e))?
            .get_ids()
            .to_vec())
    }

    /// Text of `ids`. Byte-level BPE keeps special tokens as written (`<|endoftext|>`);
    /// WordPiece leaves them out and removes the spaces it puts between CJK characters.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        if self.wordpiece {
            let text = self.inner.decode(ids, true).map_err(|e| self.err(e))?;
            return Ok(join_cjk(&text));
        }
        self.inner.decode(ids, false).map_err(|e| self.err(e))
    }

    /// The wordpieces of `ids` joined by spaces, as transformers' `decode` writes them.
    pub fn decode_spaced(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, false).map_err(|e| self.err(e))
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Every token's string and id, added tokens included.
    pub fn vocab(&self) -> std::collections::HashMap<String, u32> {
        self.inner.get_vocab(true)
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

/// Chinese, Japanese and Korean characters and their full-width punctuation, which are written
/// without spaces between them.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x2FDF     // radicals
        | 0x3000..=0x303F   // CJK punctuation: 。「」
        | 0x3040..=0x30FF   // kana
        | 0x3400..=0x4DBF   // extension A
        | 0x4E00..=0x9FFF   // unified ideographs
        | 0xF900..=0xFAFF   // compatibility ideographs
        | 0xFF00..=0xFFEF   // full-width forms: ，！？（）
        | 0x20000..=0x3134F // extensions B to G
    )
}

/// Removes each space that has a CJK character on either side: `床 前 明 月 光 ，` becomes
/// `床前明月光，`, while `hello 世 界 123` becomes `hello世界123` and `hello world` stays.
pub fn join_cjk(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let before = i.checked_sub(1).map(|j| chars[j]);
            let after = chars.get(i + 1).copied();
            if before.is_some_and(is_cjk) || after.is_some_and(is_cjk) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::join_cjk;

    #[test]
    fn spaces_between_cjk_characters_go_and_others_stay() {
        assert_eq!(join_cjk("床 前 明 月 光 ， 疑 是"), "床前明月光，疑是");
        assert_eq!(join_cjk("hello world"), "hello world");
        assert_eq!(join_cjk("hello 世 界 123"), "hello世界123");
        assert_eq!(join_cjk("《 静 夜 思 》 李 白"), "《静夜思》李白");
        assert_eq!(join_cjk(""), "");
    }
}
