//! A BERT WordPiece tokenizer built from a bare `vocab.txt`, as transformers' `BertTokenizer`
//! reads it: the Chinese models' hub repositories (uer/gpt2-chinese-poem, OFA-Sys' Chinese
//! CLIP) publish `vocab.txt` and no `tokenizer.json`.
//!
//! The pipeline is `BertTokenizer`'s: clean the text, put spaces around every CJK character,
//! lower-case, split on whitespace and punctuation, then greedy longest-match wordpieces with
//! `##` continuations; `[CLS]`, `[SEP]`, `[PAD]`, `[UNK]` and `[MASK]` are special tokens.

use std::path::Path;

use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::{AddedToken, Tokenizer};

use crate::ml::{Error, Result};

const SPECIAL: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// Reads `vocab.txt` (one wordpiece per line, its id the line number).
pub fn read(path: &Path) -> Result<Tokenizer> {
    let bad = |reason: String| Error::Tokenizer {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text =
        std::str::from_utf8(&bytes).map_err(|e| bad(format!("it is not UTF-8 text ({e})")))?;
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    if !lines.contains(&"[UNK]") {
        return Err(bad(
            "it has no [UNK] line, so it is not a BERT WordPiece vocabulary".into(),
        ));
    }
    let vocab = WordPiece::read_bytes(&bytes).map_err(|e| bad(e.to_string()))?;
    let model = WordPiece::builder()
        .vocab(vocab)
        .unk_token("[UNK]".into())
        .continuing_subword_prefix("##".into())
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let mut tokenizer = Tokenizer::new(model);
    tokenizer
        .with_normalizer(Some(BertNormalizer::new(true, true, None, true)))
        .map_err(|e| bad(e.to_string()))?;
    tokenizer.with_pre_tokenizer(Some(BertPreTokenizer));
    tokenizer.with_decoder(Some(WordPieceDecoder::new("##".into(), true)));
    let special: Vec<AddedToken> = SPECIAL
        .iter()
        .filter(|t| lines.contains(t))
        .map(|t| AddedToken::from(*t, true))
        .collect();
    tokenizer
        .add_special_tokens(special)
        .map_err(|e| bad(e.to_string()))?;
    Ok(tokenizer)
}

/// The tokenizer of a model folder: its `tokenizer.json` where present, else its `vocab.txt`.
/// A file's own padding and truncation are dropped: callers add `[CLS]`, `[SEP]` and padding
/// themselves, and a pad inside the ids would move `[SEP]` and count as a real token.
pub fn read_either(json: Option<&Path>, vocab: Option<&Path>) -> Result<Tokenizer> {
    match (json, vocab) {
        (Some(json), _) => {
            let mut tokenizer = super::config_file::read_tokenizer(json)?;
            tokenizer.with_padding(None);
            tokenizer
                .with_truncation(None)
                .map_err(|e| Error::Tokenizer {
                    path: json.to_path_buf(),
                    reason: e.to_string(),
                })?;
            Ok(tokenizer)
        }
        (None, Some(vocab)) => read(vocab),
        (None, None) => Err(Error::Input(
            "the model folder has neither tokenizer.json nor vocab.txt".into(),
        )),
    }
}
