//! Sharing a book: a self-contained HTML file, a PDF, an EPUB 3 e-book, and a GIF of a page's
//! progress. Reads store types only; never touches the UI or the models.

pub mod epub;
mod epub_files;
pub mod gif;
mod helvetica;
pub mod html;
pub mod lang;
pub mod pdf;
mod pdf_embed;
pub mod pdf_font;
mod pdf_text;
pub mod public;

use std::path::{Path, PathBuf};

use crate::store::Book;

/// Writes `book` to `path` in the format its extension names (.html, .htm, .pdf or .epub).
/// `Ok` holds a warning when words could not be kept: characters no installed font draws in
/// a PDF.
pub fn export_book(book: &Book, path: &Path) -> Result<Option<String>, String> {
    let (bytes, warning) = match book_format(path)? {
        BookFormat::Html => (html::book_html(book).into_bytes(), None),
        BookFormat::Epub => (epub::book_epub(book)?, None),
        BookFormat::Pdf => {
            let dirs = pdf_font::system_font_dirs();
            let (bytes, missing) = pdf::book_pdf_with_fonts(book, &dirs)?;
            (bytes, pdf_warning(&missing))
        }
    };
    write_atomically(path, &bytes)?;
    Ok(warning)
}

/// What the user is told about characters that print as '?' in a PDF.
pub fn pdf_warning(missing: &[char]) -> Option<String> {
    let shown: String = missing
        .iter()
        .take(8)
        .map(|c| format!("“{c}”"))
        .collect::<Vec<_>>()
        .join(" ");
    let more = if missing.len() > 8 { " and more" } else { "" };
    (!missing.is_empty()).then(|| {
        format!(
            "no font installed on this system draws {shown}{more}, so the PDF prints them as \
             “?”; install fonts that do (for example fonts-dejavu-core for accents, Greek and \
             Cyrillic, fonts-wqy-microhei for Chinese) and export again, or export to .html or \
             .epub to keep every word"
        )
    })
}

/// The formats a whole book exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookFormat {
    Html,
    Pdf,
    Epub,
}

/// The format `path`'s extension names, or a sentence saying which ones a book exports to.
pub fn book_format(path: &Path) -> Result<BookFormat, String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html") | Some("htm") => Ok(BookFormat::Html),
        Some("pdf") => Ok(BookFormat::Pdf),
        Some("epub") => Ok(BookFormat::Epub),
        _ => Err(format!(
            "{} should end in .html, .pdf or .epub, the formats a book exports to",
            path.display()
        )),
    }
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("partial");
    let result = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Checks, before any work starts, that `path` can be written: it is not a folder, its folder
/// exists and takes new files, and it is not a read-only file.
pub fn check_writable(path: &Path) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        return Err("the output file name is empty".into());
    }
    if path.is_dir() {
        return Err(format!(
            "{} is a folder; name a file inside it",
            path.display()
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        let what = if dir.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        return Err(format!(
            "cannot write {}: the folder {} {what}; create it first or choose another place",
            path.display(),
            dir.display()
        ));
    }
    if std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly()) {
        return Err(format!(
            "cannot write {}: the file is read-only",
            path.display()
        ));
    }
    // Permission bits do not tell the whole story (read-only mounts, ACLs): try it.
    let probe = dir.join(format!(".storybook-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| {
            format!(
                "cannot write {}: the folder {} does not take new files ({e})",
                path.display(),
                dir.display()
            )
        })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes `bytes` to `path`; if that fails, saves them in the rescue folder instead and says
/// where, so finished work is never lost to a folder that vanished or filled up.
pub fn write_or_rescue(path: &Path, bytes: &[u8], what: &str) -> Result<(), String> {
    let Err(failure) = write_atomically(path, bytes) else {
        return Ok(());
    };
    match rescue(path, bytes) {
        Some(saved) => Err(format!(
            "{failure}; the {what} was saved to {} instead",
            saved.display()
        )),
        None => Err(format!(
            "{failure}, and the {what} could not be saved anywhere else either"
        )),
    }
}

/// Where rescued files go: the data folder's `rescued/` (it persists), else the temp folder.
fn rescue(path: &Path, bytes: &[u8]) -> Option<PathBuf> {
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("output");
    let ext = path.extension().and_then(|s| s.to_str()).unwrap_or("bin");
    let file = format!("{name}-{}.{ext}", crate::store::now_ms());
    let data = directories::ProjectDirs::from("", "", "storybook-studio")
        .map(|d| d.data_dir().join("rescued"));
    for dir in data.into_iter().chain([std::env::temp_dir()]) {
        let target = dir.join(&file);
        if std::fs::create_dir_all(&dir).is_ok() && write_atomically(&target, bytes).is_ok() {
            return Some(target);
        }
    }
    None
}
