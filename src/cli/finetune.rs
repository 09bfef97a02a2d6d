//! `storybook-studio finetune FILES... --out DIR`: teach GPT-2 the user's own writing.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::progress::TerminalDownload;
use super::GlobalArgs;
use crate::ml::finetune::{train, Corpus, Decay, EpochReport, FinetuneOptions, Trainable};
use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::models::gpt2::Config;
use crate::ml::weights::ModelKind;

#[derive(Debug, clap::Args)]
pub struct FinetuneArgs {
    /// Text files, or folders of them.
    #[arg(required = true, value_name = "FILE_OR_DIR")]
    pub inputs: Vec<PathBuf>,
    /// Where the fine-tuned model goes; use it later with --gpt2 DIR.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The GPT-2 to start from (default: the usual search for gpt2).
    #[arg(long, value_name = "DIR")]
    pub base: Option<PathBuf>,
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    #[arg(long, default_value_t = 5e-5)]
    pub lr: f64,
    #[arg(long, default_value_t = 128)]
    pub block_size: usize,
    #[arg(long, default_value_t = 4)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 0.1)]
    pub val_split: f64,
    /// Freeze the embeddings and the first N blocks.
    #[arg(long, default_value_t = 0)]
    pub freeze: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Learning-rate decay after warmup: linear or cosine.
    #[arg(long, default_value = "linear", value_parser = parse_decay)]
    pub decay: Decay,
}

fn parse_decay(s: &str) -> Result<Decay, String> {
    match s {
        "linear" => Ok(Decay::Linear),
        "cosine" => Ok(Decay::Cosine),
        other => Err(format!("'{other}' is not linear or cosine")),
    }
}

#[derive(Serialize)]
struct Report<'a> {
    epochs: &'a [EpochReport],
    out: &'a Path,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

/// Creates the output folder and copies the config and tokenizer into it, failing early with a
/// sentence if it cannot be written.
fn prepare_out(out: &Path, config: &Path, tokenizer: &Path) -> anyhow::Result<()> {
    let read_only = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.permissions().readonly());
    if read_only(out) || out.parent().is_some_and(|p| !out.exists() && read_only(p)) {
        anyhow::bail!(
            "the output folder {} is not writable; choose another --out",
            out.display()
        );
    }
    std::fs::create_dir_all(out)
        .map_err(|e| anyhow::anyhow!("cannot create the output folder {}: {e}", out.display()))?;
    for (from, name) in [(config, "config.json"), (tokenizer, "tokenizer.json")] {
        let tmp = out.join(format!("{name}.partial"));
        std::fs::copy(from, &tmp)
            .and_then(|_| std::fs::rename(&tmp, out.join(name)))
            .map_err(|e| anyhow::anyhow!("cannot write {} into {}: {e}", name, out.display()))?;
    }
    Ok(())
}

pub fn run(global: &GlobalArgs, args: FinetuneArgs) -> anyhow::Result<()> {
    let opts = FinetuneOptions {
        epochs: args.epochs,
        lr: args.lr,
        block_size: args.block_size,
        batch_size: args.batch_size,
        val_split: args.val_split,
        freeze: args.freeze,
        seed: args.seed,
        decay: args.decay,
        ..FinetuneOptions::default()
    };
    anyhow::ensure!(opts.epochs > 0, "train for at least one epoch");
    anyhow::ensure!(
        opts.lr.is_finite() && opts.lr > 0.0,
        "the learning rate must be positive"
    );
    let device = crate::ml::device::open(&global.device)?;
    let files = global.locator().locate(
        ModelKind::Gpt2,
        args.base.as_deref(),
        &mut TerminalDownload::new(global.json),
    )?;
    let config_path = files.require("config.json")?;
    let cfg = Config::from_file(config_path)?;
    let tokenizer_path = files.require("tokenizer.json")?;
    let tokenizer = TextTokenizer::from_file(tokenizer_path)?;
    let corpus = Corpus::load(
        &args.inputs,
        &tokenizer,
        opts.block_size.min(cfg.n_positions),
        opts.val_split,
        opts.seed,
    )?;
    for w in &corpus.warnings {
        eprintln!("warning: {w}");
    }
    anyhow::ensure!(
        opts.freeze <= cfg.n_layer,
        "--freeze {} is more than the model's {} blocks",
        opts.freeze,
        cfg.n_layer
    );
    prepare_out(&args.out, config_path, tokenizer_path)?;
    let trainable = Trainable::load(
        files.require("model.safetensors")?,
        &cfg,
        opts.freeze,
        &device,
    )?;

    let steps = corpus.train.len().div_ceil(opts.batch_size.max(1)) * opts.epochs;
    let bar = if global.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(steps as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("epoch {msg}\n{bar:30} {pos}/{len} steps  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let reports = train(
        &trainable,
        &corpus,
        &opts,
        &args.out,
        &device,
        &AtomicBool::new(false),
        |p| {
            bar.set_position(p.step as u64);
            bar.set_message(format!(
                "{}  loss {:.3}  {:.0} tokens/s",
                p.epoch, p.loss, p.tokens_per_second
            ));
        },
    )?;
    bar.finish_and_clear();
    if global.json {
        return super::print_json(&Report {
            epochs: &reports,
            out: &args.out,
            warnings: &corpus.warnings,
        });
    }
    for r in &reports {
        let val = r
            .val_loss
            .map(|v| format!(", validation {v:.3} (perplexity {:.1})", v.exp()))
            .unwrap_or_default();
        println!(
            "epoch {}: train loss {:.3}{val}{}",
            r.epoch,
            r.train_loss,
            if r.saved { "  saved" } else { "" }
        );
    }
    println!(
        "Fine-tuned model in {}; write with it using --gpt2 {}.",
        args.out.display(),
        args.out.display()
    );
    Ok(())
}
