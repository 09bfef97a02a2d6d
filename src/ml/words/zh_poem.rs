//! A classical Chinese poem for a picture, the Image2Poem way: Chinese CLIP picks imagery
//! keywords, a Chinese poem GPT-2 writes candidates, Chinese CLIP ranks them against the picture.
//!
//! Image2Poem prompts its own CCPC-trained model with `[CLS]关键词：明月 故乡 [EOS]`. The public
//! poem GPT-2 (uer/gpt2-chinese-poem) was trained on poems alone, starting at `[CLS]`, and has
//! never seen such a prompt, so here the keywords go into the poem itself: each candidate opens
//! its first line with one keyword and its third with another, and the model writes the rest.
//!
//! `--form 5|7` is enforced while decoding, not filtered afterwards: inside a line only tokens
//! that are one Chinese character may be drawn, and at the line's end the punctuation is
//! written, ， after odd lines and 。 after even ones, as regulated verse is punctuated.

use std::ops::ControlFlow;

use candle_core::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::poem::{rank_candidates, Candidate};
use super::rank::Ranked;
use super::zh_keywords::ChineseWords;
use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::models::gpt2::{Gpt2, KvCache};
use crate::ml::sampling::{apply_repetition_penalty, choose, SamplingOptions};
use crate::ml::{Error, Result};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ZhPoemOptions {
    /// Characters per line: 5 (五言) or 7 (七言).
    pub form: usize,
    pub lines: usize,
    pub candidates: usize,
    pub seed: u64,
    pub temperature: f64,
    /// How many of the best keywords the candidates draw their openings from.
    pub keywords: usize,
}

impl Default for ZhPoemOptions {
    fn default() -> Self {
        Self {
            form: 5,
            lines: 4,
            candidates: 3,
            seed: 0,
            temperature: 0.9,
            keywords: 4,
        }
    }
}

