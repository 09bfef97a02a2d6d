//! Drawing a book's pages: a new book is created and leased, every page it still lacks (a
//! planned sentence not saved yet, or a saved page without a picture) is illustrated and saved
//! the moment it is done, and any page can be redrawn later with its recorded settings.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{page_options, title_of, BookError, BookEvent, BookRecipe, BookRequest, DrawModels};
use super::{PageResult, Story};
use crate::ml::illustrate::prompts::literal;
use crate::ml::illustrate::StepReport;
use crate::ml::illustrate::{
    saved_step, IllustrateOptions, Illustration, Illustrator, ImageInputs, Outcome, Resume,
};
use crate::ml::image_io::ascii_json;
use crate::store::{Checkpoint, Lease, Library, NewBook, NewPage, StoreError};

/// How long a page may run between two saved checkpoints: a crash or a closed lid loses at
/// most about this much work. A state is z and Adam's two moments, 3 × 256 latents × the
/// token grid in f32: 0.8 MB at 256², 13 MB at 1024², 50 MB at 2048², a few to some hundred
/// milliseconds to write, small beside the 8 s of work it protects.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(8);

/// A page's picture, or where it paused.
enum Drawn {
    Done(Vec<u8>, Illustration),
    Paused { step: usize, state: Vec<u8> },
}

/// Illustrates one sentence, from a saved state if `resume` has one; a finished picture comes
/// back as a PNG with its recipe embedded.
fn illustrate_page(
    illustrator: &Illustrator,
    model_ids: &serde_json::Value,
    sentence: &str,
    opts: &IllustrateOptions,
    resume: Resume,
    cancel: &AtomicBool,
    mut on_step: impl FnMut(&StepReport),
) -> Result<Drawn, BookError> {
    // The sentence is drawn as written: its colons and bars are not prompt syntax.
    let targets = illustrator.prompt_targets(&literal(sentence), opts)?;
    let outcome = illustrator.run_resumable(
        targets,
        &ImageInputs::default(),
        opts,
        resume,
        cancel,
        |r| on_step(&r),
    )?;
    let result = match outcome {
        Outcome::Done(result) => result,
        Outcome::Paused { step, state } => return Ok(Drawn::Paused { step, state }),
    };
    let recipe = serde_json::json!({ "prompt": sentence, "options": opts, "models": model_ids });
    let png = crate::ml::image_io::encode_png_with_text(
        &result.image,
        &[("storybook-recipe", &ascii_json(&recipe))],
    )?;
    Ok(Drawn::Done(png, result))
}

/// Saves a new book (its story written, no page drawn yet) and takes its lease.
pub fn start_book(
    lib: &mut Library,
    request: &BookRequest,
    story: &Story,
    model_ids: &serde_json::Value,
) -> Result<(i64, Lease), BookError> {
    let recipe = BookRecipe {
        sampling: request.sampling.clone(),
        illustration: request.illustration.clone(),
        planned_sentences: story.sentences.clone(),
        story_text: story.text.clone(),
        keep_frames: request.keep_frames,
    };
    let book = NewBook {
        title: title_of(&request.prompt),
        prompt: request.prompt.clone(),
        story_settings: serde_json::to_value(&recipe)
            .map_err(|e| BookError::Invalid(format!("the recipe cannot be saved: {e}")))?,
        story_seed: request.sampling.seed,
        style_prefix: request.illustration.style_prefix.clone(),
        style_suffix: request.illustration.style_suffix.clone(),
        model_ids: model_ids.clone(),
        planned_pages: story.sentences.len(),
    };
    Ok(lib.start_book(&book)?)
}

/// One page still to draw: where it goes, its sentence, and whether it is already saved
/// (without a picture) or new.
struct Todo {
    position: usize,
    sentence: String,
    saved: bool,
}

