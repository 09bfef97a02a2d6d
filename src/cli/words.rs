//! `storybook-studio prompt IMAGE` and `storybook-studio poem IMAGE`: a picture back into words.

use std::ops::ControlFlow;
use std::path::PathBuf;

use super::caption::{caption_of, optional_captioner, CaptionChoice};
use super::words_zh::{Lang, ZhPoemRequest};
use super::GlobalArgs;
use crate::ml::image_io::load_rgb;
use crate::ml::words::interrogate::{image_to_prompt, PromptMode};
use crate::ml::words::poem::{image_to_poem, PoemOptions};
use crate::ml::words::rank::{image_embedding, Ranked};
use crate::ml::words::zh_poem::ZhPoemOptions;

#[derive(Debug, clap::Args)]
pub struct PromptArgs {
    pub image: PathBuf,
    /// CLIP folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long, value_name = "DIR")]
    pub clip: Option<PathBuf>,
    /// fast, best (greedy chaining by CLIP) or negative (the least alike terms).
    #[arg(long, default_value = "fast")]
    pub mode: PromptMode,
    /// Terms shown per lexicon, and modifiers used in a fast prompt.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// A folder of NAME.txt lexicons that replace the built-in ones of the same name.
    #[arg(long, value_name = "DIR")]
    pub lexicons: Option<PathBuf>,
    #[command(flatten)]
    pub caption: CaptionChoice,
}

#[derive(Debug, clap::Args)]
pub struct PoemArgs {
    pub image: PathBuf,
    /// en: an English poem (CLIP clues, GPT-2); zh: a classical Chinese poem (Chinese CLIP
    /// keywords, a Chinese poem GPT-2).
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
    #[arg(long, value_name = "DIR")]
    pub clip: Option<PathBuf>,
    /// GPT-2 folder, or a fine-tuned one.
    #[arg(long, value_name = "DIR")]
    pub gpt2: Option<PathBuf>,
    /// Chinese CLIP folder, for --lang zh.
    #[arg(long, value_name = "DIR")]
    pub cn_clip: Option<PathBuf>,
    /// Chinese poem GPT-2 folder (uer/gpt2-chinese-poem or alike), for --lang zh.
    #[arg(long, value_name = "DIR")]
    pub gpt2_zh: Option<PathBuf>,
    /// Characters per line for --lang zh: 5 or 7 (default 5).
    #[arg(long, value_name = "5|7")]
    pub form: Option<usize>,
    /// A keyword list (one per line, UTF-8) for --lang zh instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub terms: Option<PathBuf>,
    #[arg(long, default_value_t = 4)]
    pub lines: usize,
    #[arg(long, default_value_t = 3)]
    pub candidates: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 0.9)]
    pub temperature: f64,
    #[arg(long, value_name = "DIR")]
    pub lexicons: Option<PathBuf>,
    #[command(flatten)]
    pub caption: CaptionChoice,
}

pub fn run_prompt(global: &GlobalArgs, args: PromptArgs) -> anyhow::Result<()> {
    let image = load_rgb(&args.image)?;
    let words = super::word_models::load_image_words(
        global,
        args.clip.as_deref(),
        args.lexicons.as_deref(),
    )?;
    let captioner = match args.mode.wants_caption() {
        true => optional_captioner(global, &args.caption)?,
        false => None,
    };
    let caption = caption_of(captioner.as_ref(), &image)?;
    let embedding = image_embedding(&words.clip, &image)?;
    let result = image_to_prompt(
        &words.clip,
        &words.tokenizer,
        &words.labels,
        &embedding,
        args.mode,
        args.top,
        caption.as_deref(),
    )?;
    if global.json {
        return super::print_json(&result);
    }
    println!("{}", result.prompt);
    if let Some(caption) = &result.caption {
        println!("\ncaption (BLIP): {caption}");
    }
    println!("\nsimilarity to the image: {:.4}", result.similarity);
    for (lexicon, terms) in &result.terms {
        println!("{lexicon:>10}: {}", format_terms(terms));
    }
    Ok(())
}

pub fn run_poem(global: &GlobalArgs, args: PoemArgs) -> anyhow::Result<()> {
    if args.lang == Lang::Zh {
        return run_poem_zh(global, &args);
    }
    for (given, name) in [
        (args.form.is_some(), "--form"),
        (args.cn_clip.is_some(), "--cn-clip"),
        (args.gpt2_zh.is_some(), "--gpt2-zh"),
        (args.terms.is_some(), "--terms"),
    ] {
        if given {
            anyhow::bail!("{name} is for Chinese poems; add --lang zh");
        }
    }
    let image = load_rgb(&args.image)?;
    let words = super::word_models::load_image_words(
        global,
        args.clip.as_deref(),
        args.lexicons.as_deref(),
    )?;
    let mut story = super::story::load_story_model(global, args.gpt2.as_deref())?;
    story.model.pack_for_writing(None);
    let caption = caption_of(optional_captioner(global, &args.caption)?.as_ref(), &image)?;
    let embedding = image_embedding(&words.clip, &image)?;
    let opts = PoemOptions {
        lines: args.lines,
        candidates: args.candidates,
        seed: args.seed,
        temperature: args.temperature,
    };
    let result = image_to_poem(
        &words.clip,
        &words.tokenizer,
        &story.model,
        &story.tokenizer,
        &words.labels,
        &embedding,
        caption.as_deref(),
        &opts,
        |_, _| ControlFlow::Continue(()),
    )?;
    if global.json {
        return super::print_json(&serde_json::json!({
            "poem": result.poem,
            "caption": result.caption,
            "clues": result.clues,
            "candidates": result.candidates,
        }));
    }
    println!("{}\n", result.poem);
    if let Some(caption) = &result.caption {
        println!("{:>8}: {caption}", "caption");
    }
    for (clue, terms) in &result.clues {
        println!("{clue:>8}: {}", format_terms(terms));
    }
    for (i, c) in result.candidates.iter().enumerate().skip(1) {
        println!(
            "\n── candidate {} (score {:.4}) ──\n{}",
            i + 1,
            c.score,
            c.poem
        );
    }
    Ok(())
}

/// `poem --lang zh`: the English-only options are refused by name.
fn run_poem_zh(global: &GlobalArgs, args: &PoemArgs) -> anyhow::Result<()> {
    for (given, name, instead) in [
        (args.clip.is_some(), "--clip", "--cn-clip"),
        (args.gpt2.is_some(), "--gpt2", "--gpt2-zh"),
        (
            args.caption.blip.is_some(),
            "--blip",
            "nothing (no caption is used)",
        ),
    ] {
        if given {
            anyhow::bail!("{name} is for English poems; for Chinese poems use {instead}");
        }
    }
    let request = ZhPoemRequest {
        image: &args.image,
        cn_clip: args.cn_clip.as_deref(),
        gpt2_zh: args.gpt2_zh.as_deref(),
        terms: args.terms.as_deref(),
        lexicons: args.lexicons.as_deref(),
        options: ZhPoemOptions {
            form: args.form.unwrap_or(5),
            lines: args.lines,
            candidates: args.candidates,
            seed: args.seed,
            temperature: args.temperature,
            ..ZhPoemOptions::default()
        },
    };
    super::words_zh::run_poem_zh(global, request)
}

fn format_terms(terms: &[Ranked]) -> String {
    terms
        .iter()
        .map(|r| format!("{} ({:.3})", r.term, r.score))
        .collect::<Vec<_>>()
        .join(", ")
}
