//! Greedy and beam-search decoding over any model that gives next-token logits, following
//! transformers' `generate` as of 4.50 and 5.x (`num_beams`, `length_penalty` 1,
//! `early_stopping` false): the 2n best extensions are taken each step; one ending in the end
//! token is finished only if it ranks below n; a finished hypothesis scores its summed
//! log-probability divided by its length (end token included); the search stops when the worst
//! of n finished scores beats the best running sum over the current length. (Versions before
//! 4.50 stopped on a slightly different test, so they can stop a step apart.)

use crate::ml::sampling::argmax;
use crate::ml::Result;

/// A model being decoded: `rows` hypotheses that each read one more token.
pub trait Stepper {
    /// Rearranges the hypotheses so that row `i` continues old row `from[i]`, feeds `tokens[i]`
    /// to row `i`, and returns each row's next-token logits.
    fn next(&mut self, from: &[u32], tokens: &[u32]) -> Result<Vec<Vec<f32>>>;
}

#[derive(Debug, Clone, Copy)]
pub struct Search {
    /// 1 decodes greedily.
    pub beams: usize,
    pub max_new_tokens: usize,
    /// Ends a hypothesis and is kept as its last token.
    pub end: u32,
}

/// Decodes from `first`, the scores after the prompt, to the best continuation's tokens.
pub fn decode(first: Vec<f32>, search: &Search, model: &mut dyn Stepper) -> Result<Vec<u32>> {
    if search.beams <= 1 {
        greedy(first, search, model)
    } else {
        beam(first, search, model)
    }
}

fn greedy(first: Vec<f32>, search: &Search, model: &mut dyn Stepper) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    let mut scores = first;
    while out.len() < search.max_new_tokens {
        let token = argmax(&scores).unwrap_or(search.end);
        out.push(token);
        if token == search.end || out.len() == search.max_new_tokens {
            break;
        }
        scores = model.next(&[0], &[token])?.swap_remove(0);
    }
    Ok(out)
}

struct Live {
    tokens: Vec<u32>,
    sum: f64,
}

fn beam(first: Vec<f32>, search: &Search, model: &mut dyn Stepper) -> Result<Vec<u32>> {
    let n = search.beams;
    let mut live = vec![Live {
        tokens: Vec::new(),
        sum: 0.0,
    }];
    let mut rows = vec![log_softmax(&first)];
    let mut finished: Vec<(f64, Vec<u32>)> = Vec::new();
    for len in 1..=search.max_new_tokens {
        // The 2n best extensions over all rows, as transformers takes them.
        let mut candidates: Vec<(f64, usize, u32)> = Vec::new();
        for (r, (b, lp)) in live.iter().zip(&rows).enumerate() {
            let mut order: Vec<u32> = (0..lp.len() as u32).collect();
            let k = (2 * n).min(order.len());
            order.select_nth_unstable_by(k.saturating_sub(1), |x, y| {
                lp[*y as usize].total_cmp(&lp[*x as usize])
            });
            candidates.extend(
                order[..k]
                    .iter()
                    .map(|&t| (b.sum + lp[t as usize] as f64, r, t)),
            );
        }
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        candidates.truncate(2 * n);
        let mut next = Vec::new();
        for (rank, &(sum, r, t)) in candidates.iter().enumerate() {
            let mut tokens = live[r].tokens.clone();
            tokens.push(t);
            if t == search.end {
                if rank < n {
                    finished.push((sum / len as f64, tokens));
                }
            } else if next.len() < n {
                next.push((r as u32, Live { tokens, sum }));
            }
        }
        finished.sort_by(|a, b| b.0.total_cmp(&a.0));
        finished.truncate(n);
        let best_live = next
            .iter()
            .map(|(_, l)| l.sum)
            .fold(f64::NEG_INFINITY, f64::max);
        let settled = finished.len() >= n
            && finished
                .last()
                .is_some_and(|w| w.0 >= best_live / len as f64);
        if next.is_empty() || settled {
            break;
        }
        if len == search.max_new_tokens {
            finished.extend(
                next.into_iter()
                    .map(|(_, l)| (l.sum / len as f64, l.tokens)),
            );
            break;
        }
        let from: Vec<u32> = next.iter().map(|(r, _)| *r).collect();
        let tokens: Vec<u32> = next
            .iter()
            .map(|(_, l)| *l.tokens.last().unwrap_or(&0))
            .collect();
        live = next.into_iter().map(|(_, l)| l).collect();
        rows = model
            .next(&from, &tokens)?
            .iter()
            .map(|s| log_softmax(s))
            .collect();
    }
    finished.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(finished.into_iter().next().map(|f| f.1).unwrap_or_default())
}

