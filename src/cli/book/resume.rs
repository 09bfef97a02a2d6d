//! `book --resume ID`: finishes a book under its lease, with any drawing options given again
//! replacing the saved ones (and saying so).

use anyhow::{anyhow, Context};

use super::super::library::{open_library, Need};
use super::super::progress::plural;
use super::super::progress::BookProgress;
use super::super::GlobalArgs;
use super::drawing::{draw_all, load_drawing};
use super::{finish, BookArgs};
use crate::book::{
    check_illustration, check_pages, describe, BookRecipe, Corrections, DrawModels, PageResult,
};

pub(super) fn resume(global: &GlobalArgs, args: &BookArgs, id: i64) -> anyhow::Result<()> {
    let mut warnings = Vec::new();
    if !args.story.prompt.trim().is_empty() {
        warnings.push(format!(
            "the prompt is not used: book {id}'s story is already written"
        ));
    }
    if let Some(pages) = args.pages {
        check_pages(pages).map_err(anyhow::Error::msg)?;
        warnings.push(format!(
            "--pages is not used: book {id} keeps the pages its story was planned with"
        ));
    }
    let corrections = Corrections {
        size: args.size,
        iterations: args.iterations,
        cutn: args.cutn,
        image_seed: args.image_seed,
        style_prefix: args.style_prefix.clone(),
        style_suffix: args.style_suffix.clone(),
        keep_frames: args.keep_frames,
        precision: args.precision,
    };
    let mut lib = open_library(global, Need::Existing)?;
    let book = lib.book(id)?;
    let mut recipe = BookRecipe::of(&book)?;
    let changed = corrections.apply(&mut recipe);
    check_illustration(&recipe.illustration, None).map_err(|e| {
        // Whose value it is decides the advice: one typed now, or one saved with the book.
        if changed.is_empty() {
            anyhow!(
                "book {id} cannot be drawn with its saved settings: {e}; give a corrected value \
                 with --resume (for example --cutn 32, --size 256x256 or --iterations 100)"
            )
        } else {
            anyhow!(
                "book {id} cannot be drawn with these settings (given now: {}): {e}",
                changed.join(", ")
            )
        }
    })?;
    let total = book.pages.len().max(recipe.planned_sentences.len());
    let missing = book.unillustrated() + total.saturating_sub(book.pages.len());
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if missing == 0 {
        if !global.json {
            println!(
                "Book {id} is already complete ({}); nothing to draw.",
                plural(book.pages.len(), "page")
            );
        }
        let pages = book
            .pages
            .iter()
            .map(|p| PageResult {
                sentence: p.sentence.clone(),
                similarity: p.similarity,
            })
            .collect();
        return finish(global, args, &lib, id, pages, warnings, changed);
    }
    // Taken before the models load, so a second run is turned away at once.
    let mut lease = lib.lease_book(id)?;
    let mut drawing = load_drawing(global, args)?;
    warnings.extend(drawing.check(&recipe.illustration)?);
    let illustrator = drawing.illustrator();
    let mut ids = book.model_ids.clone();
    if !ids.is_object() {
        ids = serde_json::json!({});
    }
    for key in ["clip", "vqgan"] {
        ids[key] = drawing.ids[key].clone();
    }
    if !changed.is_empty() {
        let value = serde_json::to_value(&recipe).context("the corrected recipe")?;
        lib.update_recipe(&lease, &value)?;
    }
    let mut progress = BookProgress::new(global.json);
    let with = if changed.is_empty() {
        String::new()
    } else {
        format!(" (changed: {})", changed.join(", "))
    };
    progress.message(&format!(
        "Resuming book {id} with {}{with}: {} to draw.",
        describe(&recipe),
        plural(missing, "page")
    ));
    let draw = DrawModels {
        illustrator: &illustrator,
        model_ids: &ids,
    };
    let pages = draw_all(&mut lib, &mut lease, &draw, &mut progress)?;
    drop(lease);
    finish(global, args, &lib, id, pages, warnings, changed)
}
