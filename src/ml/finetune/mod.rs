//! Fine-tuning GPT-2 on the user's own texts (causal language modelling).
//!
//! The model is our candle GPT-2 with its weights as trainable variables: AdamW with linear
//! warmup and linear or cosine decay, gradient clipping by global norm, optional freezing of the
//! embeddings and first K blocks (the seed thesis kept early layers frozen), a validation loss and
//! perplexity after every epoch, early stopping, and a seed for every random choice. Checkpoints
//! are written atomically in transformers' `save_pretrained` layout, which our loader and
//! transformers both read.

pub mod adamw;
pub mod corpus;
pub mod gpt2_step;
pub mod head_loss;
pub mod loss;
pub mod schedule;
mod trainable;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::ml::kernels::use_fused;
use crate::ml::models::gpt2::Gpt2;
use crate::ml::{Error, Result};
pub use corpus::Corpus;
pub use schedule::Decay;
pub use trainable::Trainable;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FinetuneOptions {
    pub epochs: usize,
    pub lr: f64,
    pub block_size: usize,
    pub batch_size: usize,
    pub val_split: f64,
    /// Freeze the embeddings and the first `freeze` blocks (0 trains everything).
    pub freeze: usize,
    pub seed: u64,
    /// Warmup steps as a fraction of all steps.
    pub warmup: f64,
    pub decay: Decay,
    pub max_grad_norm: f64,
    pub weight_decay: f64,
    /// Stop after this many epochs without a better validation loss.
    pub patience: usize,
}

