//! Image to prompt: words that would draw this picture again, in the manner of
//! clip-interrogator (rank lexicon terms by CLIP, then join or greedily chain the best).

use std::collections::BTreeMap;

use super::label_cache::embed_texts;
use super::rank::{dot, rank, Ranked};
use super::Labels;
use crate::ml::models::clip::tokenize::ClipTokenizer;
use crate::ml::models::clip::Clip;
use crate::ml::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptMode {
    /// Subject, scene, the best medium and style, and the top modifiers.
    #[default]
    Fast,
    /// Greedily adds whichever term raises CLIP similarity most, while it keeps rising.
    Best,
    /// The terms least like the image, for a negative prompt.
    Negative,
}

impl PromptMode {
    /// Whether BLIP's caption belongs in this prompt: a negative prompt lists what the picture
    /// is not, so it has none (and no caption need be computed for it).
    pub fn wants_caption(self) -> bool {
        self != Self::Negative
    }
}

impl std::str::FromStr for PromptMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "fast" => Ok(Self::Fast),
            "best" => Ok(Self::Best),
            "negative" => Ok(Self::Negative),
            _ => Err(format!("unknown mode '{s}'; choose fast, best or negative")),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PromptResult {
    pub prompt: String,
    /// BLIP's caption, which leads the prompt; none when captions are off.
    pub caption: Option<String>,
    /// CLIP cosine similarity of the prompt to the image.
    pub similarity: f32,
    pub mode: PromptMode,
    /// Per lexicon, the `top` best terms (the least alike, for negative), scores sorted.
    pub terms: BTreeMap<String, Vec<Ranked>>,
}

/// Lexicons whose terms describe how a picture is made, the pool for modifiers and chaining.
const FLAVOURS: [&str; 3] = ["mediums", "styles", "modifiers"];
/// Candidates per lexicon that `best` mode tries, so each round is one modest CLIP batch.
const CHAIN_POOL: usize = 12;
const CHAIN_ROUNDS: usize = 12;

pub fn image_to_prompt(
    clip: &Clip,
    tokenizer: &ClipTokenizer,
    labels: &Labels,
    image: &[f32],
    mode: PromptMode,
    top: usize,
    caption: Option<&str>,
) -> Result<PromptResult> {
    let top = top.max(1);
    let ranked: BTreeMap<String, Vec<Ranked>> = labels
        .sets
        .iter()
        .map(|l| (l.lexicon.clone(), rank(l, image)))
        .collect();
    let best = |lexicon: &str| -> Result<&Ranked> {
        ranked
            .get(lexicon)
            .and_then(|r| r.first())
            .ok_or_else(|| Error::Input(format!("the {lexicon} lexicon is missing or empty")))
    };
    let caption = caption.map(str::trim).filter(|c| !c.is_empty());
    let subject = match caption {
        Some(c) => fit_caption(tokenizer, c)?,
        _ => format!(
            "{} in {}",
            with_article(&best("subjects")?.term),
            with_article(&best("scenes")?.term)
        ),
    };
    let prompt = match mode {
        PromptMode::Fast => {
            let mut parts = vec![
                subject,
                best("mediums")?.term.clone(),
                best("styles")?.term.clone(),
            ];
            parts.extend(ranked["modifiers"].iter().take(top).map(|r| r.term.clone()));
            fit_to_context(tokenizer, parts)?
        }
        PromptMode::Best => chain(clip, tokenizer, image, subject, &ranked)?,
        PromptMode::Negative => {
            let mut worst: Vec<&Ranked> = FLAVOURS
                .iter()
                .filter_map(|l| ranked.get(*l))
                .flat_map(|r| r.iter().rev().take(top))
                .collect();
            worst.sort_by(|a, b| a.score.total_cmp(&b.score));
            fit_to_context(tokenizer, worst.iter().map(|r| r.term.clone()).collect())?
        }
    };
    let similarity = dot(&embed_texts(clip, tokenizer, &[&prompt])?[0], image);
    let terms = ranked
        .into_iter()
        .map(|(name, r)| {
            let shown = if mode == PromptMode::Negative {
                r.into_iter().rev().take(top).collect()
            } else {
                r.into_iter().take(top).collect()
            };
            (name, shown)
        })
        .collect();
    Ok(PromptResult {
        prompt,
        caption: caption.map(String::from),
        similarity,
        mode,
        terms,
    })
}

/// Starting from the subject, adds the candidate term that raises similarity most, one per
/// round, and stops when nothing raises it or the next prompt would not fit CLIP's context.
fn chain(
    clip: &Clip,
    tokenizer: &ClipTokenizer,
    image: &[f32],
    subject: String,
    ranked: &BTreeMap<String, Vec<Ranked>>,
) -> Result<String> {
    let mut pool: Vec<String> = FLAVOURS
        .iter()
        .filter_map(|l| ranked.get(*l))
        .flat_map(|r| r.iter().take(CHAIN_POOL).map(|t| t.term.clone()))
        .collect();
    let mut prompt = subject;
    let mut score = dot(&embed_texts(clip, tokenizer, &[&prompt])?[0], image);
    for _ in 0..CHAIN_ROUNDS {
        let tries: Vec<String> = pool.iter().map(|t| format!("{prompt}, {t}")).collect();
        let fits: Vec<usize> = (0..tries.len())
            .filter(|&i| {
                tokenizer
                    .token_count(&tries[i])
                    .is_ok_and(|n| n <= tokenizer.context())
            })
            .collect();
        if fits.is_empty() {
            break;
        }
        let texts: Vec<&str> = fits.iter().map(|&i| tries[i].as_str()).collect();
        let embeds = embed_texts(clip, tokenizer, &texts)?;
        let (best_i, best_score) = embeds
            .iter()
            .enumerate()
            .map(|(k, e)| (fits[k], dot(e, image)))
            .fold((usize::MAX, f32::NEG_INFINITY), |acc, x| {
                if x.1 > acc.1 {
                    x
                } else {
                    acc
                }
            });
        if best_score <= score {
            break;
        }
        prompt = tries[best_i].clone();
        score = best_score;
        pool.remove(best_i);
    }
    Ok(prompt)
}

/// The caption's leading words that fit CLIP's context, so a long caption is shortened
/// rather than dropped whole (which would leave nothing to build the prompt on).
fn fit_caption(tokenizer: &ClipTokenizer, caption: &str) -> Result<String> {
    let mut words: Vec<&str> = caption.split_whitespace().collect();
    while words.len() > 1 && tokenizer.token_count(&words.join(" "))? > tokenizer.context() {
        words.pop();
    }
    Ok(words.join(" "))
}

/// Joins parts with commas, dropping trailing parts that would overflow CLIP's context.
fn fit_to_context(tokenizer: &ClipTokenizer, parts: Vec<String>) -> Result<String> {
    let mut prompt = String::new();
    for part in parts {
        let next = if prompt.is_empty() {
            part
        } else {
            format!("{prompt}, {part}")
        };
        if tokenizer.token_count(&next)? > tokenizer.context() {
            break;
        }
        prompt = next;
    }
    Ok(prompt)
}

/// "fox" → "a fox", "owl" → "an owl"; plurals and phrases with an article stay as they are.
pub fn with_article(term: &str) -> String {
    let lower = term.to_lowercase();
    let has_article = ["a ", "an ", "the "].iter().any(|a| lower.starts_with(a));
    let singular_s = ["ss", "us", "is", "os"].iter().any(|e| lower.ends_with(e));
    if has_article || (lower.ends_with('s') && !singular_s) {
        return term.to_string();
    }
    let vowel = lower.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {term}", if vowel { "an" } else { "a" })
}
