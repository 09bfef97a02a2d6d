//! Turning a row of logits into the next token: repetition penalty, temperature, top-k, top-p,
//! and a seeded draw. Definitions follow transformers' logits processors so that settings mean
//! the same thing here as in a Python notebook.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Everything that shapes a story's sampling. Stored with each book so a page can be redone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingOptions {
    /// 0 means greedy (always the most likely token).
    pub temperature: f64,
    /// Keep only the k most likely tokens; 0 turns it off.
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches p; 1 turns it off.
    pub top_p: f64,
    /// transformers' definition: divide positive logits of seen tokens by it, multiply negative ones.
    pub repetition_penalty: f64,
    pub min_new_tokens: usize,
    pub max_new_tokens: usize,
    pub stop_at_eos: bool,
    pub num_sequences: usize,
    pub seed: u64,
    /// Words (or phrases) the story must never contain, matched as whole words, any case.
    pub banned_words: Vec<String>,
    /// Cut each story after its last complete sentence.
    pub trim_to_sentence: bool,
}

impl Default for SamplingOptions {
    fn default() -> Self {
        Self {
            temperature: 0.9,
            top_k: 50,
            top_p: 0.95,
            repetition_penalty: 1.2,
            min_new_tokens: 20,
            max_new_tokens: 120,
            stop_at_eos: true,
            num_sequences: 3,
            seed: 42,
            banned_words: Vec::new(),
            trim_to_sentence: true,
        }
    }
}

impl SamplingOptions {
    /// Plain greedy decoding, as `model.generate(do_sample=False)`.
    pub fn greedy(max_new_tokens: usize) -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            repetition_penalty: 1.0,
            min_new_tokens: 0,
            max_new_tokens,
            num_sequences: 1,
            trim_to_sentence: false,
            ..Self::default()
        }
    }

    /// Rejects settings that have no meaning, with a sentence naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        let finite = |v: f64| v.is_finite();
        if !finite(self.temperature) || self.temperature < 0.0 {
            return Err(format!(
                "temperature must be 0 or more (got {})",
                self.temperature
            ));
        }
        if !finite(self.top_p) || self.top_p <= 0.0 || self.top_p > 1.0 {
            return Err(format!("top-p must be in (0, 1] (got {})", self.top_p));
        }
        if !finite(self.repetition_penalty) || self.repetition_penalty <= 0.0 {
            return Err(format!(
                "repetition penalty must be positive (got {})",
                self.repetition_penalty
            ));
        }
        if self.max_new_tokens == 0 {
            return Err("max new tokens must be at least 1".into());
        }
        if self.min_new_tokens > self.max_new_tokens {
            return Err(format!(
                "min new tokens ({}) is more than max new tokens ({})",
                self.min_new_tokens, self.max_new_tokens
            ));
        }
        if self.num_sequences == 0 || self.num_sequences > 64 {
            return Err(format!(
                "the number of sequences must be between 1 and 64 (got {})",
                self.num_sequences
            ));
        }
        Ok(())
    }
}

/// transformers' `RepetitionPenaltyLogitsProcessor`, over every distinct id in `history`.
pub fn apply_repetition_penalty(logits: &mut [f32], history: &[u32], penalty: f32) {
    if penalty == 1.0 {
        return;
    }
    let mut seen = vec![false; logits.len()];
    for &id in history {
        let i = id as usize;
        if i < logits.len() && !seen[i] {
            seen[i] = true;
            let l = logits[i];
            logits[i] = if l < 0.0 { l * penalty } else { l / penalty };
        }
    }
}

/// Index of the largest finite logit; the first one wins ties, as torch's argmax does.
pub fn argmax(logits: &[f32]) -> Option<u32> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &l) in logits.iter().enumerate() {
        if l.is_finite() && best.is_none_or(|(_, b)| l > b) {
            best = Some((i, l));
        }
    }
    best.map(|(i, _)| i as u32)
}

