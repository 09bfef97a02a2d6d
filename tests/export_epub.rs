//! The EPUB 3 export opened as a reader's software would (the zip's layout, the package
//! document, each page's XHTML parsed), `epubcheck` on it when it is installed, and the
//! command line's `library export` writing .epub and a page's .png.

mod common;

use std::io::{Cursor, Read};
use std::path::Path;

use common::cli::{json_of, sentence_of, studio};
use storybook_studio::export::epub::book_epub;
use storybook_studio::store::{Library, NewBook, NewPage};

fn png_with_recipe(colour: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(48, 32, image::Rgb(colour));
    let recipe = serde_json::json!({
        "prompt": "a fox",
        "models": { "clip": "/home/ana-secret/models/clip" }
    });
    storybook_studio::ml::image_io::encode_png_with_text(
        &img,
        &[("storybook-recipe", &recipe.to_string())],
    )
    .unwrap()
}

const SENTENCES: [&str; 4] = [
    "The fox & the owl said <hello> to \"Zoë\" at the café.",
    "床前明月光，\n疑是地上霜。",
    "Москва ночью; Η θάλασσα.",
    "A page without a picture yet.",
];

/// A library holding one book with pictures (but not on its last page), in several scripts.
fn library_with_a_book(dir: &Path) -> (std::path::PathBuf, i64) {
    let path = dir.join("library.sqlite");
    let book = NewBook {
        title: "Zoë & the <moon> 月".into(),
        prompt: "A fox and an owl".into(),
        story_settings: serde_json::json!({}),
        story_seed: 1,
        style_prefix: String::new(),
        style_suffix: String::new(),
        model_ids: serde_json::json!({ "clip": "/home/ana-secret/models/clip" }),
        planned_pages: SENTENCES.len(),
    };
    let pages: Vec<NewPage> = SENTENCES
        .iter()
        .enumerate()
        .map(|(i, s)| NewPage {
            sentence: s.to_string(),
            png: (i + 1 < SENTENCES.len()).then(|| png_with_recipe([60 * i as u8, 90, 200])),
            ..NewPage::default()
        })
        .collect();
    let id = Library::open(&path)
        .unwrap()
        .create_book(&book, &pages)
        .unwrap();
    (path, id)
}

fn epub_bytes() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let (path, id) = library_with_a_book(dir.path());
    let book = Library::open(&path).unwrap().book(id).unwrap();
    let bytes = book_epub(&book).unwrap();
    (dir, bytes)
}

fn read(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> String {
    let mut text = String::new();
    zip.by_name(name)
        .unwrap_or_else(|_| panic!("{name} is missing"))
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn an_epub_has_its_mimetype_first_and_a_page_per_page() {
    let (_dir, bytes) = epub_bytes();
    // The OCF rule readers sniff: "mimetype" is the first entry, stored, at offset 30.
    assert_eq!(&bytes[..4], b"PK\x03\x04");
    assert_eq!(
        u16::from_le_bytes([bytes[8], bytes[9]]),
        0,
        "mimetype is compressed"
    );
    assert_eq!(&bytes[30..38], b"mimetype");
    assert_eq!(&bytes[38..58], b"application/epub+zip");
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.as_slice())).unwrap();
    assert_eq!(zip.by_index(0).unwrap().name().unwrap(), "mimetype");
    assert!(read(&mut zip, "META-INF/container.xml").contains("OEBPS/content.opf"));

    let opf = read(&mut zip, "OEBPS/content.opf");
    for want in [
        "<dc:title>Zoë &amp; the &lt;moon&gt; 月</dc:title>",
        "<dc:language>",
        "<dc:identifier id=\"book-id\">urn:uuid:",
        "<meta property=\"dcterms:modified\">",
        "<dc:date>",
        "name=\"generator\"",
        "properties=\"nav\"",
        "href=\"images/page-001.png\" media-type=\"image/png\" properties=\"cover-image\"",
    ] {
        assert!(opf.contains(want), "{want} is not in {opf}");
    }
    for n in 1..=SENTENCES.len() {
        assert!(
            opf.contains(&format!("href=\"page-{n:03}.xhtml\"")),
            "{opf}"
        );
        assert!(opf.contains(&format!("<itemref idref=\"p{n}\"/>")), "{opf}");
    }
    // Three pictures, no fourth: the last page has none yet.
    assert_eq!(opf.matches("media-type=\"image/png\"").count(), 3);

    for (i, sentence) in SENTENCES.iter().enumerate() {
        let xhtml = read(&mut zip, &format!("OEBPS/page-{:03}.xhtml", i + 1));
        let dom = tl::parse(&xhtml, tl::ParserOptions::default()).unwrap();
        let parser = dom.parser();
        let text: Vec<String> = dom
            .query_selector("p.sentence")
            .unwrap()
            .map(|n| n.get(parser).unwrap().inner_text(parser).to_string())
            .collect();
        let escaped = sentence
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        assert_eq!(text, [escaped], "page {}", i + 1);
        assert_eq!(xhtml.matches("<img ").count(), usize::from(i < 3));
    }
    assert!(read(&mut zip, "OEBPS/page-001.xhtml").contains("&lt;hello&gt;"));

    let nav = read(&mut zip, "OEBPS/nav.xhtml");
    assert!(nav.contains("epub:type=\"toc\""));
    assert_eq!(nav.matches("<li>").count(), SENTENCES.len() + 1);

    // The picture keeps its recipe, but not the user's folders.
    let mut png = Vec::new();
    zip.by_name("OEBPS/images/page-001.png")
        .unwrap()
        .read_to_end(&mut png)
        .unwrap();
    let raw = String::from_utf8_lossy(&png);
    assert!(raw.contains("storybook-recipe") && !raw.contains("ana-secret"));
}

