//! `storybook-studio keywords IMAGE` and `poem IMAGE --lang zh`: classical Chinese imagery and
//! verse for a picture, with Chinese CLIP and a Chinese poem GPT-2 (the Image2Poem way).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::progress::TerminalDownload;
use super::GlobalArgs;
use crate::ml::image_io::load_rgb;
use crate::ml::weights::ModelKind;
use crate::ml::words::rank::{image_embedding, rank};
use crate::ml::words::zh_poem::{image_to_zh_poem, ZhPoemOptions};

/// The language of the words a picture gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Lang {
    /// English, with CLIP and GPT-2.
    #[default]
    En,
    /// Classical Chinese, with Chinese CLIP and a Chinese poem GPT-2.
    Zh,
}

#[derive(Debug, clap::Args)]
pub struct KeywordsArgs {
    pub image: PathBuf,
    /// zh: classical Chinese imagery by Chinese CLIP; en: the English imagery lexicon by CLIP.
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
    /// Chinese CLIP folder (config.json, weights, tokenizer.json or vocab.txt).
    #[arg(long, value_name = "DIR")]
    pub cn_clip: Option<PathBuf>,
    /// CLIP folder, for --lang en.
    #[arg(long, value_name = "DIR")]
    pub clip: Option<PathBuf>,
    /// A keyword list (one per line, UTF-8) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub terms: Option<PathBuf>,
    /// A folder of lexicons: its zh/imagery.txt (or imagery.txt for en) replaces the built-in.
    #[arg(long, value_name = "DIR")]
    pub lexicons: Option<PathBuf>,
    #[arg(long, default_value_t = 8)]
    pub top: usize,
}

pub fn run_keywords(global: &GlobalArgs, args: KeywordsArgs) -> anyhow::Result<()> {
    if args.top == 0 {
        anyhow::bail!("--top must be at least 1");
    }
    let image = load_rgb(&args.image)?;
    let ranked = match args.lang {
        Lang::Zh => {
            if args.clip.is_some() {
                anyhow::bail!("--clip is the English CLIP; for Chinese keywords use --cn-clip");
            }
            let words = super::word_models::load_chinese_words(
                global,
                args.cn_clip.as_deref(),
                args.terms.as_deref(),
                args.lexicons.as_deref(),
            )?;
            let embedding = words.image_embedding(&image)?;
            words.keywords_for(&embedding, args.top)
        }
        Lang::En => {
            if args.cn_clip.is_some() {
                anyhow::bail!("--cn-clip is for Chinese keywords; add --lang zh");
            }
            if args.terms.is_some() {
                anyhow::bail!(
                    "--terms replaces the Chinese keywords (--lang zh); for English lists use \
                     --lexicons DIR"
                );
            }
            let words = super::word_models::load_image_words(
                global,
                args.clip.as_deref(),
                args.lexicons.as_deref(),
            )?;
            let embedding = image_embedding(&words.clip, &image)?;
            let imagery = words
                .labels
                .get("imagery")
                .context("the imagery lexicon is missing")?;
            let mut ranked = rank(imagery, &embedding);
            ranked.truncate(args.top);
            ranked
        }
    };
    if global.json {
        return super::print_json(&serde_json::json!({ "keywords": ranked }));
    }
    for r in &ranked {
        println!("{}  {:.4}", r.term, r.score);
    }
    Ok(())
}

/// What `poem --lang zh` was asked for.
pub struct ZhPoemRequest<'a> {
    pub image: &'a Path,
    pub cn_clip: Option<&'a Path>,
    pub gpt2_zh: Option<&'a Path>,
    pub terms: Option<&'a Path>,
    pub lexicons: Option<&'a Path>,
    pub options: ZhPoemOptions,
}

/// `poem --lang zh`: Chinese CLIP's keywords, the Chinese poem GPT-2, candidates ranked.
pub fn run_poem_zh(global: &GlobalArgs, args: ZhPoemRequest<'_>) -> anyhow::Result<()> {
    let opts = args.options;
    opts.validate()?;
    let image = load_rgb(args.image)?;
    let words =
        super::word_models::load_chinese_words(global, args.cn_clip, args.terms, args.lexicons)?;
    let files = global.locator().locate(
        ModelKind::Gpt2Chinese,
        args.gpt2_zh,
        &mut TerminalDownload::new(global.json),
    )?;
    let device = crate::ml::device::open(&global.device)?;
    let (gpt2, tokenizer) = crate::ml::models::load::gpt2_chinese(&files, &device)?;
    let embedding = words.image_embedding(&image)?;
    let result = image_to_zh_poem(&words, &gpt2, &tokenizer, &embedding, &opts, |_| {
        match super::interrupt::interrupted() {
            true => ControlFlow::Break(()),
            false => ControlFlow::Continue(()),
        }
    })?;
    if global.json {
        return super::print_json(&result);
    }
    println!("{}\n", result.poem);
    let keywords: Vec<String> = result
        .keywords
        .iter()
        .map(|k| format!("{} ({:.3})", k.term, k.score))
        .collect();
    println!("意象 keywords: {}", keywords.join("、"));
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
