//! The book pipeline: prompt → story → pages → an illustration per page → a saved book.
//!
//! Every setting goes into the library with the book (sampling options, the planned sentences,
//! each page's illustration options and seed), so an interrupted book can be resumed and any page
//! regenerated identically. Each page is saved the moment it is finished.

use std::ops::ControlFlow;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::ml::generate::generate;
use crate::ml::illustrate::{
    IllustrateOptions, Illustration, Illustrator, ImageInputs, StepReport,
};
use crate::ml::image_io::ascii_json;
use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::models::gpt2::Gpt2;
use crate::ml::sampling::SamplingOptions;
use crate::store::{Library, NewBook, NewPage};

/// What the library keeps in `story_settings`, enough to resume or redo a book.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BookRecipe {
    pub sampling: SamplingOptions,
    pub illustration: IllustrateOptions,
    /// The sentences chosen as pages, in order, including those not illustrated yet.
    pub planned_sentences: Vec<String>,
    pub story_text: String,
    #[serde(default)]
    pub keep_frames: bool,
}

/// Progress a front end can show.
pub enum BookEvent<'a> {
    StoryWritten {
        sentences: &'a [String],
    },
    PageStarted {
        position: usize,
        sentence: &'a str,
    },
    Step {
        position: usize,
        report: &'a StepReport<'a>,
    },
    PageSaved {
        position: usize,
        similarity: f32,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct PageResult {
    pub sentence: String,
    pub similarity: Option<f64>,
}

pub struct BookModels<'a> {
    pub gpt2: &'a Gpt2,
    pub gpt2_tokenizer: &'a TextTokenizer,
    pub illustrator: Illustrator<'a>,
    pub model_ids: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    #[error(transparent)]
    Ml(#[from] crate::ml::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Invalid(String),
}

/// Writes the story and picks its first `pages` sentences as pages.
pub fn write_story(
    models: &BookModels,
    prompt: &str,
    sampling: &SamplingOptions,
    pages: usize,
) -> Result<(String, Vec<String>), BookError> {
    let opts = SamplingOptions {
        num_sequences: 1,
        trim_to_sentence: true,
        ..sampling.clone()
    };
    let generation = generate(models.gpt2, models.gpt2_tokenizer, prompt, &opts, |_| {
        ControlFlow::Continue(())
    })?;
    let seq = generation
        .sequences
        .into_iter()
        .next()
        .ok_or_else(|| BookError::Invalid("the story model wrote nothing".into()))?;
    let mut sentences = seq.sentences;
    sentences.truncate(pages.max(1));
    if sentences.is_empty() {
        return Err(BookError::Invalid(
            "the story has no sentences to illustrate; try another prompt or seed".into(),
        ));
    }
    Ok((seq.text, sentences))
}

pub fn title_of(prompt: &str) -> String {
    let t: String = prompt.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut title: String = t.chars().take(60).collect();
    if t.chars().count() > 60 {
        title.push('…');
    }
    title
}

/// The page's own options: the book's, with a per-page seed so pages differ but reproduce.
pub fn page_options(recipe: &BookRecipe, position: usize) -> IllustrateOptions {
    IllustrateOptions {
        seed: recipe.illustration.seed.wrapping_add(position as u64),
        preview_every: if recipe.keep_frames {
            recipe.illustration.preview_every.max(1)
        } else {
            recipe.illustration.preview_every
        },
        ..recipe.illustration.clone()
    }
}

/// Illustrates one sentence and returns the PNG (with its recipe embedded) and the result.
fn illustrate_page(
    illustrator: &Illustrator,
    model_ids: &serde_json::Value,
    sentence: &str,
    opts: &IllustrateOptions,
    cancel: &AtomicBool,
    mut on_step: impl FnMut(&StepReport),
) -> Result<(Vec<u8>, Illustration), BookError> {
    let result = illustrator.run(sentence, &ImageInputs::default(), opts, cancel, |r| {
        on_step(&r)
    })?;
    let recipe = serde_json::json!({ "prompt": sentence, "options": opts, "models": model_ids });
    let png = crate::ml::image_io::encode_png_with_text(
        &result.image,
        &[("storybook-recipe", &ascii_json(&recipe))],
    )?;
    Ok((png, result))
}

/// Creates a book from a prompt, saving each page as soon as it is done.
pub fn create_book(
    lib: &mut Library,
    models: &BookModels,
    prompt: &str,
    recipe_in: (SamplingOptions, IllustrateOptions, usize, bool),
    cancel: &AtomicBool,
    mut on_event: impl FnMut(BookEvent),
) -> Result<(i64, Vec<PageResult>), BookError> {
    let (sampling, illustration, pages, keep_frames) = recipe_in;
    let (story_text, sentences) = write_story(models, prompt, &sampling, pages)?;
    on_event(BookEvent::StoryWritten {
        sentences: &sentences,
    });
    let recipe = BookRecipe {
        sampling: sampling.clone(),
        illustration: illustration.clone(),
        planned_sentences: sentences.clone(),
        story_text,
        keep_frames,
    };
    let book = NewBook {
        title: title_of(prompt),
        prompt: prompt.to_string(),
        story_settings: serde_json::to_value(&recipe).unwrap_or_default(),
        story_seed: sampling.seed,
        style_prefix: illustration.style_prefix.clone(),
        style_suffix: illustration.style_suffix.clone(),
        model_ids: models.model_ids.clone(),
        planned_pages: sentences.len(),
    };
    let id = lib.create_book(&book, &[])?;
    let pages = resume_book(lib, models, id, cancel, on_event)?;
    Ok((id, pages))
}

/// Illustrates and saves the pages a book still lacks; returns every page's result.
pub fn resume_book(
    lib: &mut Library,
    models: &BookModels,
    book_id: i64,
    cancel: &AtomicBool,
    mut on_event: impl FnMut(BookEvent),
) -> Result<Vec<PageResult>, BookError> {
    let book = lib.book(book_id)?;
    let recipe: BookRecipe = serde_json::from_value(book.story_settings.clone())
        .map_err(|e| BookError::Invalid(format!("book {book_id} has no resumable recipe ({e})")))?;
    let mut results: Vec<PageResult> = book
        .pages
        .iter()
        .map(|p| PageResult {
            sentence: p.sentence.clone(),
            similarity: p.similarity,
        })
        .collect();
    for position in book.pages.len()..recipe.planned_sentences.len() {
        let sentence = recipe.planned_sentences[position].clone();
        on_event(BookEvent::PageStarted {
            position,
            sentence: &sentence,
        });
        let opts = page_options(&recipe, position);
        let mut frames = Vec::new();
        let (png, result) = illustrate_page(
            &models.illustrator,
            &models.model_ids,
            &sentence,
            &opts,
            cancel,
            |r| {
                if recipe.keep_frames {
                    if let Some(f) = r.frame {
                        frames.push((r.step, f.clone()));
                    }
                }
                on_event(BookEvent::Step {
                    position,
                    report: r,
                });
            },
        )?;
        lib.add_page(
            book_id,
            &NewPage {
                sentence: sentence.clone(),
                settings: serde_json::to_value(&opts).unwrap_or_default(),
                seed: opts.seed,
                iterations: result.iterations,
                similarity: Some(result.final_similarity as f64),
                png: Some(png),
            },
        )?;
        for (step, frame) in frames {
            let bytes = crate::ml::image_io::encode_png_with_text(&frame, &[])?;
            lib.add_frame(book_id, position, step, &bytes)?;
        }
        on_event(BookEvent::PageSaved {
            position,
            similarity: result.final_similarity,
        });
        results.push(PageResult {
            sentence,
            similarity: Some(result.final_similarity as f64),
        });
    }
    Ok(results)
}

/// Redraws one page with its recorded settings (and optionally a new seed), replacing it.
pub fn regenerate_page(
    lib: &mut Library,
    illustrator: &Illustrator,
    model_ids: &serde_json::Value,
    book_id: i64,
    position: usize,
    seed: Option<u64>,
    cancel: &AtomicBool,
) -> Result<PageResult, BookError> {
    let book = lib.book(book_id)?;
    let page = book
        .pages
        .get(position)
        .ok_or(crate::store::StoreError::PageOutOfRange {
            book: book_id,
            page: position,
            count: book.pages.len(),
        })?;
    let mut opts: IllustrateOptions =
        serde_json::from_value(page.settings.clone()).map_err(|e| {
            BookError::Invalid(format!("page {position} has no recorded settings ({e})"))
        })?;
    if let Some(seed) = seed {
        opts.seed = seed;
    }
    let (png, result) = illustrate_page(
        illustrator,
        model_ids,
        &page.sentence,
        &opts,
        cancel,
        |_| {},
    )?;
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
    )?;
    Ok(PageResult {
        sentence: page.sentence.clone(),
        similarity: Some(result.final_similarity as f64),
    })
}
