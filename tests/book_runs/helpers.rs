//! Running the binary on the tiny fixture models, and books saved as `book` leaves them.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::fixture;
use storybook_studio::book::BookRecipe;
use storybook_studio::ml::illustrate::IllustrateOptions;
use storybook_studio::ml::sampling::SamplingOptions;
use storybook_studio::store::{Library, NewBook, NewPage};

pub fn studio(args: &[&str], cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_storybook-studio"));
    cmd.args(args)
        .current_dir(cwd)
        .env("HF_HOME", cwd.join("hf-home"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("STORYBOOK_MODELS")
        .env_remove("STORYBOOK_LIBRARY");
    cmd
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn failure(out: &Output) -> String {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "expected a failure: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

pub fn success(out: &Output) -> String {
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    err
}

/// The model arguments, as owned strings.
pub fn models() -> Vec<String> {
    let mut v = Vec::new();
    for (flag, rel) in [
        ("--gpt2", "gpt2-tiny"),
        ("--clip", "clip-tiny"),
        ("--vqgan", "vqgan-tiny"),
    ] {
        v.push(flag.to_string());
        v.push(fixture(rel).to_str().unwrap().to_string());
    }
    v
}

pub fn args<'a>(base: &'a [&'a str], extra: &'a [String]) -> Vec<&'a str> {
    base.iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .collect()
}

pub fn one_pixel_png(shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(32, 32, image::Rgb([shade, 60, 90]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A book as `book` saves it, with `planned` sentences, the first `drawn` of them saved with a
/// picture and the next `bare` saved without one; drawn with `illustration`.
pub fn resumable_book(
    library: &Path,
    planned: usize,
    drawn: usize,
    bare: usize,
    illustration: IllustrateOptions,
) -> i64 {
    let sentences: Vec<String> = (0..planned)
        .map(|i| format!("The fox saw lantern number {i}."))
        .collect();
    let recipe = BookRecipe {
        sampling: SamplingOptions::default(),
        illustration,
        planned_sentences: sentences.clone(),
        story_text: sentences.join(" "),
        keep_frames: false,
    };
    let book = NewBook {
        title: "Lanterns".into(),
        prompt: "The fox saw".into(),
        story_settings: serde_json::to_value(&recipe).unwrap(),
        planned_pages: planned,
        ..NewBook::default()
    };
    let pages: Vec<NewPage> = sentences
        .iter()
        .take(drawn + bare)
        .enumerate()
        .map(|(i, s)| NewPage {
            sentence: s.clone(),
            settings: serde_json::to_value(&recipe.illustration).unwrap(),
            png: (i < drawn).then(|| one_pixel_png(i as u8 * 40)),
            ..NewPage::default()
        })
        .collect();
    Library::open(library)
        .unwrap()
        .create_book(&book, &pages)
        .unwrap()
}

pub fn small(iterations: usize) -> IllustrateOptions {
    IllustrateOptions {
        width: 32,
        height: 32,
        iterations,
        cutn: 2,
        preview_every: 0,
        ..IllustrateOptions::default()
    }
}

/// Waits until book 1 of `library` has `pages` pages, or two minutes pass.
pub fn wait_for_pages(library: &Path, pages: usize) -> usize {
    let started = Instant::now();
    loop {
        let n = library
            .exists()
            .then(|| {
                Library::open(library)
                    .ok()?
                    .book(1)
                    .ok()
                    .map(|b| b.pages.len())
            })
            .flatten()
            .unwrap_or(0);
        if n >= pages || started.elapsed() > Duration::from_secs(120) {
            return n;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
