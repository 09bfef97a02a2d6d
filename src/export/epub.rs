//! A book as an EPUB 3 e-book that `epubcheck` accepts: the `mimetype` file first and stored,
//! the OCF container, a package document with title, language, identifier, dates and
//! generator, the first picture as the cover image, a title page, one XHTML page per book page
//! with its picture and sentence, and a navigation document. Pictures carry their recipe with
//! model folders cut to names, as in every export. Everything is stored uncompressed: the
//! pictures are PNGs already, and the text is a few kilobytes.

use std::io::{Cursor, Write};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::epub_files::{self as files, EpubPage, Meta};
use super::{lang, public};
use crate::store::Book;

/// The book as EPUB bytes.
pub fn book_epub(book: &Book) -> Result<Vec<u8>, String> {
    let mut pictures = Vec::new();
    let pages: Vec<EpubPage> = book
        .pages
        .iter()
        .enumerate()
        .map(|(i, page)| {
            // A picture that cannot be read is left out; the page keeps its sentence.
            let image = page
                .png
                .as_deref()
                .and_then(public::shareable_png)
                .map(|png| {
                    let name = format!("page-{:03}.png", i + 1);
                    pictures.push((name.clone(), png));
                    name
                });
            EpubPage {
                file: format!("page-{:03}.xhtml", i + 1),
                image,
                sentence: page.sentence.clone(),
            }
        })
        .collect();

    let all_text = std::iter::once(book.title.as_str())
        .chain(std::iter::once(book.prompt.as_str()))
        .chain(book.pages.iter().map(|p| p.sentence.as_str()))
        .collect::<Vec<_>>()
        .join("\n");
    let title = if files::escape(&book.title).trim().is_empty() {
        "Untitled book".to_string()
    } else {
        book.title.clone()
    };
    let identifier = identifier(book);
    let created = iso_time(book.created_at);
    let modified = iso_time(book.updated_at.max(book.created_at));
    let meta = Meta {
        identifier: &identifier,
        title: &title,
        lang: lang::guess(&all_text),
        date: &created[..10],
        modified: &modified,
        cover_image: pictures.first().map(|(name, _)| name.as_str()),
    };

    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let mut add = |name: &str, bytes: &[u8]| -> Result<(), String> {
        zip.start_file(name, stored)
            .and_then(|_| zip.write_all(bytes).map_err(Into::into))
            .map_err(|e| format!("cannot write the EPUB: {e}"))
    };
    // The OCF spec: `mimetype` first, uncompressed, so readers can sniff the type.
    add("mimetype", b"application/epub+zip")?;
    add("META-INF/container.xml", files::CONTAINER.as_bytes())?;
    add(
        "OEBPS/content.opf",
        files::package_opf(&meta, &pages).as_bytes(),
    )?;
    add(
        "OEBPS/nav.xhtml",
        files::nav_xhtml(&meta, &pages).as_bytes(),
    )?;
    add("OEBPS/style.css", files::CSS.as_bytes())?;
    add(
        "OEBPS/cover.xhtml",
        files::cover_xhtml(&meta, &book.prompt).as_bytes(),
    )?;
    for (i, page) in pages.iter().enumerate() {
        let xhtml = files::page_xhtml(&meta, i + 1, page);
        add(&format!("OEBPS/{}", page.file), xhtml.as_bytes())?;
    }
    for (name, png) in &pictures {
        add(&format!("OEBPS/images/{name}"), png)?;
    }
    let cursor = zip
        .finish()
        .map_err(|e| format!("cannot write the EPUB: {e}"))?;
    Ok(cursor.into_inner())
}

/// A name-based UUID (version 5 layout, SHA-256 bits) from the book's id and creation time:
/// the same book exports with the same identifier, so readers see a new export as an update.
fn identifier(book: &Book) -> String {
    let digest = Sha256::digest(format!("storybook-studio:{}:{}", book.id, book.created_at));
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `ms` since 1970 as YYYY-MM-DDThh:mm:ssZ (UTC); times before 1970 are taken as 1970.
fn iso_time(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm: days since 1970-01-01 to (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y.min(9999), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso_8601_in_utc() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(-5), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(1_709_210_096_000), "2024-02-29T12:34:56Z");
        assert_eq!(&iso_time(951_782_400_000)[..10], "2000-02-29");
    }

    #[test]
    fn the_identifier_is_a_stable_uuid() {
        let book = Book {
            id: 7,
            title: String::new(),
            prompt: String::new(),
            created_at: 123,
            updated_at: 456,
            story_settings: serde_json::Value::Null,
            story_seed: 0,
            style_prefix: String::new(),
            style_suffix: String::new(),
            model_ids: serde_json::Value::Null,
            planned_pages: 0,
            pages: Vec::new(),
        };
        let id = identifier(&book);
        assert_eq!(id, identifier(&book));
        assert_eq!(id.len(), "urn:uuid:".len() + 36);
        assert_eq!(&id[9 + 14..9 + 15], "5");
    }
}
