//! Drawing a leased book's pages for `book`: the CLIP and VQGAN models it needs, the progress
//! it shows, and Ctrl-C turned into a sentence that says how to resume.

use std::path::PathBuf;

use anyhow::anyhow;

use super::super::interrupt;
use super::super::progress::{BookProgress, TerminalDownload};
use super::super::GlobalArgs;
use super::BookArgs;
use crate::book::{check_illustration, draw_pages, BookError, BookEvent, DrawModels, PageResult};
use crate::ml::illustrate::{fit_size, IllustrateOptions, Illustrator};
use crate::ml::weights::ModelKind;
use crate::store::{Lease, Library};

/// Ctrl-C stopped the run; the book's saved pages are kept.
#[derive(Debug)]
pub(super) struct Interrupted {
    pub book_id: Option<i64>,
    pub saved: usize,
    pub planned: usize,
    pub library: PathBuf,
    /// The page (0-based) and step a checkpoint was saved at, when a page was mid-way.
    pub paused: Option<(usize, usize)>,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(id), Some((page, step))) = (self.book_id, self.paused) {
            return write!(
                f,
                "paused at step {step} of page {}: book {id} has {} of {} pages finished and \
                 the page's progress saved; go on with `storybook-studio book --resume {id} \
                 --library {}`",
                page + 1,
                self.saved,
                self.planned,
                super::super::shell_word(&self.library)
            );
        }
        match self.book_id {
            Some(id) => write!(
                f,
                "stopped by Ctrl-C: book {id} has {} of {} pages saved; finish it with \
                 `storybook-studio book --resume {id} --library {}`",
                self.saved,
                self.planned,
                super::super::shell_word(&self.library)
            ),
            None => write!(
                f,
                "stopped by Ctrl-C before the book was saved; nothing was written"
            ),
        }
    }
}

impl std::error::Error for Interrupted {}

/// The clip and vqgan models, found and loaded.
pub(super) struct Drawing {
    pub clip: crate::ml::models::clip::Clip,
    pub clip_tokenizer: crate::ml::models::clip::tokenize::ClipTokenizer,
    pub vqgan: crate::ml::models::vqgan::VqModel,
    pub ids: serde_json::Value,
}

pub(super) fn load_drawing(global: &GlobalArgs, args: &BookArgs) -> anyhow::Result<Drawing> {
    let locator = global.locator();
    let device = crate::ml::device::open(&global.device)?;
    let mut dl = TerminalDownload::new(global.json);
    let clip_files = locator.locate(ModelKind::Clip, args.clip.as_deref(), &mut dl)?;
    let vq_files = locator.locate(ModelKind::Vqgan, args.vqgan.as_deref(), &mut dl)?;
    let (clip, clip_tokenizer) = crate::ml::models::load::clip(&clip_files, &device)?;
    let vqgan = crate::ml::models::load::vqgan(&vq_files, &device)?;
    Ok(Drawing {
        clip,
        clip_tokenizer,
        vqgan,
        ids: serde_json::json!({
            "clip": clip_files.location.display().to_string(),
            "vqgan": vq_files.location.display().to_string(),
        }),
    })
}

impl Drawing {
    pub fn illustrator(&self) -> Illustrator<'_> {
        Illustrator {
            clip: &self.clip,
            tokenizer: Some(&self.clip_tokenizer),
            vqgan: &self.vqgan,
        }
    }

    /// Checks the settings against the model's grid, and sets CLIP and VQGAN up in the precision they
    /// ask; a size that will be rounded, and bf16 on a CPU that cannot run it, are said once. The
    /// options stay as asked (a book's recipe keeps them): each page records the precision
    /// that ran, which the illustrator knows.
    pub fn check(&mut self, opts: &IllustrateOptions) -> anyhow::Result<Vec<String>> {
        let grid = self.vqgan.config().downscale();
        check_illustration(opts, Some(grid)).map_err(anyhow::Error::msg)?;
        let (_, fallback) = crate::ml::illustrate::precision::prepare(
            &mut self.clip,
            &mut self.vqgan,
            opts.precision,
        )?;
        Ok(fit_size(opts.width, opts.height, grid)?
            .2
            .into_iter()
            .chain(fallback)
            .collect())
    }
}

/// Draws the leased book's missing pages with progress; Ctrl-C becomes [`Interrupted`].
pub(super) fn draw_all(
    lib: &mut Library,
    lease: &mut Lease,
    models: &DrawModels,
    progress: &mut BookProgress,
) -> anyhow::Result<Vec<PageResult>> {
    let book_id = lease.book_id();
    let mut paused = None;
    let result = draw_pages(lib, lease, models, interrupt::flag(), |e| match e {
        BookEvent::Plan {
            book_id,
            total,
            to_draw,
            iterations,
        } => progress.plan(book_id, total, to_draw.len(), iterations),
        BookEvent::PageStarted { position, sentence } => progress.page_started(position, sentence),
        BookEvent::Step { report, .. } => {
            progress.step(report.step, report.similarity, report.seconds_left)
        }
        BookEvent::PageSaved {
            position,
            similarity,
        } => progress.page_saved(position, similarity),
        BookEvent::Resumed { position, step } => {
            progress.message(&format!("Page {} goes on from step {step}.", position + 1))
        }
        BookEvent::Restarted { position, step } => progress.message(&format!(
            "Page {} starts again: its pause at step {step} was saved for another sentence or \
             other settings.",
            position + 1
        )),
        BookEvent::Paused { position, step } => paused = Some((position, step)),
    });
    progress.finish();
    match result {
        Err(e) if e.is_cancelled() || interrupt::interrupted() => {
            let book = lib.book(book_id)?;
            Err(Interrupted {
                book_id: Some(book_id),
                saved: book.pages.len() - book.unillustrated(),
                planned: book.planned_pages.max(book.pages.len()),
                library: lib.path().to_path_buf(),
                paused,
            }
            .into())
        }
        Err(BookError::Store(e)) => Err(anyhow!(
            "{e}; book {book_id} keeps the pages saved so far (`library show {book_id}`)"
        )),
        other => Ok(other?),
    }
}
