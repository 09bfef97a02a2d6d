//! `storybook-studio book PROMPT`: a whole illustrated book, saved page by page.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::progress::TerminalDownload;
use super::story::StoryArgs;
use super::GlobalArgs;
use crate::book::{create_book, resume_book, BookEvent, BookModels, PageResult};
use crate::ml::illustrate::{IllustrateOptions, Illustrator};
use crate::ml::weights::ModelKind;

#[derive(Debug, clap::Args)]
pub struct BookArgs {
    /// Story options, as for `story` (the prompt is required unless --resume is given).
    #[command(flatten)]
    pub story: StoryArgs,
    /// Continue an interrupted book instead of starting one.
    #[arg(long, value_name = "ID")]
    pub resume: Option<i64>,
    #[arg(long, default_value_t = 6)]
    pub pages: usize,
    #[arg(long, value_name = "DIR")]
    pub clip: Option<PathBuf>,
    #[arg(long, value_name = "PATH")]
    pub vqgan: Option<PathBuf>,
    #[arg(long, default_value = "256x256", value_parser = super::illustrate::parse_size)]
    pub size: (usize, usize),
    #[arg(long, default_value_t = 100)]
    pub iterations: usize,
    #[arg(long, default_value_t = 32)]
    pub cutn: usize,
    /// Seed of the first page's illustration; page n uses seed + n.
    #[arg(long = "image-seed", default_value_t = 0)]
    pub image_seed: u64,
    #[arg(long, default_value = "")]
    pub style_prefix: String,
    #[arg(long, default_value = "")]
    pub style_suffix: String,
    /// Keep progress frames (every 10 steps) for an animated GIF export.
    #[arg(long)]
    pub keep_frames: bool,
    /// Also export the finished book (.html or .pdf).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Serialize)]
struct Report {
    book_id: i64,
    pages: Vec<PageResult>,
    out: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: BookArgs) -> anyhow::Result<()> {
    let mut lib = global.open_library()?;
    if args.resume.is_none() && args.story.prompt.trim().is_empty() {
        anyhow::bail!("the prompt is empty; type a few words to start the book");
    }
    if let Some(out) = &args.out {
        let ok = matches!(
            out.extension().and_then(|e| e.to_str()),
            Some("html" | "htm" | "pdf")
        );
        anyhow::ensure!(ok, "{} should end in .html or .pdf", out.display());
    }
    let sampling = args.story.sampling();
    sampling.validate().map_err(anyhow::Error::msg)?;
    let locator = global.locator();
    let device = crate::ml::device::open(&global.device)?;
    let mut dl = TerminalDownload::new(global.json);
    let gpt2_files = locator.locate(ModelKind::Gpt2, args.story.gpt2.as_deref(), &mut dl)?;
    let clip_files = locator.locate(ModelKind::Clip, args.clip.as_deref(), &mut dl)?;
    let vq_files = locator.locate(ModelKind::Vqgan, args.vqgan.as_deref(), &mut dl)?;
    let (gpt2, gpt2_tokenizer) = crate::ml::models::load::gpt2(&gpt2_files, &device)?;
    let (clip, clip_tokenizer) = crate::ml::models::load::clip(&clip_files, &device)?;
    let vqgan = crate::ml::models::load::vqgan(&vq_files, &device)?;
    let models = BookModels {
        gpt2: &gpt2,
        gpt2_tokenizer: &gpt2_tokenizer,
        illustrator: Illustrator {
            clip: &clip,
            tokenizer: Some(&clip_tokenizer),
            vqgan: &vqgan,
        },
        model_ids: serde_json::json!({
            "gpt2": gpt2_files.location.display().to_string(),
            "clip": clip_files.location.display().to_string(),
            "vqgan": vq_files.location.display().to_string(),
        }),
    };
    let illustration = IllustrateOptions {
        width: args.size.0,
        height: args.size.1,
        iterations: args.iterations,
        cutn: args.cutn,
        seed: args.image_seed,
        style_prefix: args.style_prefix.clone(),
        style_suffix: args.style_suffix.clone(),
        preview_every: if args.keep_frames { 10 } else { 0 },
        ..IllustrateOptions::default()
    };
    let bar = if global.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg}\n{bar:30} {pos}/{len} steps  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let on_event = |e: BookEvent| match e {
        BookEvent::StoryWritten { sentences } => {
            bar.println(format!("The story has {} pages.", sentences.len()));
        }
        BookEvent::PageStarted { position, sentence } => {
            bar.reset();
            bar.set_length(illustration.iterations as u64);
            bar.set_message(format!("Page {}: {sentence}", position + 1));
        }
        BookEvent::Step { report, .. } => bar.set_position(report.step as u64),
        BookEvent::PageSaved {
            position,
            similarity,
        } => {
            bar.println(format!(
                "Page {} saved (similarity {similarity:.3}).",
                position + 1
            ));
        }
    };
    let cancel = AtomicBool::new(false);
    let (book_id, pages) = match args.resume {
        Some(id) => (id, resume_book(&mut lib, &models, id, &cancel, on_event)?),
        None => create_book(
            &mut lib,
            &models,
            &args.story.prompt,
            (sampling, illustration.clone(), args.pages, args.keep_frames),
            &cancel,
            on_event,
        )?,
    };
    bar.finish_and_clear();
    if let Some(out) = &args.out {
        crate::export::export_book(&lib.book(book_id)?, out).map_err(anyhow::Error::msg)?;
    }
    let report = Report {
        book_id,
        pages,
        out: args.out.clone(),
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
