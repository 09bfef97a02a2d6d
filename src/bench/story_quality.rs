//! What bf16 or q8 weights cost a story: how far each next-token distribution moves from
//! f32's, and whether greedy writing picks the same words.
//!
//! For each prompt, both models read the prompt, then f32 writes `steps` tokens greedily; the
//! KL divergence KL(f32 ‖ packed) of the next-token distribution is taken at every prompt
//! position and every written step (both models fed f32's tokens, so the two distributions
//! always answer the same text). Then the packed model writes greedily on its own, with and
//! without a repetition penalty, and its tokens are compared position by position.

use candle_core::Tensor;
use serde::Serialize;

use crate::ml::kernels::packed_weight::WeightFormat;
use crate::ml::models::gpt2::Gpt2;
use crate::ml::sampling::{apply_repetition_penalty, argmax};
use crate::ml::Result;

/// The repetition penalty of the second greedy run: the oracle's 1.3, so written text does not
/// settle into repeating one token, where agreement would say little.
const PENALTY: f32 = 1.3;

#[derive(Debug, Clone, Serialize)]
pub struct FormatQuality {
    pub weights: WeightFormat,
    /// Bytes of the linear weights and head a written token reads, against f32's.
    pub weight_bytes_ratio: f64,
    pub mean_kl: f64,
    pub max_kl: f64,
    /// Positions whose most likely next token is the same as f32's (teacher-forced).
    pub top1_agree: usize,
    pub positions: usize,
    /// Greedy tokens equal to f32's at the same step, out of `steps` per prompt.
    pub greedy_agree: usize,
    /// The same with the repetition penalty.
    pub greedy_penalty_agree: usize,
    pub greedy_total: usize,
    /// Prompts whose whole greedy continuation (both runs) is unchanged.
    pub prompts_unchanged: usize,
}

/// Measures `packed` against `reference` (the same weights in f32) over `prompts`.
pub fn format_quality(
    reference: &Gpt2,
    packed: &Gpt2,
    prompts: &[Vec<u32>],
    steps: usize,
) -> Result<FormatQuality> {
    let (mut kl_sum, mut max_kl, mut top1_agree, mut positions) = (0f64, 0f64, 0, 0);
    let (mut greedy_agree, mut penalty_agree, mut unchanged) = (0, 0, 0);
    for prompt in prompts {
        let want = greedy(reference, prompt, steps, 1.0)?;
        // Teacher-forced: the prompt and f32's continuation in one pass each.
        let mut text = prompt.clone();
        text.extend(&want);
        let text = &text[..text.len() - 1];
        let a = all_logits(reference, text)?;
        let b = all_logits(packed, text)?;
        for (la, lb) in a.iter().zip(&b) {
            let kl = kl_divergence(la, lb);
            kl_sum += kl;
            max_kl = max_kl.max(kl);
            top1_agree += usize::from(argmax(la) == argmax(lb));
            positions += 1;
        }
        let got = greedy(packed, prompt, steps, 1.0)?;
        let want_p = greedy(reference, prompt, steps, PENALTY)?;
        let got_p = greedy(packed, prompt, steps, PENALTY)?;
        let same = |x: &[u32], y: &[u32]| x.iter().zip(y).filter(|(a, b)| a == b).count();
        greedy_agree += same(&want, &got);
        penalty_agree += same(&want_p, &got_p);
        unchanged += usize::from(want == got && want_p == got_p);
    }
    Ok(FormatQuality {
        weights: packed.weights(),
        weight_bytes_ratio: bytes_per_weight(packed.weights()) / 4.0,
        mean_kl: kl_sum / positions.max(1) as f64,
        max_kl,
        top1_agree,
        positions,
        greedy_agree,
        greedy_penalty_agree: penalty_agree,
        greedy_total: steps * prompts.len(),
        prompts_unchanged: unchanged,
    })
}

fn bytes_per_weight(format: WeightFormat) -> f64 {
    match format {
        WeightFormat::F32 => 4.0,
        WeightFormat::Bf16 => 2.0,
        WeightFormat::Q8 => 1.0 + 4.0 / crate::ml::kernels::packed_weight::Q8_BLOCK as f64,
    }
}

/// Next-token logits after every position of `ids`.
fn all_logits(model: &Gpt2, ids: &[u32]) -> Result<Vec<Vec<f32>>> {
    let input = Tensor::new(ids, model.device())?.unsqueeze(0)?;
    let logits = model.forward(&input, &mut model.new_cache())?.squeeze(0)?;
    Ok(logits.to_vec2::<f32>()?)
}

/// `steps` greedy tokens after `prompt` with the KV cache, the penalty as transformers
/// applies it (1.0 is none). The end-of-text token does not stop it: the runs stay comparable.
fn greedy(model: &Gpt2, prompt: &[u32], steps: usize, penalty: f32) -> Result<Vec<u32>> {
    let mut cache = model.new_cache();
    let mut history = prompt.to_vec();
    let mut input = Tensor::new(prompt, model.device())?.unsqueeze(0)?;
    let mut out = Vec::with_capacity(steps);
    for _ in 0..steps {
        let mut logits = model
            .forward_last(&input, &mut cache)?
            .squeeze(0)?
            .to_vec1::<f32>()?;
        if penalty != 1.0 {
            apply_repetition_penalty(&mut logits, &history, penalty);
        }
        let next = argmax(&logits).unwrap_or(0);
        out.push(next);
        history.push(next);
        input = Tensor::new(&[next], model.device())?.unsqueeze(0)?;
    }
    Ok(out)
}

/// KL(p ‖ q) in nats between the softmaxes of two logit rows, in f64.
pub fn kl_divergence(p_logits: &[f32], q_logits: &[f32]) -> f64 {
    let log_softmax = |l: &[f32]| -> Vec<f64> {
        let max = l.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let sum: f64 = l.iter().map(|&v| (v as f64 - max).exp()).sum();
        let log_z = max + sum.ln();
        l.iter().map(|&v| v as f64 - log_z).collect()
    };
    let (lp, lq) = (log_softmax(p_logits), log_softmax(q_logits));
    let kl = lp
        .iter()
        .zip(&lq)
        .map(|(a, b)| a.exp() * (a - b))
        .sum::<f64>();
    // Rounding can make it a hair below zero; a NaN (a broken format) must show, not become 0.
    if kl < 0.0 {
        0.0
    } else {
        kl
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_is_zero_for_equal_rows_shift_invariant_and_positive_otherwise() {
        let p = [0.5f32, -1.0, 2.0, 0.0];
        assert!(kl_divergence(&p, &p) < 1e-12);
        let shifted: Vec<f32> = p.iter().map(|v| v + 3.0).collect();
        assert!(kl_divergence(&p, &shifted) < 1e-9);
        // Two outcomes: p = (½, ½) and q = (e/(1+e), 1/(1+e)), KL = Σ p ln(p/q).
        let q = [1.0f32, 0.0];
        let (q0, q1) = (1f64.exp() / (1.0 + 1f64.exp()), 1.0 / (1.0 + 1f64.exp()));
        let want = 0.5 * (0.5 / q0).ln() + 0.5 * (0.5 / q1).ln();
        assert!((kl_divergence(&[0.0, 0.0], &q) - want).abs() < 1e-9);
    }
}
