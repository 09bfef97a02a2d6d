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
