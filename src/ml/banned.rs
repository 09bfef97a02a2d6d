//! Banned words: a story must never contain them.
//!
//! Two layers, because a word has many spellings in BPE tokens. Single-token spellings
//! (`" dragon"`, `"Dragon"`, …) are masked before sampling, so the distribution stays clean.
//! Every candidate token is then checked against the decoded text, which catches the word when
//! it is assembled from pieces (`" dr" + "agon"`), and a banned candidate is masked and redrawn.

use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::Result;

/// Suffixes that still count as the banned word: "dragon" also bans "dragons".
const INFLECTIONS: [&str; 3] = ["", "s", "es"];

#[derive(Debug, Clone, Default)]
pub struct BannedWords {
    words: Vec<String>,
    token_ids: Vec<u32>,
}

impl BannedWords {
    pub fn new(words: &[String], tokenizer: &TextTokenizer) -> Result<Self> {
        let words: Vec<String> = words
            .iter()
            .map(|w| w.trim().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        let mut token_ids = Vec::new();
        for word in &words {
            let capital: String = word
                .chars()
                .take(1)
                .flat_map(char::to_uppercase)
                .chain(word.chars().skip(1))
                .collect();
            for spelling in [word.clone(), capital, word.to_uppercase()] {
                for variant in [spelling.clone(), format!(" {spelling}")] {
                    if let [id] = tokenizer.encode(&variant)?.as_slice() {
                        token_ids.push(*id);
                    }
                }
            }
        }
        token_ids.sort_unstable();
        token_ids.dedup();
        Ok(Self { words, token_ids })
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Masks the single-token spellings of every banned word.
    pub fn mask(&self, logits: &mut [f32]) {
        for &id in &self.token_ids {
            if let Some(l) = logits.get_mut(id as usize) {
                *l = f32::NEG_INFINITY;
            }
        }
    }

    /// True when `generated` contains a banned word as a whole word. A word at the very end is
    /// only complete when `at_end` says no more text will follow.
    pub fn violates(&self, generated: &str, at_end: bool) -> bool {
        let lower = generated.to_lowercase();
        self.words.iter().any(|w| contains_word(&lower, w, at_end))
    }
}

fn contains_word(text: &str, word: &str, at_end: bool) -> bool {
    text.match_indices(word).any(|(start, _)| {
        let left_ok = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let rest = &text[start + word.len()..];
        left_ok
            && INFLECTIONS.iter().any(|suffix| {
                rest.strip_prefix(suffix)
                    .is_some_and(|after| match after.chars().next() {
                        None => at_end,
                        Some(c) => !c.is_alphanumeric(),
                    })
            })
    })
}

#[cfg(test)]
mod tests {
    use super::contains_word;

    #[test]
    fn whole_words_and_plurals_any_case() {
        assert!(contains_word("the dragon slept", "dragon", false));
        assert!(contains_word("two dragons.", "dragon", false));
        assert!(contains_word("a dragon's egg", "dragon", false));
        assert!(!contains_word("dragonfly wings", "dragon", true));
        assert!(!contains_word("snapdragon", "dragon", true));
        // At the end the word may still grow ("dragon" -> "dragonfly") until the text is done.
        assert!(!contains_word("a dragon", "dragon", false));
        assert!(contains_word("a dragon", "dragon", true));
        assert!(contains_word("once upon a time", "upon a", false));
    }
}
