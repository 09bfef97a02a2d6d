//! Story generation: several sequences sampled side by side in one batch, with a KV cache,
//! streamed token by token to a callback so the studio can show them as they grow.

use std::ops::ControlFlow;
use std::time::Instant;

use candle_core::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::ml::banned::BannedWords;
use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::models::gpt2::Gpt2;
use crate::ml::sampling::{apply_repetition_penalty, choose, SamplingOptions};
use crate::ml::{Error, Result};
use crate::story::sentences::{split_sentences, trim_to_last_sentence};

/// GPT-2's end-of-text token.
pub const END_OF_TEXT: u32 = 50256;

/// How often a banned candidate may be redrawn before we give up on a step.
const MAX_REDRAWS: usize = 2000;

/// One new token of one sequence, as it is produced.
#[derive(Debug, Clone)]
pub struct StreamToken<'a> {
    pub sequence: usize,
    pub token_id: u32,
    /// The text this token adds (empty while a multi-byte character is still incomplete).
    pub text: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sequence {
    /// The prompt followed by the continuation, trimmed to a full sentence when asked.
    pub text: String,
    /// Raw sampled ids, before any trimming; includes the end-of-text token if one was drawn.
    pub generated_token_ids: Vec<u32>,
    pub sentences: Vec<String>,
    #[serde(skip)]
    pub stopped_at_eos: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    /// How the model kept its weights while writing.
    pub weights: crate::ml::kernels::packed_weight::WeightFormat,
    pub prompt_token_ids: Vec<u32>,
    pub sequences: Vec<Sequence>,
    pub tokens_per_second: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A prompt fitted into the model's window, with a note when it had to be shortened.
pub struct FittedPrompt {
    pub ids: Vec<u32>,
    pub warning: Option<String>,
}

/// Keeps the prompt's last tokens when prompt plus new tokens would overflow the context window.
/// Left truncation keeps the words nearest to where the story continues.
pub fn fit_prompt(
    ids: Vec<u32>,
    max_new_tokens: usize,
    n_positions: usize,
) -> Result<FittedPrompt> {
    if ids.is_empty() {
        return Err(Error::Input(
            "the prompt is empty; type a few words to start the story".into(),
        ));
    }
    if max_new_tokens >= n_positions {
        return Err(Error::Input(format!(
            "max new tokens ({max_new_tokens}) must be less than the model's window of {n_positions} tokens"
        )));
    }
    let room = n_positions - max_new_tokens;
    if ids.len() <= room {
        return Ok(FittedPrompt { ids, warning: None });
    }
    let warning = format!(
        "the prompt is {} tokens long; only its last {room} were kept so that {max_new_tokens} new \
         tokens fit in the model's {n_positions}-token window",
        ids.len()
    );
    Ok(FittedPrompt {
        ids: ids[ids.len() - room..].to_vec(),
        warning: Some(warning),
    })
}

struct SequenceState {
    ids: Vec<u32>,
    text: String,
    rng: ChaCha8Rng,
    done: bool,
    stopped_at_eos: bool,
}

/// Writes `opts.num_sequences` continuations of `prompt`.
pub fn generate(
    model: &Gpt2,
    tokenizer: &TextTokenizer,
    prompt: &str,
    opts: &SamplingOptions,
    on_token: impl FnMut(StreamToken) -> ControlFlow<()>,
) -> Result<Generation> {
    generate_until(model, tokenizer, prompt, opts, |_| false, on_token)
}

/// [`generate`], where a sequence also ends as soon as `enough` says its continuation's text
/// (without the prompt) holds all a caller will keep. Each step streams every weight once for
/// the whole batch, so the steps saved are the ones after the last sequence has enough.
pub fn generate_until(
    model: &Gpt2,
    tokenizer: &TextTokenizer,
    prompt: &str,
    opts: &SamplingOptions,
    enough: impl Fn(&str) -> bool,
    mut on_token: impl FnMut(StreamToken) -> ControlFlow<()>,
) -> Result<Generation> {
    opts.validate().map_err(Error::Input)?;
    if prompt.trim().is_empty() {
        return Err(Error::Input(
            "the prompt is empty; type a few words to start the story".into(),
        ));
    }
    let ids = tokenizer.encode(prompt)?;
    let fitted = fit_prompt(ids, opts.max_new_tokens, model.config().n_positions)?;
    // A WordPiece model's text is rebuilt from ids (its prompt may hold `[CLS]`, and spaces
    // between CJK characters are not part of the text).
    let prompt_text = if fitted.warning.is_some() || tokenizer.is_wordpiece() {
        tokenizer.decode(&fitted.ids)?
    } else {
        prompt.to_string()
    };
    let banned = BannedWords::new(&opts.banned_words, tokenizer)?;
    let eos = model.config().eos_token_id.unwrap_or(END_OF_TEXT);
    let n = opts.num_sequences;
    let started = Instant::now();

    // The prompt is read once and its cache copied to every sequence.
    let mut cache = model.new_cache();
    let prompt_tensor = Tensor::new(fitted.ids.as_slice(), model.device())?.unsqueeze(0)?;
    let first = model.forward_last(&prompt_tensor, &mut cache)?;
    cache.expand_batch(n)?;
    let mut logits_rows: Vec<Vec<f32>> = vec![first.squeeze(0)?.to_vec1::<f32>()?; n];

    let mut states: Vec<SequenceState> = (0..n)
        .map(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
            rng.set_stream(i as u64);
            SequenceState {
                ids: Vec::new(),
                text: String::new(),
                rng,
                done: false,
                stopped_at_eos: false,
            }
        })
        .collect();
    let mut generated = 0usize;

    for step in 0..opts.max_new_tokens {
        let last_step = step + 1 == opts.max_new_tokens;
        let mut next = Vec::with_capacity(n);
        for (i, state) in states.iter_mut().enumerate() {
            if state.done {
                next.push(eos);
                continue;
            }
            let logits = &mut logits_rows[i];
            let history: Vec<u32> = fitted.ids.iter().chain(&state.ids).copied().collect();
            apply_repetition_penalty(logits, &history, opts.repetition_penalty as f32);
            if state.ids.len() < opts.min_new_tokens || !opts.stop_at_eos {
                if let Some(l) = logits.get_mut(eos as usize) {
                    *l = f32::NEG_INFINITY;
                }
            }
            banned.mask(logits);
            let token = pick_allowed(logits, opts, state, &banned, tokenizer, eos, last_step)?;
            state.ids.push(token);
            generated += 1;
            if token == eos {
                state.done = true;
                state.stopped_at_eos = true;
            } else {
                let text = continuation_text(tokenizer, &fitted.ids, &prompt_text, &state.ids)?;
                let delta = if !text.ends_with('\u{FFFD}') && text.starts_with(&state.text) {
                    let delta = text[state.text.len()..].to_string();
                    state.text = text;
                    delta
                } else {
                    String::new()
                };
                let event = StreamToken {
                    sequence: i,
                    token_id: token,
                    text: &delta,
                };
                if on_token(event).is_break() {
                    return Err(Error::Cancelled);
                }
                state.done = enough(&state.text);
            }
            next.push(token);
        }
        if last_step || states.iter().all(|s| s.done) {
            break;
        }
        let input = Tensor::from_vec(next, (n, 1), model.device())?;
        let logits = model.forward_last(&input, &mut cache)?;
        logits_rows = logits.to_vec2::<f32>()?;
    }
    let seconds = started.elapsed().as_secs_f64();

    let sequences = states
        .into_iter()
        .map(|state| {
            let continuation_ids: Vec<u32> =
                state.ids.iter().copied().filter(|&t| t != eos).collect();
            let continuation =
                continuation_text(tokenizer, &fitted.ids, &prompt_text, &continuation_ids)?;
            let mut text = format!("{prompt_text}{continuation}");
            if opts.trim_to_sentence {
                text = trim_to_last_sentence(&text, prompt_text.len()).to_string();
            }
            Ok(Sequence {
                sentences: split_sentences(&text),
                text,
                generated_token_ids: state.ids,
                stopped_at_eos: state.stopped_at_eos,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Generation {
        weights: model.weights(),
        prompt_token_ids: fitted.ids,
        sequences,
        tokens_per_second: if seconds > 0.0 {
            generated as f64 / seconds
        } else {
            0.0
        },
        warnings: fitted.warning.into_iter().collect(),
    })
}

/// The text of `ids` as it continues the prompt. A WordPiece model's pieces are decoded with the
/// prompt, so a `##` piece joins the word before it and no space is left between characters.
fn continuation_text(
    tokenizer: &TextTokenizer,
    prompt_ids: &[u32],
    prompt_text: &str,
    ids: &[u32],
) -> Result<String> {
    if !tokenizer.is_wordpiece() {
        return tokenizer.decode(ids);
    }
    let all: Vec<u32> = prompt_ids.iter().chain(ids).copied().collect();
    let text = tokenizer.decode(&all)?;
    match text.strip_prefix(prompt_text) {
        Some(rest) => Ok(rest.to_string()),
        // The prompt's last piece changed with what followed: the new ids alone, then.
        None => tokenizer.decode(ids),
    }
}

/// Draws a token, masking and redrawing any candidate that would complete a banned word.
fn pick_allowed(
    logits: &mut [f32],
    opts: &SamplingOptions,
    state: &mut SequenceState,
    banned: &BannedWords,
    tokenizer: &TextTokenizer,
    eos: u32,
    last_step: bool,
) -> Result<u32> {
    for _ in 0..MAX_REDRAWS {
        let Some(token) = choose(logits, opts, &mut state.rng) else {
            break;
        };
        if banned.is_empty() {
            return Ok(token);
        }
        let candidate_text = if token == eos {
            state.text.clone()
        } else {
            let mut ids = state.ids.clone();
            ids.push(token);
            tokenizer.decode(&ids)?
        };
        if !banned.violates(&candidate_text, token == eos || last_step) {
            return Ok(token);
        }
        logits[token as usize] = f32::NEG_INFINITY;
    }
    Err(Error::Input(
        "every possible next token would write a banned word; ban fewer words or change the prompt"
            .into(),
    ))
}
