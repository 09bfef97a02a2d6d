//! `storybook-studio embed TEXT...` (all-MiniLM-L6-v2 sentence embeddings) and
//! `storybook-studio eval-prompts CSV_OR_DIR` (the Kaggle image-to-prompt metric: the mean cosine
//! between MiniLM embeddings of predicted and true prompts).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::progress::TerminalDownload;
use super::GlobalArgs;
use crate::ml::image_io::load_rgb;
use crate::ml::models::minilm::{cosine, MiniLm};
use crate::ml::weights::ModelKind;
use crate::ml::words::interrogate::{image_to_prompt, PromptMode};
use crate::ml::words::pairs::read_pairs;
use crate::ml::words::rank::image_embedding;

#[derive(Debug, clap::Args)]
pub struct EmbedArgs {
    #[arg(required = true)]
    pub texts: Vec<String>,
    /// all-MiniLM-L6-v2 folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long, value_name = "DIR")]
    pub minilm: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// A CSV with image and prompt columns, or a folder (prompts.csv, or IMAGE + IMAGE.txt).
    pub pairs: PathBuf,
    #[arg(long, value_name = "DIR")]
    pub clip: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    pub minilm: Option<PathBuf>,
    #[arg(long, default_value = "fast")]
    pub mode: PromptMode,
    /// Evaluate only the first N pairs.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, value_name = "DIR")]
    pub lexicons: Option<PathBuf>,
    /// With BLIP found (or given), each predicted prompt starts with its caption, as `prompt`
    /// does; `--no-caption` measures the lexicons alone.
    #[command(flatten)]
    pub caption: super::caption::CaptionChoice,
}

fn load_minilm(global: &GlobalArgs, explicit: Option<&Path>) -> anyhow::Result<MiniLm> {
    let files = global.locator().locate(
        ModelKind::Minilm,
        explicit,
        &mut TerminalDownload::new(global.json),
    )?;
    let device = crate::ml::device::open(&global.device)?;
    Ok(crate::ml::models::load::minilm(&files, &device)?)
}

pub fn run_embed(global: &GlobalArgs, args: EmbedArgs) -> anyhow::Result<()> {
    let model = load_minilm(global, args.minilm.as_deref())?;
    let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let embeddings = model.embed(&texts)?;
    if global.json {
        return super::print_json(&serde_json::json!({ "embeddings": embeddings }));
    }
    for (text, e) in args.texts.iter().zip(&embeddings) {
        let head: Vec<String> = e.iter().take(6).map(|v| format!("{v:+.4}")).collect();
        println!("{text:?}: [{} …] ({} dims)", head.join(", "), e.len());
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct EvalItem {
    image: String,
    prompt: String,
    predicted: String,
    cosine: f64,
}

pub fn run_eval(global: &GlobalArgs, args: EvalArgs) -> anyhow::Result<()> {
    let mut pairs = read_pairs(&args.pairs)?;
    if let Some(n) = args.limit {
        pairs.truncate(n);
    }
    let words = super::word_models::load_image_words(
        global,
        args.clip.as_deref(),
        args.lexicons.as_deref(),
    )?;
    let minilm = load_minilm(global, args.minilm.as_deref())?;
    let captioner = super::caption::optional_captioner(global, &args.caption)?;
    let mut items = Vec::with_capacity(pairs.len());
    for pair in &pairs {
        let image = load_rgb(&pair.image)?;
        let e = image_embedding(&words.clip, &image)?;
        let caption = super::caption::caption_of(captioner.as_ref(), &image)?;
        let predicted = image_to_prompt(
            &words.clip,
            &words.tokenizer,
            &words.labels,
            &e,
            args.mode,
            3,
            caption.as_deref(),
        )?
        .prompt;
        let v = minilm.embed(&[pair.prompt.as_str(), predicted.as_str()])?;
        let item = EvalItem {
            image: pair.image.display().to_string(),
            prompt: pair.prompt.clone(),
            predicted,
            cosine: cosine(&v[0], &v[1]),
        };
        if !global.json {
            println!("{:.4}  {}  →  {}", item.cosine, item.image, item.predicted);
        }
        items.push(item);
    }
    let mean = items.iter().map(|i| i.cosine).sum::<f64>() / items.len() as f64;
    if global.json {
        return super::print_json(&serde_json::json!({
            "mean_cosine": mean,
            "pairs": items.len(),
            "captions": captioner.is_some(),
            "items": items,
        }));
    }
    println!(
        "\nmean cosine similarity over {} pairs: {mean:.4}",
        items.len()
    );
    Ok(())
}
