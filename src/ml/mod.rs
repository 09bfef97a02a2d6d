//! Machine learning, in layers: each may use the ones listed above it, never one below.
//!
//! - [`kernels`]: frozen and fused ops, Winograd, GEMM helpers, fast math (candle only);
//! - [`weights`]: locating, downloading, checking and opening weight files and configs;
//! - [`models`]: one folder per model family (config, checkpoint checks, forward pass);
//! - tasks: [`generate`] with [`sampling`] and [`banned`] (writing), [`illustrate`], [`words`],
//!   [`finetune`].
//!
//! [`error`], [`device`] and [`image_io`] serve every layer. Nothing here imports the UI or the
//! store.

pub mod banned;
pub mod device;
pub mod error;
pub mod finetune;
pub mod generate;
pub mod illustrate;
pub mod image_io;
pub mod kernels;
pub mod models;
pub mod sampling;
pub mod weights;
pub mod words;

pub use error::{Error, Result};
