//! `book --text FILE` (or `-` for standard input): a book from the user's own text, one page
//! per sentence or per paragraph. GPT-2 is not loaded.

use std::io::Read;
use std::path::Path;

use anyhow::Context;

use super::super::library::{open_library, Need};
use super::super::progress::plural;
use super::super::progress::BookProgress;
use super::super::GlobalArgs;
use super::drawing::{draw_all, load_drawing};
use super::{finish, BookArgs};
use crate::book::{start_book, story_from_text, BookRequest, DrawModels, PagesBy};

/// How `--pages-by` cuts the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PagesByArg {
    #[default]
    Sentence,
    Paragraph,
}

/// The most text read: a long novel is a few megabytes, and a book has at most 500 pages.
const MAX_TEXT_BYTES: u64 = 16 << 20;

/// Reads the text, from a file or `-` (standard input); not UTF-8 is a sentence, not a panic.
pub(super) fn read_text(path: &Path) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    let what = if path.as_os_str() == "-" {
        std::io::stdin()
            .take(MAX_TEXT_BYTES + 1)
            .read_to_end(&mut bytes)
            .context("the text could not be read from standard input")?;
        "standard input".to_string()
    } else {
        let file = std::fs::File::open(path)
            .with_context(|| format!("the text file {} could not be opened", path.display()))?;
        file.take(MAX_TEXT_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("the text file {} could not be read", path.display()))?;
        path.display().to_string()
    };
    if bytes.len() as u64 > MAX_TEXT_BYTES {
        anyhow::bail!("{what} holds more than 16 MB of text; a book has at most 500 pages");
    }
    String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{what} is not UTF-8 text; save it as UTF-8 and try again"))
}

pub(super) fn create_from_text(
    global: &GlobalArgs,
    args: &BookArgs,
    path: &Path,
    mut request: BookRequest,
) -> anyhow::Result<()> {
    let text = read_text(path)?;
    let by = match args.pages_by {
        PagesByArg::Sentence => PagesBy::Sentence,
        PagesByArg::Paragraph => PagesBy::Paragraph,
    };
    let story = story_from_text(&text, by, args.pages)?;
    let mut warnings = story.warnings.clone();
    // The prompt, if one was typed, is the title; otherwise the first page is.
    if request.prompt.trim().is_empty() {
        request.prompt = story.sentences[0].clone();
    }
    request.pages = story.sentences.len();
    let mut lib = open_library(
        global,
        Need::NewBook {
            create: args.create,
        },
    )?;
    let mut drawing = load_drawing(global, args)?;
    warnings.extend(drawing.check(&request.illustration)?);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let illustrator = drawing.illustrator();
    let mut ids = drawing.ids.clone();
    ids["text"] = serde_json::Value::String("the user's text".into());
    let (book_id, mut lease) = start_book(&mut lib, &request, &story, &ids)?;
    let mut progress = BookProgress::new(global.json);
    progress.message(&format!(
        "Book {book_id}: {} from the text.",
        plural(story.sentences.len(), "page")
    ));
    let draw = DrawModels {
        illustrator: &illustrator,
        model_ids: &ids,
    };
    let pages = draw_all(&mut lib, &mut lease, &draw, &mut progress)?;
    drop(lease);
    finish(global, args, &lib, book_id, pages, warnings, Vec::new())
}
