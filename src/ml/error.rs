//! Errors of the ML layer. Each variant reads as a sentence a user can act on.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Locate(#[from] crate::ml::weights::LocateError),

    #[error("could not read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path} is not a valid model config: {reason}")]
    Config { path: PathBuf, reason: String },

    #[error("{path} is not a usable safetensors file ({reason}); it may be truncated or still downloading")]
    Safetensors { path: PathBuf, reason: String },

    #[error("the checkpoint {path} does not match the model: {reason}")]
    Checkpoint { path: PathBuf, reason: String },

    #[error("could not load the tokenizer {path}: {reason}")]
    Tokenizer { path: PathBuf, reason: String },

    #[error("{0}")]
    Input(String),

    #[error("download of {repo}/{file} failed: {reason}")]
    Download {
        repo: String,
        file: String,
        reason: String,
    },

    #[error("cancelled")]
    Cancelled,

    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