impl Default for FinetuneOptions {
    fn default() -> Self {
        Self {
            epochs: 3,
            lr: 5e-5,
            block_size: 128,
            batch_size: 4,
            val_split: 0.1,
            freeze: 0,
            seed: 0,
            warmup: 0.1,
            decay: Decay::Linear,
            max_grad_norm: 1.0,
            weight_decay: 0.01,
            patience: 2,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub train_loss: f64,
    pub val_loss: Option<f64>,
    pub perplexity: Option<f64>,
    pub saved: bool,
}

/// What the per-step callback sees.
pub struct StepProgress {
    pub epoch: usize,
    pub step: usize,
    pub total_steps: usize,
    pub loss: f64,
    pub tokens_per_second: f64,
}

/// A loss that is not a number, or so large that its perplexity overflows (above ~709 nats per
/// token, where an untrained model is near ln(vocab), about 11): training has blown up.
fn is_diverged(loss: f64) -> bool {
    !loss.exp().is_finite()
}

/// The error for a loss that is no longer a number: training stops, and says what is kept.
fn diverged(what: &str, value: f64, epoch: usize, lr: f64, kept: Option<(usize, &Path)>) -> Error {
    let kept = match kept {
        Some((e, dir)) => format!("; the model from epoch {e} is kept in {}", dir.display()),
        None => "; no model was saved".into(),
    };
    Error::Input(format!(
        "training diverged in epoch {epoch}: the {what} became {value:.4e}; \
         try a lower learning rate than {lr}{kept}"
    ))
}

/// Mean next-token cross-entropy of blocks `[batch, block + 1]`.
pub fn lm_loss(model: &Gpt2, blocks: &Tensor) -> Result<Tensor> {
    let (b, t1) = blocks.dims2()?;
    if t1 < 2 {
        return Err(Error::Input("a block needs at least 2 tokens".into()));
    }
    let t = t1 - 1;
    let inputs = blocks.narrow(1, 0, t)?;
    let targets = blocks.narrow(1, 1, t)?.flatten_all()?;
    let hidden = model.forward_hidden_whole(&inputs)?;
    let rows = hidden.reshape((b * t, model.config().n_embd))?;
    if let Some(head) = model.head_weight().filter(|_| use_fused(&rows)) {
        let targets = targets.to_vec1::<u32>()?;
        return Ok(head_loss::head_cross_entropy(&rows, head, &targets)?);
    }
    // Logits straight as `[rows, vocab]`: a reshape of them would cost memory in the backward.
    let logits = model.logits(&rows)?;
    Ok(loss::cross_entropy(&logits, &targets)?)
}

fn batch_tensor(blocks: &[&Vec<u32>], device: &Device) -> Result<Tensor> {
    let width = blocks[0].len();
    let flat: Vec<u32> = blocks.iter().flat_map(|b| b.iter().copied()).collect();
    Ok(Tensor::from_vec(flat, (blocks.len(), width), device)?)
}

/// Validation loss over `blocks`, in batches.
pub fn evaluate(
    model: &Gpt2,
    blocks: &[Vec<u32>],
    batch_size: usize,
    device: &Device,
) -> Result<Option<f64>> {
    if blocks.is_empty() {
        return Ok(None);
    }
    let (mut sum, mut n) = (0f64, 0usize);
    for chunk in blocks.chunks(batch_size.max(1)) {
        let refs: Vec<&Vec<u32>> = chunk.iter().collect();
        let loss = lm_loss(model, &batch_tensor(&refs, device)?)?.detach();
        sum += loss.to_scalar::<f32>()? as f64 * chunk.len() as f64;
        n += chunk.len();
    }
    Ok(Some(sum / n as f64))
}

/// Trains and checkpoints into `out_dir` (which must already hold config.json and
/// tokenizer.json). Returns one report per epoch run.
pub fn train(
    trainable: &Trainable,
    corpus: &Corpus,
    opts: &FinetuneOptions,
    out_dir: &Path,
    device: &Device,
    cancel: &AtomicBool,
    mut on_step: impl FnMut(&StepProgress),
) -> Result<Vec<EpochReport>> {
    if corpus.train.is_empty() {
        return Err(Error::Input(
            "the corpus leaves no block to train on".into(),
        ));
    }
    if opts.batch_size == 0 {
        return Err(Error::Input("the batch size must be at least 1".into()));
    }
    let batch = opts.batch_size;
    let steps_per_epoch = corpus.train.len().div_ceil(batch);
    let total_steps = steps_per_epoch * opts.epochs;
    let warmup = (total_steps as f64 * opts.warmup).round() as usize;
    let mut adam = adamw::Optimiser::new(trainable.trainable.clone(), opts.lr, opts.weight_decay)?;
    // Our own training step where it covers the model; autograd otherwise.
    let mut fused = gpt2_step::FusedStep::new(trainable)?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut reports = Vec::new();
    let mut best = f64::INFINITY;
    let mut since_best = 0;
    // The epoch whose weights are in `out_dir`, named if training diverges later.
    let mut kept: Option<(usize, &Path)> = None;
    let mut step = 0;
    let started = Instant::now();
    let mut tokens_seen = 0usize;
    for epoch in 1..=opts.epochs {
        let mut order: Vec<usize> = (0..corpus.train.len()).collect();
        order.shuffle(&mut rng);
        let (mut loss_sum, mut loss_n) = (0f64, 0usize);
        for chunk in order.chunks(batch) {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let blocks: Vec<&Vec<u32>> = chunk.iter().map(|&i| &corpus.train[i]).collect();
            adam.set_learning_rate(schedule::learning_rate(
                opts.lr,
                step,
                total_steps,
                warmup,
                opts.decay,
            ));
            let value = match fused.as_mut() {
                Some(fused) => {
                    let value = fused.run(&blocks)?;
                    if is_diverged(value) {
                        return Err(diverged("training loss", value, epoch, opts.lr, kept));
                    }
                    adam.step_from(&*fused, opts.max_grad_norm)?;
                    value
                }
                None => {
                    let loss = lm_loss(&trainable.model, &batch_tensor(&blocks, device)?)?;
                    let value = loss.to_scalar::<f32>()? as f64;
                    if is_diverged(value) {
                        return Err(diverged("training loss", value, epoch, opts.lr, kept));
                    }
                    let mut grads = loss.backward()?;
                    adam.step(&mut grads, &trainable.trainable, opts.max_grad_norm)?;
                    value
                }
            };
            step += 1;
            tokens_seen += blocks.len() * (blocks[0].len() - 1);
            loss_sum += value;
            loss_n += 1;
            on_step(&StepProgress {
                epoch,
                step,
                total_steps,
                loss: value,
                tokens_per_second: tokens_seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
            });
        }
        let train_loss = loss_sum / loss_n.max(1) as f64;
        let val_loss = evaluate(&trainable.model, &corpus.val, batch, device)?;
        if let Some(v) = val_loss.filter(|&v| is_diverged(v)) {
            return Err(diverged("validation loss", v, epoch, opts.lr, kept));
        }
        let score = val_loss.unwrap_or(train_loss);
        let improved = score < best;
        if improved {
            best = score;
            since_best = 0;
            trainable.save(out_dir)?;
            kept = Some((epoch, out_dir));
        } else {
            since_best += 1;
        }
        reports.push(EpochReport {
            epoch,
            train_loss,
            val_loss,
            perplexity: val_loss.map(f64::exp),
            saved: improved,
        });
        if val_loss.is_some() && since_best >= opts.patience.max(1) {
            break;
        }
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_divergence_names_the_kept_epoch_or_that_nothing_was_saved() {
        let kept = diverged(
            "validation loss",
            f64::INFINITY,
            3,
            0.5,
            Some((2, Path::new("ft"))),
        );
        let text = kept.to_string();
        assert!(text.contains("epoch 3") && text.contains("inf"), "{text}");
        assert!(is_diverged(f64::NAN) && is_diverged(f64::INFINITY) && is_diverged(7.5e11));
        assert!(!is_diverged(10.8) && !is_diverged(700.0) && !is_diverged(-1.0));
        assert!(
            text.contains("the model from epoch 2 is kept in ft"),
            "{text}"
        );
        let none = diverged("training loss", f64::NAN, 1, 1000.0, None).to_string();
        assert!(
            none.contains("NaN") && none.contains("no model was saved"),
            "{none}"
        );
        assert!(none.contains("lower learning rate than 1000"), "{none}");
    }
}
