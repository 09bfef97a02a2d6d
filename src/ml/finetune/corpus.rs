//! The training corpus: the user's files read as text, tokenized, joined by end-of-text tokens,
//! and packed into fixed-size blocks split between training and validation.

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::ml::generate::END_OF_TEXT;
use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::{Error, Result};

/// Blocks of `block_size + 1` ids: inputs are the first `block_size`, targets the last.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub train: Vec<Vec<u32>>,
    pub val: Vec<Vec<u32>>,
    pub tokens: usize,
    pub warnings: Vec<String>,
}

fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            out.extend(collect_files(&entries)?);
        } else if path.is_file() {
            out.push(path.clone());
        } else {
            return Err(Error::Input(format!("{} does not exist", path.display())));
        }
    }
    Ok(out)
}

/// Reads one file as text: refuses binary files, decodes invalid UTF-8 lossily with a warning.
fn read_text(path: &Path, warnings: &mut Vec<String>) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Err(Error::Input(format!(
            "{} looks like a binary file, not text; give text files only",
            path.display()
        )));
    }
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            warnings.push(format!(
                "{} is not valid UTF-8; unreadable bytes were replaced",
                path.display()
            ));
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }
    })
}

impl Corpus {
    pub fn load(
        paths: &[PathBuf],
        tokenizer: &TextTokenizer,
        block_size: usize,
        val_split: f64,
        seed: u64,
    ) -> Result<Self> {
        if block_size < 2 {
            return Err(Error::Input(
                "the block size must be at least 2 tokens".into(),
            ));
        }
        if !(0.0..1.0).contains(&val_split) {
            return Err(Error::Input(format!(
                "the validation split must be in [0, 1) (got {val_split})"
            )));
        }
        let mut warnings = Vec::new();
        let mut ids = Vec::new();
        for file in collect_files(paths)? {
            let text = read_text(&file, &mut warnings)?;
            if text.trim().is_empty() {
                continue;
            }
            ids.extend(tokenizer.encode(&text)?);
            ids.push(END_OF_TEXT);
        }
        if ids.is_empty() {
            return Err(Error::Input(
                "the corpus is empty: the files hold no text".into(),
            ));
        }
        if ids.len() < block_size + 1 {
            return Err(Error::Input(format!(
                "the corpus has {} tokens, shorter than one block of {}; add text or lower --block-size",
                ids.len(),
                block_size + 1
            )));
        }
        let mut blocks: Vec<Vec<u32>> = (0..=(ids.len() - block_size - 1))
            .step_by(block_size)
            .map(|s| ids[s..s + block_size + 1].to_vec())
            .collect();
        blocks.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let n_val = if val_split > 0.0 && blocks.len() >= 2 {
            ((blocks.len() as f64 * val_split).round() as usize).clamp(1, blocks.len() - 1)
        } else {
            0
        };
        let val = blocks.split_off(blocks.len() - n_val);
        Ok(Self {
            train: blocks,
            val,
            tokens: ids.len(),
            warnings,
        })
    }
}
