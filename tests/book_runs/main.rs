//! `book` as a hostile or unlucky user runs it, on the tiny fixture models: two resumes of one
//! book at once, bad settings, a resume with corrected settings, pages saved without a picture,
//! Ctrl-C, --pages, a Chinese story, and output paths that cannot be written.

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod pause;
mod resume;
mod runs;