/// Draws and saves every page the leased book lacks; returns every page's result.
/// Pages that have a picture are never touched.
pub fn draw_pages(
    lib: &mut Library,
    lease: &mut Lease,
    models: &DrawModels,
    cancel: &AtomicBool,
    mut on_event: impl FnMut(BookEvent),
) -> Result<Vec<PageResult>, BookError> {
    let book_id = lease.book_id();
    let book = lib.book(book_id)?;
    let recipe = BookRecipe::of(&book)?;
    let mut todo: Vec<Todo> = book
        .pages
        .iter()
        .filter(|p| p.png.is_none())
        .map(|p| Todo {
            position: p.position,
            sentence: p.sentence.clone(),
            saved: true,
        })
        .collect();
    for (position, sentence) in recipe
        .planned_sentences
        .iter()
        .enumerate()
        .skip(book.pages.len())
    {
        todo.push(Todo {
            position,
            sentence: sentence.clone(),
            saved: false,
        });
    }
    let positions: Vec<usize> = todo.iter().map(|t| t.position).collect();
    on_event(BookEvent::Plan {
        book_id,
        total: book.pages.len().max(recipe.planned_sentences.len()),
        to_draw: &positions,
        iterations: recipe.illustration.iterations,
    });
    // The illustrator stops at the next step when this is set: by the user, or because the
    // lease was lost to another run.
    let stop = AtomicBool::new(false);
    for page in todo {
        if cancel.load(Ordering::Relaxed) {
            return Err(crate::ml::Error::Cancelled.into());
        }
        lease.renew()?;
        on_event(BookEvent::PageStarted {
            position: page.position,
            sentence: &page.sentence,
        });
        let mut opts = page_options(&recipe, page.position);
        // The page records the precision that really runs (bf16 needs a bf16 kernel).
        opts.precision = models.illustrator.precision();
        let saved = match usable_checkpoint(lib, book_id, page.position, &page.sentence, &opts)? {
            Ok(c) => {
                on_event(BookEvent::Resumed {
                    position: page.position,
                    step: c.step,
                });
                Some(c)
            }
            Err(Some(step)) => {
                on_event(BookEvent::Restarted {
                    position: page.position,
                    step,
                });
                None
            }
            Err(None) => None,
        };
        let resume = Resume {
            from: saved.as_ref().map(|c| c.state.as_slice()),
            save_every: Some(CHECKPOINT_EVERY),
            key: &page.sentence,
        };
        let mut frames = Vec::new();
        let mut lease_error = None;
        let drawn = illustrate_page(
            models.illustrator,
            models.model_ids,
            &page.sentence,
            &opts,
            resume,
            &stop,
            |r| {
                if let Some(state) = r.state {
                    let checkpoint = Checkpoint {
                        sentence: page.sentence.clone(),
                        step: r.step,
                        state: state.to_vec(),
                    };
                    if let Err(e) = lib.save_checkpoint(lease, page.position, &checkpoint) {
                        lease_error.get_or_insert(e);
                    }
                }
                if recipe.keep_frames {
                    if let Some(f) = r.frame {
                        frames.push((r.step, f.clone()));
                    }
                }
                if let Err(e) = lease.renew() {
                    lease_error.get_or_insert(e);
                }
                if cancel.load(Ordering::Relaxed) || lease_error.is_some() {
                    stop.store(true, Ordering::Relaxed);
                }
                on_event(BookEvent::Step {
                    position: page.position,
                    report: r,
                });
            },
        );
        if let Some(e) = lease_error {
            return Err(e.into());
        }
        let (png, result) = match drawn? {
            Drawn::Done(png, result) => (png, result),
            Drawn::Paused { step, state } => {
                let checkpoint = Checkpoint {
                    sentence: page.sentence.clone(),
                    step,
                    state,
                };
                lib.save_checkpoint(lease, page.position, &checkpoint)?;
                on_event(BookEvent::Paused {
                    position: page.position,
                    step,
                });
                return Err(crate::ml::Error::Cancelled.into());
            }
        };
        let new = NewPage {
            sentence: page.sentence.clone(),
            settings: serde_json::to_value(&opts).unwrap_or_default(),
            seed: opts.seed,
            iterations: result.iterations,
            similarity: Some(result.final_similarity as f64),
            png: Some(png),
        };
        if page.saved {
            lib.fill_picture(lease, page.position, &new)?;
        } else {
            lib.add_page_at(lease, page.position, &new)?;
        }
        for (step, frame) in frames {
            let bytes = crate::ml::image_io::encode_png_with_text(&frame, &[])?;
            lib.add_frame(book_id, page.position, step, &bytes)?;
        }
        on_event(BookEvent::PageSaved {
            position: page.position,
            similarity: result.final_similarity,
        });
    }
    Ok(lib
        .book(book_id)?
        .pages
        .into_iter()
        .map(|p| PageResult {
            sentence: p.sentence,
            similarity: p.similarity,
        })
        .collect())
}

/// The page's checkpoint if it can be continued: saved for this sentence with these options.
/// One that cannot (the page was edited, or the settings corrected since) is dropped, and the
/// step it had reached is returned as `Err(Some(step))` so the caller can say so.
fn usable_checkpoint(
    lib: &mut Library,
    book_id: i64,
    position: usize,
    sentence: &str,
    opts: &IllustrateOptions,
) -> Result<Result<Checkpoint, Option<usize>>, BookError> {
    let Some(c) = lib.checkpoint(book_id, position)? else {
        return Ok(Err(None));
    };
    if c.sentence == sentence && saved_step(&c.state, opts) == Some(c.step) {
        return Ok(Ok(c));
    }
    lib.clear_checkpoint(book_id, position)?;
    Ok(Err(Some(c.step)))
}

/// Redraws one page with its recorded settings (and optionally a new seed), replacing it.
/// `position` counts from 0; errors name the page as the user counts, from 1.
pub fn regenerate_page(
    lib: &mut Library,
    models: &DrawModels,
    book_id: i64,
    position: usize,
    seed: Option<u64>,
    cancel: &AtomicBool,
) -> Result<PageResult, BookError> {
    let book = lib.book(book_id)?;
    let page = book.pages.get(position).ok_or(BookError::NoSuchPage {
        book: book_id,
        page: position + 1,
        count: book.pages.len(),
    })?;
    let mut opts: IllustrateOptions =
        serde_json::from_value(page.settings.clone()).map_err(|e| {
            BookError::Invalid(format!(
                "page {} has no recorded settings ({e})",
                position + 1
            ))
        })?;
    if let Some(seed) = seed {
        opts.seed = seed;
    }
    opts.precision = models.illustrator.precision();
    let (png, result) = match illustrate_page(
        models.illustrator,
        models.model_ids,
        &page.sentence,
        &opts,
        Resume::default(),
        cancel,
        |_| {},
    )? {
        Drawn::Done(png, result) => (png, result),
        Drawn::Paused { .. } => return Err(crate::ml::Error::Cancelled.into()),
    };
    lib.update_page(
        book_id,
        position,
        &NewPage {
            sentence: page.sentence.clone(),
            settings: serde_json::to_value(&opts).unwrap_or_default(),
            seed: opts.seed,
            iterations: result.iterations,
            similarity: Some(result.final_similarity as f64),
            png: Some(png),
        },
    )
    .map_err(|e| match e {
        StoreError::PageOutOfRange { count, .. } => BookError::NoSuchPage {
            book: book_id,
            page: position + 1,
            count,
        },
        e => e.into(),
    })?;
    Ok(PageResult {
        sentence: page.sentence.clone(),
        similarity: Some(result.final_similarity as f64),
    })
}
