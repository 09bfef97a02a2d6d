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
    /// Tokens per training example [default: 128, or the model's window if it is shorter].
    #[arg(long)]
    pub block_size: Option<usize>,
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

/// Refuses an `--out` that is the base model's own folder: writing there would replace the
/// model being trained from (its config and tokenizer are rewritten first).
fn check_out_is_not_base(out: &Path, base: &Path) -> anyhow::Result<()> {
    let same = match (std::fs::canonicalize(out), std::fs::canonicalize(base)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    anyhow::ensure!(
        !same,
        "--out {} is the folder of the base model; choose a new folder, so the base stays as it is",
        out.display()
    );
    Ok(())
}

/// What `prepare_out` wrote, so a run that saves no model can take it away again.
struct Prepared {
    created_folder: bool,
    files: Vec<PathBuf>,
}

impl Prepared {
    /// Removes the copied config and tokenizer (and the folder, if this run made it) when no
    /// model was written beside them, so no half model folder is left behind.
    fn undo_unless_saved(&self, out: &Path) {
        if out.join("model.safetensors").is_file() {
            return;
        }
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        if self.created_folder {
            let _ = std::fs::remove_dir(out);
        }
    }
}

/// Creates the output folder and copies the config and tokenizer into it, failing early with a
/// sentence if it cannot be written.
fn prepare_out(out: &Path, config: &Path, tokenizer: &Path) -> anyhow::Result<Prepared> {
    let read_only = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.permissions().readonly());
    if read_only(out) || out.parent().is_some_and(|p| !out.exists() && read_only(p)) {
        anyhow::bail!(
            "the output folder {} is not writable; choose another --out",
            out.display()
        );
    }
    let created_folder = !out.exists();
    std::fs::create_dir_all(out)
        .map_err(|e| anyhow::anyhow!("cannot create the output folder {}: {e}", out.display()))?;
    let mut prepared = Prepared {
        created_folder,
        files: Vec::new(),
    };
    for (from, name) in [(config, "config.json"), (tokenizer, "tokenizer.json")] {
        let tmp = out.join(format!("{name}.partial"));
        let written = std::fs::copy(from, &tmp).and_then(|_| std::fs::rename(&tmp, out.join(name)));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            prepared.undo_unless_saved(out);
            anyhow::bail!("cannot write {} into {}: {e}", name, out.display());
        }
        prepared.files.push(out.join(name));
    }
    Ok(prepared)
}

pub fn run(global: &GlobalArgs, args: FinetuneArgs) -> anyhow::Result<()> {
    let opts = FinetuneOptions {
        epochs: args.epochs,
        lr: args.lr,
        block_size: args
            .block_size
            .unwrap_or(FinetuneOptions::default().block_size),
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
    anyhow::ensure!(opts.batch_size > 0, "--batch-size must be at least 1");
    let device = crate::ml::device::open(&global.device)?;
    let files = global.locator().locate(
        ModelKind::Gpt2,
        args.base.as_deref(),
        &mut TerminalDownload::new(global.json),
    )?;
    let config_path = files.require("config.json")?;
    let cfg = Config::from_file(config_path)?;
    if let Some(block) = args.block_size.filter(|&b| b > cfg.n_positions) {
        anyhow::bail!(
            "--block-size {block} is longer than the model's window of {} tokens; use at most {}",
            cfg.n_positions,
            cfg.n_positions
        );
    }
    let opts = FinetuneOptions {
        block_size: opts.block_size.min(cfg.n_positions),
        ..opts
    };
    check_out_is_not_base(&args.out, &files.location)?;
    let tokenizer_path = files.require("tokenizer.json")?;
    let tokenizer = TextTokenizer::from_file(tokenizer_path)?;
    let corpus = Corpus::load(
        &args.inputs,
        &tokenizer,
        opts.block_size,
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
    let prepared = prepare_out(&args.out, config_path, tokenizer_path)?;
    let result = train_into(
        &args.out,
        &files,
        &cfg,
        &corpus,
        &opts,
        &device,
        global.json,
    );
    let reports = match result {
        Ok(reports) => reports,
        Err(err) => {
            prepared.undo_unless_saved(&args.out);
            return Err(err);
        }
    };
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

/// Loads the base model and trains it into `out`, with a progress bar; an error unless some
/// epoch's model was saved.
fn train_into(
    out: &Path,
    files: &crate::ml::weights::ModelFiles,
    cfg: &Config,
    corpus: &Corpus,
    opts: &FinetuneOptions,
    device: &candle_core::Device,
    json: bool,
) -> anyhow::Result<Vec<EpochReport>> {
    let trainable = Trainable::load(
        files.require("model.safetensors")?,
        cfg,
        opts.freeze,
        device,
    )?;

    let steps = corpus.train.len().div_ceil(opts.batch_size) * opts.epochs;
    let bar = if json {
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
        corpus,
        opts,
        out,
        device,
        &AtomicBool::new(false),
        |p| {
            bar.set_position(p.step as u64);
            bar.set_message(format!(
                "{}  loss {:.3}  {:.0} tokens/s",
                p.epoch, p.loss, p.tokens_per_second
            ));
        },
    );
    bar.finish_and_clear();
    let reports = reports?;
    anyhow::ensure!(
        reports.iter().any(|r| r.saved),
        "training ended without saving a model in {}",
        out.display()
    );
    Ok(reports)
}