impl ZhPoemOptions {
    pub fn validate(&self) -> Result<()> {
        if self.form != 5 && self.form != 7 {
            return Err(Error::Input(format!(
                "a classical line has 5 or 7 characters, not {}",
                self.form
            )));
        }
        if self.lines == 0 || self.lines > 16 {
            return Err(Error::Input("a poem has between 1 and 16 lines".into()));
        }
        if self.candidates == 0 || self.candidates > 16 {
            return Err(Error::Input(
                "ask for between 1 and 16 candidate poems".into(),
            ));
        }
        if self.keywords == 0 {
            return Err(Error::Input("use at least one keyword".into()));
        }
        if !(0.0..=5.0).contains(&self.temperature) {
            return Err(Error::Input(
                "the temperature must be between 0 and 5".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ZhPoemResult {
    pub poem: String,
    /// The keywords Chinese CLIP found, best first.
    pub keywords: Vec<Ranked>,
    /// Best first, by the Chinese CLIP similarity of each poem to the picture.
    pub candidates: Vec<Candidate>,
}

/// The vocabulary split the form needs: tokens that are one Chinese character, and the two
/// line-end marks.
struct Alphabet {
    hanzi: Vec<u32>,
    comma: u32,
    stop: u32,
    cls: u32,
}

impl Alphabet {
    fn new(tokenizer: &TextTokenizer, vocab: usize) -> Result<Self> {
        let need = |t: &str| {
            tokenizer.token_id(t).ok_or_else(|| {
                Error::Input(format!(
                    "the poem GPT-2's tokenizer has no '{t}'; it is not a Chinese poem model"
                ))
            })
        };
        // Read from the vocabulary's strings, not by decoding 21,128 ids one by one: a token
        // that is one character decodes to itself, and a `##` piece is never one character.
        // Ids past the model's head are never drawn (the loader refuses such a pair anyway).
        let mut hanzi: Vec<u32> = tokenizer
            .vocab()
            .into_iter()
            .filter(|(token, id)| {
                let mut chars = token.chars();
                let one = matches!((chars.next(), chars.next()), (Some(c), None) if is_hanzi(c));
                one && (*id as usize) < vocab
            })
            .map(|(_, id)| id)
            .collect();
        // Sorted, for the binary searches that check a keyword's characters.
        hanzi.sort_unstable();
        if hanzi.is_empty() {
            return Err(Error::Input(
                "the poem GPT-2's tokenizer has no Chinese characters".into(),
            ));
        }
        Ok(Self {
            hanzi,
            comma: need("，")?,
            stop: need("。")?,
            cls: need("[CLS]")?,
        })
    }
}

/// A CJK ideograph (not punctuation, not kana).
fn is_hanzi(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

/// Writes `opts.candidates` poems that open with the picture's keywords and ranks them.
/// `on_line(candidate)` is called after each line; `Break` cancels.
pub fn image_to_zh_poem(
    words: &ChineseWords,
    gpt2: &Gpt2,
    tokenizer: &TextTokenizer,
    image: &[f32],
    opts: &ZhPoemOptions,
    mut on_line: impl FnMut(usize) -> ControlFlow<()>,
) -> Result<ZhPoemResult> {
    opts.validate()?;
    let needed = 1 + opts.lines * (opts.form + 1);
    if needed > gpt2.config().n_positions {
        return Err(Error::Input(format!(
            "{} lines of {} characters need {needed} tokens, more than this model's {}",
            opts.lines,
            opts.form,
            gpt2.config().n_positions
        )));
    }
    let alphabet = Alphabet::new(tokenizer, gpt2.config().vocab_size)?;
    let keywords = words.keywords_for(image, opts.keywords);
    let openings: Vec<Vec<u32>> = keywords
        .iter()
        .filter_map(|k| opening(tokenizer, &alphabet, &k.term, opts.form))
        .collect();
    // Candidate c opens line 1 with keyword c and line 3 with the next one.
    let seeds = |c: usize, line: usize| -> Vec<u32> {
        if openings.is_empty() || line % 2 == 1 || line > 2 {
            return Vec::new();
        }
        openings[(c + line / 2) % openings.len()].clone()
    };
    let mut rngs: Vec<ChaCha8Rng> = (0..opts.candidates)
        .map(|c| {
            let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
            rng.set_stream(c as u64);
            rng
        })
        .collect();
    let ids = write_all(gpt2, &alphabet, opts, &seeds, &mut rngs, &mut on_line)?;
    let poems = ids
        .iter()
        .map(|ids| lines_of(tokenizer, ids, opts.form))
        .collect::<Result<Vec<_>>>()?;
    let texts: Vec<&str> = poems.iter().map(String::as_str).collect();
    let embeds = words.embed(&texts)?;
    let candidates = rank_candidates(poems, &embeds, image);
    Ok(ZhPoemResult {
        poem: candidates[0].poem.clone(),
        keywords,
        candidates,
    })
}

/// A keyword's character tokens, when it is all Chinese characters and shorter than a line.
fn opening(tokenizer: &TextTokenizer, a: &Alphabet, term: &str, form: usize) -> Option<Vec<u32>> {
    let ids = tokenizer.encode(term).ok()?;
    let fits = !ids.is_empty() && ids.len() < form;
    (fits && ids.iter().all(|id| a.hanzi.binary_search(id).is_ok())).then_some(ids)
}

/// Every candidate's ids after `[CLS]`: for each line, its forced opening, drawn characters up
/// to the form, then its punctuation. The candidates are decoded together as one batch: each
/// step streams every weight once whatever the batch, so three poems cost about one. All rows
/// grow by one token per position, so forced tokens simply wait, in `pending`, for the next
/// step that must draw.
fn write_all(
    gpt2: &Gpt2,
    a: &Alphabet,
    opts: &ZhPoemOptions,
    seeds: &dyn Fn(usize, usize) -> Vec<u32>,
    rngs: &mut [ChaCha8Rng],
    on_line: &mut dyn FnMut(usize) -> ControlFlow<()>,
) -> Result<Vec<Vec<u32>>> {
    let sampling = SamplingOptions {
        temperature: opts.temperature,
        top_k: 40,
        top_p: 0.95,
        ..SamplingOptions::default()
    };
    let n = rngs.len();
    let mut cache = gpt2.new_cache();
    let mut history = vec![vec![a.cls]; n];
    let mut pending = vec![vec![a.cls]; n];
    let mut out = vec![Vec::new(); n];
    for line in 0..opts.lines {
        let forced: Vec<Vec<u32>> = (0..n)
            .map(|c| {
                let mut f = seeds(c, line);
                f.truncate(opts.form - 1);
                f
            })
            .collect();
        let end = if line % 2 == 0 { a.comma } else { a.stop };
        for pos in 0..=opts.form {
            let draws = pos < opts.form && forced.iter().any(|f| pos >= f.len());
            let logits = match draws {
                true => Some(step(gpt2, &mut pending, &mut cache)?),
                false => None,
            };
            for c in 0..n {
                let token = if pos < forced[c].len() {
                    forced[c][pos]
                } else if pos == opts.form {
                    end
                } else {
                    let row = &logits.as_ref().expect("a step was taken for this draw")[c];
                    let mut masked = vec![f32::NEG_INFINITY; row.len()];
                    for &id in &a.hanzi {
                        masked[id as usize] = row[id as usize];
                    }
                    apply_repetition_penalty(&mut masked, &history[c], 1.2);
                    choose(&masked, &sampling, &mut rngs[c]).ok_or_else(|| {
                        Error::Input("the poem model gave no usable character".into())
                    })?
                };
                history[c].push(token);
                pending[c].push(token);
                out[c].push(token);
            }
        }
        for c in 0..n {
            if on_line(c).is_break() {
                return Err(Error::Cancelled);
            }
        }
    }
    Ok(out)
}

/// Feeds every row's pending tokens (all rows hold as many) and returns each row's next-token
/// logits.
fn step(gpt2: &Gpt2, pending: &mut [Vec<u32>], cache: &mut KvCache) -> Result<Vec<Vec<f32>>> {
    let (n, k) = (pending.len(), pending[0].len());
    let flat: Vec<u32> = pending.iter().flat_map(|p| p.iter().copied()).collect();
    let input = Tensor::from_vec(flat, (n, k), gpt2.device())?;
    let logits = gpt2.forward_last(&input, cache)?;
    for p in pending.iter_mut() {
        p.clear();
    }
    Ok(logits.to_vec2::<f32>()?)
}

/// The poem's text, one line per row, without spaces.
fn lines_of(tokenizer: &TextTokenizer, ids: &[u32], form: usize) -> Result<String> {
    let lines = ids
        .chunks(form + 1)
        .map(|line| tokenizer.decode(line).map(|t| t.replace(' ', "")))
        .collect::<Result<Vec<_>>>()?;
    Ok(lines.join("\n"))
}
