//! `storybook-studio library …`: the saved books, from the command line.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::anyhow;

use super::progress::{plural, TerminalDownload};
use super::GlobalArgs;
use crate::book::{regenerate_page, BookError, DrawModels};
use crate::ml::illustrate::Illustrator;
use crate::ml::weights::ModelKind;
use crate::store::{BookSummary, Create, Library, StoreError};
use crate::story::printable;

#[path = "library_export.rs"]
mod export;

/// How a command treats a library file that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// Reading or changing books: the library must exist, except the default one, which is
    /// started on first use. A mistyped --library path changes nothing on disk.
    Existing,
    /// Writing a new book: a library may be started in a folder that exists, or anywhere with
    /// --create.
    NewBook { create: bool },
}

/// Opens the library named by --library (or the default one) as `need` allows.
pub(super) fn open_library(global: &GlobalArgs, need: Need) -> anyhow::Result<Library> {
    let (path, chosen) = match &global.library {
        Some(p) => (p.clone(), true),
        None => (Library::default_path(), false),
    };
    let create = match (chosen, need) {
        (false, _) => Create::WithFolders,
        (true, Need::Existing) => Create::Never,
        (true, Need::NewBook { create: false }) => Create::InExistingFolder,
        (true, Need::NewBook { create: true }) => Create::WithFolders,
    };
    let existed = path.exists();
    let lib = Library::open_with(&path, create).map_err(|e| match e {
        StoreError::NoLibrary { .. } => anyhow!(
            "{e}, or start one there with `storybook-studio book PROMPT --library {} --create`",
            super::shell_word(&path)
        ),
        StoreError::NoFolder { .. } => anyhow!("{e}, or add --create to make the folder"),
        e => e.into(),
    })?;
    if !existed && !global.json {
        eprintln!("Started a new library at {}.", path.display());
    }
    Ok(lib)
}

