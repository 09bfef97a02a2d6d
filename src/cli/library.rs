//! `storybook-studio library …`: the saved books, from the command line.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use super::progress::TerminalDownload;
use super::GlobalArgs;
use crate::book::regenerate_page;
use crate::ml::illustrate::Illustrator;
use crate::ml::weights::ModelKind;
use crate::store::BookSummary;

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
    /// Books whose title, sentences or prompt contain every word.
    Search {
        text: String,
    },
    /// Write a book as .html or .pdf, or a page's progress as .gif (with --page).
    Export {
        id: i64,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// For .gif: the page (1-based) whose kept frames to animate.
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
        let state = if b.page_count < b.planned_pages {
            format!(
                " (interrupted at {} of {}; resume with `book --resume {}`)",
                b.page_count, b.planned_pages, b.id
            )
        } else {
            String::new()
        };
        println!("{:>5}  {}  [{} pages]{state}", b.id, b.title, b.page_count);
    }
    Ok(())
}

/// Converts a 1-based page number from the user to a position.
fn position(page: usize) -> anyhow::Result<usize> {
    page.checked_sub(1)
        .ok_or_else(|| anyhow::anyhow!("pages are numbered from 1"))
}

pub fn run(global: &GlobalArgs, args: LibraryArgs) -> anyhow::Result<()> {
    let mut lib = global.open_library()?;
    match args.action {
        LibraryAction::List { offset, limit } => print_summaries(global, &lib.list(offset, limit)?),
        LibraryAction::Search { text } => print_summaries(global, &lib.search(&text, 100)?),
        LibraryAction::Show { id } => {
            let book = lib.book(id)?;
            if global.json {
                return super::print_json(&book);
            }
            println!("{} (book {id})\nprompt: {}", book.title, book.prompt);
            for p in &book.pages {
                let sim = p
                    .similarity
                    .map(|s| format!("{s:.3}"))
                    .unwrap_or("-".into());
                println!(
                    "{:>3}. {}  [seed {}, similarity {sim}]",
                    p.position + 1,
                    p.sentence,
                    p.seed
                );
            }
            if !book.is_complete() {
                println!(
                    "Interrupted: {} of {} pages.",
                    book.pages.len(),
                    book.planned_pages
                );
            }
            println!("Open it in the studio: storybook-studio gui --open-book {id} [--tab read]");
            Ok(())
        }
        LibraryAction::Export { id, out, page } => {
            let book = lib.book(id)?;
            let is_gif = out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gif"));
            if is_gif {
                let page =
                    page.ok_or_else(|| anyhow::anyhow!("a GIF shows one page: add --page N"))?;
                let frames: Vec<Vec<u8>> = lib
                    .frames(id, position(page)?)?
                    .into_iter()
                    .map(|(_, png)| png)
                    .collect();
                let gif =
                    crate::export::gif::progress_gif(&frames, 120).map_err(anyhow::Error::msg)?;
                crate::export::write_atomically(&out, &gif).map_err(anyhow::Error::msg)?;
            } else {
                crate::export::export_book(&book, &out).map_err(anyhow::Error::msg)?;
            }
            if global.json {
                return super::print_json(&serde_json::json!({ "book_id": id, "out": out }));
            }
            println!("Exported book {id} to {}.", out.display());
            Ok(())
        }
        LibraryAction::Rename { id, title } => {
            lib.rename(id, &title)?;
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
            let pos = position(page)?;
            let book = lib.book(id)?;
            if pos >= book.pages.len() {
                return Err(crate::store::StoreError::PageOutOfRange {
                    book: id,
                    page: pos,
                    count: book.pages.len(),
                }
                .into());
            }
            let locator = global.locator();
            let device = crate::ml::device::open(&global.device)?;
            let mut dl = TerminalDownload::new(global.json);
            let clip_files = locator.locate(ModelKind::Clip, clip.as_deref(), &mut dl)?;
            let vq_files = locator.locate(ModelKind::Vqgan, vqgan.as_deref(), &mut dl)?;
            let (clip, clip_tok) = crate::ml::load::clip(&clip_files, &device)?;
            let vq = crate::ml::load::vqgan(&vq_files, &device)?;
            // Redrawing writes no text, so GPT-2 is not loaded.
            let illustrator = Illustrator {
                clip: &clip,
                tokenizer: Some(&clip_tok),
                vqgan: &vq,
            };
            let cancel = AtomicBool::new(false);
            let result = regenerate_page(
                &mut lib,
                &illustrator,
                &book.model_ids,
                id,
                pos,
                seed,
                &cancel,
            )?;
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
