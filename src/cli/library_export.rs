//! `library export`: a whole book as .html, .pdf or .epub, or one page (--page N) as .png (its
//! picture with its recipe) or .gif (its progress), chosen by the file name's extension.

use std::path::Path;

use anyhow::anyhow;

use super::super::GlobalArgs;
use crate::store::Library;

/// What a file name asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Book,
    Gif,
    Png,
}

fn target(out: &Path) -> Target {
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext.eq_ignore_ascii_case("gif") {
        Target::Gif
    } else if ext.eq_ignore_ascii_case("png") {
        Target::Png
    } else {
        Target::Book
    }
}

/// An export's file name and --page agree, and the file can be written.
pub(super) fn check_export(out: &Path, page: Option<usize>) -> anyhow::Result<()> {
    crate::export::check_writable(out).map_err(anyhow::Error::msg)?;
    match (target(out), page) {
        (Target::Gif, None) => {
            anyhow::bail!("a .gif shows one page's progress: add --page N to choose it")
        }
        (Target::Png, None) => {
            anyhow::bail!("a .png holds one page's picture: add --page N to choose it")
        }
        (Target::Book, _) => {
            crate::export::book_format(out)
                .map_err(|e| anyhow!("{e}, or .png or .gif for one page (with --page N)"))?;
            if page.is_some() {
                anyhow::bail!(
                    "--page chooses the page of a .gif or .png; {} holds the whole book, so \
                     leave --page out",
                    out.display()
                );
            }
        }
        _ => {}
    }
    Ok(())
}

/// Writes what `out` names and tells the user (or prints JSON).
pub(super) fn run_export(
    global: &GlobalArgs,
    lib: &Library,
    id: i64,
    out: &Path,
    page: Option<usize>,
) -> anyhow::Result<()> {
    let book = lib.book(id)?;
    let chosen = |page: Option<usize>| {
        let page = page.ok_or_else(|| anyhow!("add --page N to choose the page"))?;
        super::position(id, page, book.pages.len()).map(|pos| (page, pos))
    };
    let warning = match target(out) {
        Target::Gif => {
            let (_, pos) = chosen(page)?;
            let frames: Vec<Vec<u8>> = lib
                .frames(id, pos)?
                .into_iter()
                .map(|(_, png)| png)
                .collect();
            let gif = crate::export::gif::progress_gif(&frames, 120).map_err(anyhow::Error::msg)?;
            crate::export::write_atomically(out, &gif).map_err(anyhow::Error::msg)?;
            None
        }
        Target::Png => {
            let (n, pos) = chosen(page)?;
            let png = book.pages[pos].png.as_deref().ok_or_else(|| {
                anyhow!("page {n} of book {id} has no picture yet; `storybook-studio book --resume {id}` draws it")
            })?;
            // The recipe goes with the picture, its model folders cut to names, as in every export.
            let shared = crate::export::public::shareable_png(png)
                .ok_or_else(|| anyhow!("the picture of page {n} of book {id} cannot be read"))?;
            crate::export::write_atomically(out, &shared).map_err(anyhow::Error::msg)?;
            None
        }
        Target::Book => crate::export::export_book(&book, out).map_err(anyhow::Error::msg)?,
    };
    if global.json {
        return super::super::print_json(&serde_json::json!({
            "book_id": id, "page": page, "out": out, "warning": warning
        }));
    }
    match page {
        Some(n) => println!("Exported page {n} of book {id} to {}.", out.display()),
        None => println!("Exported book {id} to {}.", out.display()),
    }
    if let Some(w) = warning {
        eprintln!("warning: {w}.");
    }
    Ok(())
}