#[derive(Debug, clap::Args)]
pub struct LibraryArgs {
    #[command(subcommand)]
    pub action: LibraryAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum LibraryAction {
    /// Books, newest first.
    List {
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One book: its pages and recipe.
    Show {
        id: i64,
    },
    /// Pages by their words, their meaning, or both (the default), best first.
    Search {
        text: String,
        #[arg(long, value_enum, default_value = "hybrid")]
        mode: super::library_search::ModeArg,
        /// all-MiniLM-L6-v2 folder, for meaning and hybrid search.
        #[arg(long, value_name = "DIR")]
        minilm: Option<PathBuf>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Pages whose pictures look most like IMAGE (CLIP), best first.
    Similar {
        image: PathBuf,
        #[arg(long, value_name = "DIR")]
        clip: Option<PathBuf>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Write a book as .html, .pdf or .epub (EPUB 3), or one page (with --page) as .png (its
    /// picture with its recipe) or .gif (its progress).
    Export {
        id: i64,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// For .png and .gif: the page (1-based) whose picture, or kept frames, to write.
        #[arg(long)]
        page: Option<usize>,
    },
    Rename {
        id: i64,
        title: String,
    },
    Duplicate {
        id: i64,
    },
    Delete {
        id: i64,
    },
    /// Redraw one page (1-based) with its recorded settings, or a new seed.
    Regenerate {
        id: i64,
        page: usize,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, value_name = "DIR")]
        clip: Option<PathBuf>,
        #[arg(long, value_name = "PATH")]
        vqgan: Option<PathBuf>,
    },
}

fn print_summaries(global: &GlobalArgs, books: &[BookSummary]) -> anyhow::Result<()> {
    if global.json {
        return super::print_json(&books);
    }
    if books.is_empty() {
        println!("No books.");
    }
    for b in books {
        let state = if b.pages_to_add() > 0 {
            format!(
                " (interrupted at {} of {}; resume with `book --resume {}`)",
                b.page_count, b.planned_pages, b.id
            )
        } else if b.unillustrated > 0 {
            format!(
                " ({} without a picture; `book --resume {}` draws them)",
                plural(b.unillustrated, "page"),
                b.id
            )
        } else {
            String::new()
        };
        println!(
            "{:>5}  {}  [{}]{state}",
            b.id,
            printable::line(&b.title),
            plural(b.page_count, "page")
        );
    }
    Ok(())
}

/// Converts a 1-based page number from the user to a position in a book of `count` pages.
fn position(book: i64, page: usize, count: usize) -> anyhow::Result<usize> {
    if page == 0 {
        anyhow::bail!("pages are numbered from 1");
    }
    if page > count {
        return Err(BookError::NoSuchPage { book, page, count }.into());
    }
    Ok(page - 1)
}

pub fn run(global: &GlobalArgs, args: LibraryArgs) -> anyhow::Result<()> {
    // Check what can be checked before the library is opened.
    if let LibraryAction::Export { out, page, .. } = &args.action {
        export::check_export(out, *page)?;
    }
    let mut lib = open_library(global, Need::Existing)?;
    match args.action {
        LibraryAction::List { offset, limit } => print_summaries(global, &lib.list(offset, limit)?),
        LibraryAction::Search {
            text,
            mode,
            minilm,
            limit,
        } => super::library_search::run_search(
            global,
            &mut lib,
            &text,
            mode,
            minilm.as_deref(),
            limit,
        ),
        LibraryAction::Similar { image, clip, limit } => {
            super::library_search::run_similar(global, &mut lib, &image, clip.as_ref(), limit)
        }
        LibraryAction::Show { id } => super::library_show::run_show(global, &lib, id),
        LibraryAction::Export { id, out, page } => export::run_export(global, &lib, id, &out, page),
        LibraryAction::Rename { id, title } => {
            lib.rename(id, title.trim())?;
            done(global, serde_json::json!({ "book_id": id, "title": title }))
        }
        LibraryAction::Duplicate { id } => {
            let copy = lib.duplicate(id)?;
            done(
                global,
                serde_json::json!({ "book_id": copy, "copied_from": id }),
            )
        }
        LibraryAction::Delete { id } => {
            lib.delete(id)?;
            done(global, serde_json::json!({ "deleted": id }))
        }
        LibraryAction::Regenerate {
            id,
            page,
            seed,
            clip,
            vqgan,
        } => {
            let book = lib.book(id)?;
            let pos = position(id, page, book.pages.len())?;
            let locator = global.locator();
            let device = crate::ml::device::open(&global.device)?;
            let mut dl = TerminalDownload::new(global.json);
            let clip_files = locator.locate(ModelKind::Clip, clip.as_deref(), &mut dl)?;
            let vq_files = locator.locate(ModelKind::Vqgan, vqgan.as_deref(), &mut dl)?;
            let (mut clip, clip_tok) = crate::ml::models::load::clip(&clip_files, &device)?;
            let mut vq = crate::ml::models::load::vqgan(&vq_files, &device)?;
            // The page is redrawn in the precision it recorded, where this machine can.
            let recorded = book.pages[pos]
                .settings
                .get("precision")
                .and_then(|p| serde_json::from_value(p.clone()).ok())
                .unwrap_or_default();
            let (_, fallback) =
                crate::ml::illustrate::precision::prepare(&mut clip, &mut vq, recorded)?;
            if let Some(w) = fallback {
                eprintln!("warning: {w}");
            }
            // Redrawing writes no text, so GPT-2 is not loaded.
            let illustrator = Illustrator {
                clip: &clip,
                tokenizer: Some(&clip_tok),
                vqgan: &vq,
            };
            let cancel = AtomicBool::new(false);
            let models = DrawModels {
                illustrator: &illustrator,
                model_ids: &book.model_ids,
            };
            let result = regenerate_page(&mut lib, &models, id, pos, seed, &cancel)?;
            done(
                global,
                serde_json::json!({ "book_id": id, "page": page, "similarity": result.similarity }),
            )
        }
    }
}

fn done(global: &GlobalArgs, value: serde_json::Value) -> anyhow::Result<()> {
    if global.json {
        super::print_json(&value)
    } else {
        println!("Done.");
        Ok(())
    }
}