/// Picks a token from already-processed logits: greedy at temperature 0, otherwise a draw from
/// the temperature-scaled, top-k and top-p filtered distribution. `None` when every token is masked.
pub fn choose(logits: &[f32], opts: &SamplingOptions, rng: &mut impl Rng) -> Option<u32> {
    if opts.temperature <= 0.0 {
        return argmax(logits);
    }
    let inv_t = 1.0 / opts.temperature;
    let mut candidates: Vec<(u32, f64)> = logits
        .iter()
        .enumerate()
        .filter(|(_, l)| l.is_finite())
        .map(|(i, &l)| (i as u32, l as f64 * inv_t))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    // Ties are broken by id so that draws never depend on sort internals.
    let by_logit = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if opts.top_k > 0 && opts.top_k < candidates.len() {
        candidates.select_nth_unstable_by(opts.top_k - 1, by_logit);
        candidates.truncate(opts.top_k);
        candidates.sort_unstable_by(by_logit);
    } else if opts.top_p < 1.0 {
        candidates.sort_unstable_by(by_logit);
    }
    // Without top-k or top-p the order does not matter, and a 50k-entry sort per token is skipped.
    let max = candidates
        .iter()
        .map(|c| c.1)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut probs: Vec<f64> = candidates.iter().map(|(_, l)| (l - max).exp()).collect();
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
    if opts.top_p < 1.0 {
        let mut cumulative = 0.0;
        let keep = probs
            .iter()
            .position(|p| {
                cumulative += p;
                cumulative >= opts.top_p
            })
            .map_or(probs.len(), |i| i + 1);
        probs.truncate(keep);
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
    }
    let u: f64 = rng.random();
    let mut cumulative = 0.0;
    for (i, p) in probs.iter().enumerate() {
        cumulative += p;
        if u < cumulative {
            return Some(candidates[i].0);
        }
    }
    Some(candidates[probs.len() - 1].0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn repetition_penalty_follows_transformers() {
        let mut logits = vec![2.0, -2.0, 1.0, 0.5];
        apply_repetition_penalty(&mut logits, &[0, 1, 1, 0], 2.0);
        assert_eq!(logits, vec![1.0, -4.0, 1.0, 0.5]);
    }

    #[test]
    fn top_k_one_is_greedy() {
        let logits = vec![0.1, 3.0, 2.9, -1.0];
        let opts = SamplingOptions {
            top_k: 1,
            temperature: 1.5,
            ..SamplingOptions::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..20 {
            assert_eq!(choose(&logits, &opts, &mut rng), Some(1));
        }
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        // Probabilities about 0.84, 0.11, 0.04, 0.01: p = 0.5 keeps the first alone.
        let logits = vec![4.0, 2.0, 1.0, -0.5];
        let opts = SamplingOptions {
            top_k: 0,
            top_p: 0.5,
            temperature: 1.0,
            ..SamplingOptions::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50 {
            assert_eq!(choose(&logits, &opts, &mut rng), Some(0));
        }
    }

    #[test]
    fn masked_tokens_are_never_drawn_and_all_masked_gives_none() {
        let logits = vec![f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY];
        let opts = SamplingOptions::default();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        for _ in 0..20 {
            assert_eq!(choose(&logits, &opts, &mut rng), Some(1));
        }
        let none = vec![f32::NEG_INFINITY; 3];
        assert_eq!(choose(&none, &opts, &mut rng), None);
        assert_eq!(argmax(&none), None);
    }

    #[test]
    fn bad_settings_are_refused_with_a_sentence() {
        let bad = SamplingOptions {
            top_p: 1.5,
            ..SamplingOptions::default()
        };
        assert!(bad.validate().unwrap_err().contains("top-p"));
        let bad = SamplingOptions {
            min_new_tokens: 10,
            max_new_tokens: 5,
            ..SamplingOptions::default()
        };
        assert!(bad.validate().unwrap_err().contains("min new tokens"));
    }
}
