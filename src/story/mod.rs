//! Story text that needs no model: sentences, pages and prompt styling, and text made safe
//! to print. Depends on nothing else in the crate.

pub mod printable;
pub mod sentences;
