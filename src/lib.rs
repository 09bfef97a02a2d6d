//! Storybook Studio: turn a few words into an illustrated storybook, and a picture back into words.
//!
//! The crate is a library plus a thin binary, so tests can drive every layer:
//! - [`ml`]: candle kernels, models, weight loading and the tasks above them (never imports a
//!   UI toolkit or the store);
//! - [`story`]: text handling that needs no model, such as splitting a story into pages;
//! - [`app`]: the eframe studio window; talks to the engine only through [`worker`];
//! - [`worker`]: named threads that own the models and the library, typed commands and events;
//! - [`cli`]: one file per subcommand; parses, calls the library, prints text or JSON;
//! - [`bench`]: the `bench` subcommand's measurements, kept out of the engine and the store.
//!
//! README "Architecture" gives the import rules; `tests/layers.rs` checks them.

pub mod app;
pub mod bench;
pub mod book;
pub mod cli;
pub mod export;
pub mod memory;
pub mod ml;
pub mod store;
pub mod story;
pub mod worker;
