//! `library show ID`: a book's pages with each one's state — `done` (it has its picture),
//! `paused` (a checkpoint holds its progress, at `step`) or `pending` (not started) — including
//! the planned pages a run has not reached yet.

use serde::Serialize;

use super::progress::plural;
use super::GlobalArgs;
use crate::book::BookRecipe;
use crate::store::{Book, Library};
use crate::story::printable;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Done,
    Paused,
    Pending,
}

#[derive(Serialize)]
struct PageState {
    /// The saved page's id; none for a planned page not saved yet.
    id: Option<i64>,
    /// 1-based.
    page: usize,
    position: usize,
    sentence: String,
    status: Status,
    /// Steps done: all of them for a finished page, the checkpoint's for a paused one.
    step: usize,
    /// Steps the saved picture took (none for a page without one).
    iterations: Option<usize>,
    seed: Option<u64>,
    similarity: Option<f64>,
    settings: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Shown<'a> {
    id: i64,
    title: &'a str,
    prompt: &'a str,
    created_at: i64,
    updated_at: i64,
    story_settings: &'a serde_json::Value,
    story_seed: u64,
    style_prefix: &'a str,
    style_suffix: &'a str,
    model_ids: &'a serde_json::Value,
    planned_pages: usize,
    pages: Vec<PageState>,
}

fn page_states(lib: &Library, book: &Book) -> anyhow::Result<Vec<PageState>> {
    let steps = lib.checkpoint_steps(book.id)?;
    // A checkpoint counts only for the sentence it was drawing: after an edit, a resume
    // starts that page over, so it is not "paused" any more.
    let paused_at = |position: usize, sentence: &str| {
        steps
            .iter()
            .find(|(p, _, s)| *p == position && s == sentence)
            .map(|(_, step, _)| *step)
    };
    let mut out: Vec<PageState> = book
        .pages
        .iter()
        .map(|p| {
            let (status, step) = match (&p.png, paused_at(p.position, &p.sentence)) {
                (Some(_), _) => (Status::Done, p.iterations),
                (None, Some(step)) => (Status::Paused, step),
                (None, None) => (Status::Pending, 0),
            };
            PageState {
                id: Some(p.id),
                page: p.position + 1,
                position: p.position,
                sentence: p.sentence.clone(),
                status,
                step,
                iterations: p.png.as_ref().map(|_| p.iterations),
                seed: Some(p.seed),
                similarity: p.similarity,
                settings: Some(p.settings.clone()),
            }
        })
        .collect();
    // Planned pages past the saved ones: a book without a recipe (imported) simply has none.
    let planned = BookRecipe::of(book)
        .map(|r| r.planned_sentences)
        .unwrap_or_default();
    for (position, sentence) in planned.into_iter().enumerate().skip(book.pages.len()) {
        let step = paused_at(position, &sentence);
        out.push(PageState {
            id: None,
            page: position + 1,
            position,
            sentence,
            status: if step.is_some() {
                Status::Paused
            } else {
                Status::Pending
            },
            step: step.unwrap_or(0),
            iterations: None,
            seed: None,
            similarity: None,
            settings: None,
        });
    }
    Ok(out)
}

pub(super) fn run_show(global: &GlobalArgs, lib: &Library, id: i64) -> anyhow::Result<()> {
    let book = lib.book(id)?;
    let pages = page_states(lib, &book)?;
    if global.json {
        return super::print_json(&Shown {
            id: book.id,
            title: &book.title,
            prompt: &book.prompt,
            created_at: book.created_at,
            updated_at: book.updated_at,
            story_settings: &book.story_settings,
            story_seed: book.story_seed,
            style_prefix: &book.style_prefix,
            style_suffix: &book.style_suffix,
            model_ids: &book.model_ids,
            planned_pages: book.planned_pages.max(pages.len()),
            pages,
        });
    }
    println!(
        "{} (book {id})\nprompt: {}",
        printable::line(&book.title),
        printable::line(&book.prompt)
    );
    for p in &pages {
        let state = match p.status {
            Status::Done => format!(
                "seed {}, similarity {}",
                p.seed.unwrap_or_default(),
                p.similarity
                    .map(|s| format!("{s:.3}"))
                    .unwrap_or("-".into())
            ),
            Status::Paused => format!("paused at step {}", p.step),
            Status::Pending => "not drawn yet".to_string(),
        };
        println!("{:>3}. {}  [{state}]", p.page, printable::line(&p.sentence));
    }
    // Counts come from the same pages, so they can never read "4 of 3".
    let planned = pages.len().max(book.planned_pages);
    if book.pages.len() < planned {
        println!(
            "Interrupted: {} of {planned} pages saved; `book --resume {id}` finishes it.",
            book.pages.len()
        );
    }
    let unillustrated = book.unillustrated();
    if unillustrated > 0 {
        println!(
            "{} without a picture; `book --resume {id}` draws {}.",
            plural(unillustrated, "page"),
            if unillustrated == 1 { "it" } else { "them" }
        );
    }
    println!("Open it in the studio: storybook-studio gui --open-book {id} [--tab read]");
    Ok(())
}
