//! Writing a book's story: GPT-2 continues the prompt, and continues its own story again while
//! it has fewer sentences than the pages asked for, so `--pages N` is honoured or explained.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{BookError, BookModels};
use crate::ml::generate::{generate, StreamToken, END_OF_TEXT};
use crate::ml::sampling::SamplingOptions;
use crate::story::sentences::{complete_sentences, split_sentences};

/// How many times the model may write (the first pass and its continuations) for one story.
pub const MAX_STORY_PASSES: usize = 8;

/// A written story and the sentences chosen as pages.
#[derive(Debug, Clone)]
pub struct Story {
    pub text: String,
    pub sentences: Vec<String>,
    /// Sentences for the user: a shortened prompt, or fewer pages than asked for and why.
    pub warnings: Vec<String>,
}

/// Writes the story and picks its first `pages` sentences as pages. While the story has fewer
/// sentences, the model continues it (each pass sees the end of the story so far, with the
/// next seed), up to [`MAX_STORY_PASSES`] passes; only complete sentences are kept from a pass.
pub fn write_story(
    models: &BookModels,
    prompt: &str,
    sampling: &SamplingOptions,
    pages: usize,
    cancel: &AtomicBool,
) -> Result<Story, BookError> {
    let opts = SamplingOptions {
        num_sequences: 1,
        trim_to_sentence: true,
        ..sampling.clone()
    };
    let stop = |_: StreamToken<'_>| {
        if cancel.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let generation = generate(models.gpt2, models.gpt2_tokenizer, prompt, &opts, stop)?;
    let mut warnings = generation.warnings;
    let mut text = generation
        .sequences
        .into_iter()
        .next()
        .ok_or_else(|| BookError::Invalid("the story model wrote nothing".into()))?
        .text;
    let mut passes = 1;
    while split_sentences(&text).len() < pages && passes < MAX_STORY_PASSES {
        let more = SamplingOptions {
            seed: opts.seed.wrapping_add(passes as u64),
            ..opts.clone()
        };
        // The story so far is the prompt; it is cut to the model's window, which is expected.
        let next = generate(models.gpt2, models.gpt2_tokenizer, &text, &more, stop)?;
        passes += 1;
        let Some(seq) = next.sequences.into_iter().next() else {
            break;
        };
        let ids: Vec<u32> = seq
            .generated_token_ids
            .into_iter()
            .filter(|&t| t != END_OF_TEXT)
            .collect();
        let continuation = models.gpt2_tokenizer.decode(&ids)?;
        if let Some(complete) = complete_sentences(&continuation) {
            text.push_str(complete);
        }
    }
    let mut sentences = split_sentences(&text);
    if sentences.is_empty() {
        return Err(BookError::Invalid(
            "the story has no sentences to illustrate; try another prompt or seed".into(),
        ));
    }
    if sentences.len() < pages {
        let n = sentences.len();
        warnings.push(format!(
            "the story has {n} sentence{s}, so the book has {n} page{s}, not {pages}: in \
             {passes} tries of up to {} new tokens the story model wrote no more complete \
             sentences; raise --max-tokens or try another --seed for a longer story",
            opts.max_new_tokens,
            s = if n == 1 { "" } else { "s" }
        ));
    }
    sentences.truncate(pages.max(1));
    Ok(Story {
        text,
        sentences,
        warnings,
    })
}
