//! Sharing a book: a self-contained HTML file, a PDF, and a GIF of a page's progress.
//! Reads store types only; never touches the UI or the models.

pub mod gif;
pub mod html;
pub mod pdf;

use std::path::Path;

use crate::store::Book;

/// Writes `book` to `path` in the format its extension names (.html, .htm or .pdf).
pub fn export_book(book: &Book, path: &Path) -> Result<(), String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bytes = match ext.as_deref() {
        Some("html") | Some("htm") => html::book_html(book).into_bytes(),
        Some("pdf") => pdf::book_pdf(book)?,
        _ => {
            return Err(format!(
                "{} should end in .html or .pdf, the formats a book exports to",
                path.display()
            ))
        }
    };
    write_atomically(path, &bytes)
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
