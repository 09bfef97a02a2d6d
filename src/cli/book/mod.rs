//! `storybook-studio book PROMPT`: a whole illustrated book, saved page by page, or
//! `book --resume ID` to finish one. Every setting is checked before anything is written;
//! only one run at a time draws a book's pages; Ctrl-C stops cleanly and says how to resume.

use std::path::PathBuf;

use anyhow::anyhow;
use serde::Serialize;

mod drawing;
mod resume;
mod text;

use super::interrupt;
use super::library::{open_library, Need};
use super::progress::plural;
use super::progress::BookProgress;
use super::story::StoryArgs;
use super::GlobalArgs;
use crate::book::{
    check_illustration, check_pages, start_book, write_story, BookModels, BookRequest, DrawModels,
    PageResult,
};
use crate::ml::illustrate::IllustrateOptions;
use crate::store::Library;
use drawing::{draw_all, load_drawing, Interrupted};

const DEFAULT_PAGES: usize = 6;
const DEFAULT_SIZE: (usize, usize) = (256, 256);
const DEFAULT_ITERATIONS: usize = 100;
const DEFAULT_CUTN: usize = 32;

#[derive(Debug, clap::Args)]
pub struct BookArgs {
    /// Story options, as for `story` (the prompt is required unless --resume is given).
    #[command(flatten)]
    pub story: StoryArgs,
    /// Continue an interrupted book instead of starting one. Drawing options given with it
    /// (--size, --iterations, --cutn, --image-seed, --style-*, --keep-frames) replace the saved
    /// ones for the pages still to draw.
    #[arg(long, value_name = "ID")]
    pub resume: Option<i64>,
    /// How many pages (1 to 500) [default: 6]. The story is continued until it has that many
    /// sentences, or the book says why it has fewer.
    #[arg(long)]
    pub pages: Option<usize>,
    #[arg(long, value_name = "DIR")]
    pub clip: Option<PathBuf>,
    #[arg(long, value_name = "PATH")]
    pub vqgan: Option<PathBuf>,
    /// WIDTHxHEIGHT of each picture [default: 256x256]
    #[arg(long, value_parser = super::illustrate::parse_size)]
    pub size: Option<(usize, usize)>,
    /// Steps per picture [default: 100]
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Cutouts per step (1 to 256) [default: 32]
    #[arg(long)]
    pub cutn: Option<usize>,
    /// Seed of the first page's illustration; page n uses seed + n [default: 0]
    #[arg(long = "image-seed")]
    pub image_seed: Option<u64>,
    #[arg(long)]
    pub style_prefix: Option<String>,
    #[arg(long)]
    pub style_suffix: Option<String>,
    /// f32, or bf16: CLIP's image tower and the VQGAN decoder's wide layers in bf16, faster
    /// on CPUs with AMX or a fast AVX512-BF16 (elsewhere it says so and draws in f32)
    /// [default: f32]
    #[arg(long)]
    pub precision: Option<crate::ml::illustrate::Precision>,
    /// Keep progress frames (every 10 steps) for an animated GIF export.
    #[arg(long)]
    pub keep_frames: bool,
    /// Also export the finished book (.html, .pdf or .epub); checked before any work starts.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Make the pages from your own text instead of writing a story: a UTF-8 file, or - for
    /// standard input. GPT-2 is not needed; a prompt, if given, becomes the title.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub text: Option<PathBuf>,
    /// With --text: one page per sentence, or per paragraph (blank-line separated).
    #[arg(long, value_enum, default_value = "sentence", requires = "text")]
    pub pages_by: text::PagesByArg,
    /// Start the library named by --library, and its folders, if it does not exist yet.
    #[arg(long)]
    pub create: bool,
}

#[derive(Serialize)]
struct Report {
    book_id: i64,
    pages: Vec<PageResult>,
    out: Option<PathBuf>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    /// Settings a resume replaced, as "cutn 0 → 4".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    changed: Vec<String>,
}
pub fn run(global: &GlobalArgs, args: BookArgs) -> anyhow::Result<()> {
    interrupt::install();
    let result = run_book(global, args);
    // Everything the run held (the lease, the library) is released by now.
    if let Some(stop) = result
        .as_ref()
        .err()
        .and_then(|e| e.downcast_ref::<Interrupted>())
    {
        if global.json {
            let doc = serde_json::json!({
                "error": stop.to_string(),
                "interrupted": true,
                "book_id": stop.book_id,
                "paused_page": stop.paused.map(|(page, _)| page + 1),
                "paused_step": stop.paused.map(|(_, step)| step),
            });
            println!("{doc}");
        }
        eprintln!("{stop}.");
        std::process::exit(130);
    }
    result
}

