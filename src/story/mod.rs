//! Story text that needs no model: sentences, pages and prompt styling.
//! Depends on nothing else in the crate.

pub mod sentences;