/// Log-probabilities from logits, in f64 for the sum then back to f32.
pub fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&x| ((x - max) as f64).exp()).sum();
    let log_sum = sum.ln() as f32 + max;
    logits.iter().map(|&x| x - log_sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy language model over `vocab` tokens whose scores depend on the whole prefix.
    struct Toy {
        vocab: usize,
        rows: Vec<Vec<u32>>,
    }

    fn scores(prefix: &[u32], vocab: usize) -> Vec<f32> {
        let mut h: u64 = 1469598103934665603;
        for &t in prefix {
            h = (h ^ (t as u64 + 1)).wrapping_mul(1099511628211);
        }
        (0..vocab)
            .map(|v| {
                let x = (h ^ (v as u64).wrapping_mul(0x9E3779B97F4A7C15))
                    .wrapping_mul(0xBF58476D1CE4E5B9);
                ((x >> 40) as f32 / (1u64 << 24) as f32) * 6.0
            })
            .collect()
    }

    impl Stepper for Toy {
        fn next(&mut self, from: &[u32], tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
            let old = std::mem::take(&mut self.rows);
            self.rows = from
                .iter()
                .zip(tokens)
                .map(|(&r, &t)| {
                    let mut p = old[r as usize].clone();
                    p.push(t);
                    p
                })
                .collect();
            Ok(self.rows.iter().map(|p| scores(p, self.vocab)).collect())
        }
    }

    fn run(vocab: usize, search: &Search) -> Vec<u32> {
        let mut toy = Toy {
            vocab,
            rows: vec![vec![]],
        };
        decode(scores(&[], vocab), search, &mut toy).unwrap()
    }

    /// Summed log-probability over length, the score beam search maximises.
    fn score(seq: &[u32], vocab: usize) -> f64 {
        let sum: f64 = (0..seq.len())
            .map(|i| log_softmax(&scores(&seq[..i], vocab))[seq[i] as usize] as f64)
            .sum();
        sum / seq.len() as f64
    }

    #[test]
    fn one_beam_is_greedy_and_stops_at_the_end_token_or_the_limit() {
        let search = Search {
            beams: 1,
            max_new_tokens: 12,
            end: 2,
        };
        let got = run(5, &search);
        let mut want = Vec::new();
        while want.len() < 12 {
            let t = argmax(&scores(&want, 5)).unwrap();
            want.push(t);
            if t == 2 {
                break;
            }
        }
        assert_eq!(got, want);
        assert!(got.len() == 12 || got.last() == Some(&2), "{got:?}");
    }

    #[test]
    fn a_wide_beam_finds_the_best_sequence_that_exhaustive_search_finds() {
        let (vocab, max_new, end) = (4usize, 4usize, 0u32);
        // Every sequence that ends at `end` or runs to the limit.
        let mut all: Vec<Vec<u32>> = Vec::new();
        let mut open: Vec<Vec<u32>> = vec![vec![]];
        while let Some(p) = open.pop() {
            for t in 0..vocab as u32 {
                let mut q = p.clone();
                q.push(t);
                if t == end || q.len() == max_new {
                    all.push(q);
                } else {
                    open.push(q);
                }
            }
        }
        let best = all
            .iter()
            .max_by(|a, b| score(a, vocab).total_cmp(&score(b, vocab)))
            .unwrap()
            .clone();
        let search = Search {
            beams: 64,
            max_new_tokens: max_new,
            end,
        };
        let got = run(vocab, &search);
        assert_eq!(got, best, "beam {got:?} vs exhaustive {best:?}");
        // A narrow beam is a search, not the optimum, but it still returns a whole hypothesis.
        let narrow = run(vocab, &Search { beams: 2, ..search });
        assert!(!narrow.is_empty() && narrow.len() <= max_new);
        assert!(score(&narrow, vocab) <= score(&best, vocab) + 1e-9);
    }
}