fn run_book(global: &GlobalArgs, args: BookArgs) -> anyhow::Result<()> {
    // Everything typed is checked before anything is loaded or written.
    if let Some(out) = &args.out {
        crate::export::check_writable(out).map_err(anyhow::Error::msg)?;
        crate::export::book_format(out).map_err(anyhow::Error::msg)?;
    }
    match args.resume {
        Some(id) => resume::resume(global, &args, id),
        None => create(global, &args),
    }
}

fn create(global: &GlobalArgs, args: &BookArgs) -> anyhow::Result<()> {
    if args.story.prompt.trim().is_empty() && args.text.is_none() {
        anyhow::bail!(
            "the prompt is empty; type a few words to start the book, or give your own story \
             with --text FILE"
        );
    }
    let pages = args.pages.unwrap_or(DEFAULT_PAGES);
    check_pages(pages).map_err(anyhow::Error::msg)?;
    let sampling = args.story.sampling();
    sampling.validate().map_err(anyhow::Error::msg)?;
    let (width, height) = args.size.unwrap_or(DEFAULT_SIZE);
    let illustration = IllustrateOptions {
        width,
        height,
        iterations: args.iterations.unwrap_or(DEFAULT_ITERATIONS),
        cutn: args.cutn.unwrap_or(DEFAULT_CUTN),
        seed: args.image_seed.unwrap_or(0),
        style_prefix: args.style_prefix.clone().unwrap_or_default(),
        style_suffix: args.style_suffix.clone().unwrap_or_default(),
        preview_every: if args.keep_frames { 10 } else { 0 },
        precision: args.precision.unwrap_or_default(),
        ..IllustrateOptions::default()
    };
    check_illustration(&illustration, None).map_err(anyhow::Error::msg)?;
    let request = BookRequest {
        prompt: args.story.prompt.clone(),
        sampling,
        illustration,
        pages,
        keep_frames: args.keep_frames,
    };
    if let Some(path) = &args.text {
        return text::create_from_text(global, args, path, request);
    }

    let mut lib = open_library(
        global,
        Need::NewBook {
            create: args.create,
        },
    )?;
    let mut story_model = super::story::load_story_model(global, args.story.gpt2.as_deref())?;
    let weights_warning = story_model.model.pack_for_writing(args.story.weights);
    let mut drawing = load_drawing(global, args)?;
    let mut warnings = drawing.check(&request.illustration)?;
    warnings.extend(weights_warning);
    let illustrator = drawing.illustrator();
    let mut ids = drawing.ids.clone();
    ids["gpt2"] = serde_json::Value::String(story_model.location.display().to_string());
    let models = BookModels {
        gpt2: &story_model.model,
        gpt2_tokenizer: &story_model.tokenizer,
        illustrator: drawing.illustrator(),
        model_ids: ids.clone(),
    };
    let mut progress = BookProgress::new(global.json);
    let cancel = interrupt::flag();
    progress.message("Writing the story…");
    let story = match write_story(&models, &request.prompt, &request.sampling, pages, cancel) {
        Err(e) if e.is_cancelled() || interrupt::interrupted() => {
            return Err(Interrupted {
                book_id: None,
                saved: 0,
                planned: 0,
                library: lib.path().to_path_buf(),
                paused: None,
            }
            .into())
        }
        other => other?,
    };
    warnings.extend(story.warnings.iter().cloned());
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    progress.message(&format!(
        "The story has {}.",
        plural(story.sentences.len(), "page")
    ));
    let (book_id, mut lease) = start_book(&mut lib, &request, &story, &ids)?;
    let draw = DrawModels {
        illustrator: &illustrator,
        model_ids: &ids,
    };
    let pages = draw_all(&mut lib, &mut lease, &draw, &mut progress)?;
    drop(lease);
    finish(global, args, &lib, book_id, pages, warnings, Vec::new())
}

/// Exports the book if asked, then reports.
pub(super) fn finish(
    global: &GlobalArgs,
    args: &BookArgs,
    lib: &Library,
    book_id: i64,
    pages: Vec<PageResult>,
    warnings: Vec<String>,
    changed: Vec<String>,
) -> anyhow::Result<()> {
    let mut warnings = warnings;
    if let Some(out) = &args.out {
        let warning = crate::export::export_book(&lib.book(book_id)?, out).map_err(|e| {
            anyhow!(
                "book {book_id} is saved in the library {}, but {e}; export it again with \
                 `storybook-studio library export {book_id} --out FILE`",
                lib.path().display()
            )
        })?;
        if let (Some(w), false) = (&warning, global.json) {
            eprintln!("warning: {w}.");
        }
        warnings.extend(warning);
    }
    let report = Report {
        book_id,
        pages,
        out: args.out.clone(),
        warnings,
        changed,
    };
    if global.json {
        return super::print_json(&report);
    }
    println!("Book {book_id} saved in {}.", lib.path().display());
    if let Some(out) = &report.out {
        println!("Exported to {}.", out.display());
    }
    Ok(())
}