#[test]
fn a_book_without_pictures_or_words_is_still_an_epub() {
    let dir = tempfile::tempdir().unwrap();
    let (path, id) = library_with_a_book(dir.path());
    let mut book = Library::open(&path).unwrap().book(id).unwrap();
    book.title = " \u{1} ".into();
    for p in &mut book.pages {
        p.png = None;
        p.sentence = "\u{0}".into();
    }
    let bytes = book_epub(&book).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.as_slice())).unwrap();
    let opf = read(&mut zip, "OEBPS/content.opf");
    assert!(!opf.contains("cover-image") && !opf.contains("image/png"));
    assert!(opf.contains("<dc:title>Untitled book</dc:title>"), "{opf}");
    assert!(read(&mut zip, "OEBPS/nav.xhtml").contains("Page 1"));
    assert!(!read(&mut zip, "OEBPS/page-001.xhtml").contains('\u{0}'));
}

/// Debian's `epubcheck` is a link to a .jar, which only runs by itself where the kernel is set
/// up to hand jars to Java (binfmt_misc); containers often are not, so Java is asked directly.
fn epubcheck() -> std::process::Command {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("epubcheck"))
            .find(|p| p.exists())
    });
    match found.and_then(|p| p.canonicalize().ok()) {
        Some(jar) if jar.extension().is_some_and(|e| e == "jar") => {
            let mut java = std::process::Command::new("java");
            java.arg("-jar").arg(jar);
            java
        }
        _ => std::process::Command::new("epubcheck"),
    }
}

/// Run by name from .ci/run, which installs Debian's epubcheck.
#[test]
#[ignore = "needs epubcheck (Debian package epubcheck); .ci/run runs it by name"]
fn epubcheck_passes_an_exported_book() {
    let dir = tempfile::tempdir().unwrap();
    let (path, id) = library_with_a_book(dir.path());
    let book = Library::open(&path).unwrap().book(id).unwrap();
    // The book as made, and the same book with no pictures and no words at all.
    let mut bare = book.clone();
    bare.title = String::new();
    for p in &mut bare.pages {
        p.png = None;
        p.sentence = " ".into();
    }
    for (name, book) in [("book", book), ("bare", bare)] {
        let file = dir.path().join(format!("{name}.epub"));
        std::fs::write(&file, book_epub(&book).unwrap()).unwrap();
        let out = epubcheck()
            .arg(&file)
            .output()
            .expect("epubcheck is missing: install it (apt-get install epubcheck)");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("{name}.epub:\n{report}");
        assert!(out.status.success(), "{name}: {report}");
        assert!(
            report.contains("No errors or warnings detected"),
            "{name}: {report}"
        );
    }
}

#[test]
fn library_export_writes_an_epub_and_a_page_s_picture() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let (path, id) = library_with_a_book(cwd);
    let (lib, id) = (path.to_str().unwrap(), id.to_string());
    let run = |extra: &[&str]| {
        let mut args = vec!["library", "export", &id, "--library", lib];
        args.extend_from_slice(extra);
        studio(&args, cwd)
    };

    let report = json_of(&run(&["--out", "book.epub", "--json"]));
    assert_eq!(report["warning"], serde_json::Value::Null);
    let epub = std::fs::read(cwd.join("book.epub")).unwrap();
    assert_eq!(&epub[30..38], b"mimetype");

    json_of(&run(&["--page", "2", "--out", "page.png", "--json"]));
    let png = std::fs::read(cwd.join("page.png")).unwrap();
    let decoder = png::Decoder::new(Cursor::new(png.as_slice()));
    let reader = decoder.read_info().unwrap();
    let recipe = &reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == "storybook-recipe")
        .expect("the recipe chunk")
        .text;
    assert!(recipe.contains("\"clip\":\"clip\""), "{recipe}");
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img.get_pixel(3, 3).0, [60, 90, 200]);

    let err = sentence_of(&run(&["--out", "page.png"]));
    assert!(err.contains("add --page N"), "{err}");
    let err = sentence_of(&run(&["--page", "4", "--out", "last.png"]));
    assert!(
        err.contains("page 4") && err.contains("no picture yet"),
        "{err}"
    );
    assert!(!cwd.join("last.png").exists());
    let err = sentence_of(&run(&["--page", "9", "--out", "nine.png"]));
    assert!(err.contains("there is no page 9"), "{err}");
    let err = sentence_of(&run(&["--page", "1", "--out", "book.epub"]));
    assert!(err.contains("leave --page out"), "{err}");
    let err = sentence_of(&run(&["--out", "book.txt"]));
    assert!(err.contains(".epub") && err.contains(".png"), "{err}");
}
