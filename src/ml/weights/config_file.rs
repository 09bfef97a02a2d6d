//! Reading a model's JSON config: parse, then the model's own checks, each failure a sentence
//! that names the file.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::ml::{Error, Result};

pub fn read_json<T: DeserializeOwned>(
    path: &Path,
    validate: impl FnOnce(&T) -> std::result::Result<(), String>,
) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| Error::Config {
        path: path.to_path_buf(),
        reason,
    };
    let cfg: T = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    validate(&cfg).map_err(bad)?;
    Ok(cfg)
}

/// A `tokenizer.json`, its failure a sentence that names the file.
pub fn read_tokenizer(path: &Path) -> Result<tokenizers::Tokenizer> {
    tokenizers::Tokenizer::from_file(path).map_err(|e| Error::Tokenizer {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Checks sizes read from a config: each `(name, value, most)` must be in `1..=most`. The bounds
/// are far above any model this app loads (GPT-2 XL: 48 layers, 1600 wide, 50257 tokens), but
/// keep a garbled file from asking for more memory than exists, or for a trillion layers.
pub fn check_sizes(sizes: &[(&str, usize, usize)]) -> std::result::Result<(), String> {
    for &(name, value, most) in sizes {
        if value == 0 {
            return Err(format!("{name} must be positive"));
        }
        if value > most {
            return Err(format!(
                "{name} is {value}, beyond any model this can load (at most {most})"
            ));
        }
    }
    Ok(())
}

/// Generous upper bounds for [`check_sizes`].
pub mod most {
    pub const VOCAB: usize = 1 << 20;
    pub const POSITIONS: usize = 1 << 16;
    pub const WIDTH: usize = 1 << 15;
    pub const INNER: usize = 1 << 17;
    pub const LAYERS: usize = 512;
    pub const HEADS: usize = 1024;
    pub const IMAGE_SIDE: usize = 1 << 14;
    pub const CHANNELS: usize = 4096;
}

#[cfg(test)]
mod tests {
    use super::check_sizes;

    #[test]
    fn sizes_must_be_positive_and_bounded() {
        assert!(check_sizes(&[("a", 1, 1), ("b", 512, 512)]).is_ok());
        let zero = check_sizes(&[("n_layer", 0, 10)]).unwrap_err();
        assert_eq!(zero, "n_layer must be positive");
        let huge = check_sizes(&[("n_layer", 99_999_999_999, 512)]).unwrap_err();
        assert!(
            huge.contains("n_layer is 99999999999") && huge.contains("512"),
            "{huge}"
        );
    }
}
