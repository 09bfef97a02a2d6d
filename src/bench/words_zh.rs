//! Chinese image-to-words latency at the real shapes (Chinese CLIP ViT-B/16 with its 12-layer
//! BERT, GPT-2 base with 21,128 tokens; random weights, the real bert-base-chinese tokenizer):
//! embedding the imagery keywords, then what `poem --lang zh` costs once they are cached.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::Serialize;

use super::{peak_rss_bytes, random_gpt2_weights, random_weights};
use crate::ml::models::cn_clip::tokenize::CnClipTokenizer;
use crate::ml::models::cn_clip::{self, ChineseClip};
use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::models::gpt2::{self, Gpt2};
use crate::ml::words::label_cache::LabelCache;
use crate::ml::words::lexicon::Lexicon;
use crate::ml::words::zh_keywords::ChineseWords;
use crate::ml::words::zh_poem::{image_to_zh_poem, ZhPoemOptions};
use crate::ml::Result;

#[derive(Debug, Clone, Serialize)]
pub struct WordsZhBench {
    pub implementation: &'static str,
    pub keywords: usize,
    pub keyword_cache_build_seconds: f64,
    pub image_embedding_seconds: f64,
    pub keywords_seconds: f64,
    pub poem_writing_seconds: f64,
    /// Everything `poem --lang zh` does once models and keywords are loaded: picture to poem.
    pub poem_total_seconds: f64,
    pub form: usize,
    pub lines: usize,
    pub candidates: usize,
    pub peak_rss_bytes: u64,
    pub threads: usize,
}

/// `config.json` of OFA-Sys/chinese-clip-vit-base-patch16, in the fields that shape it.
const REAL_CN_CLIP: &str = r#"{"projection_dim": 512,
  "text_config": {"vocab_size": 21128, "hidden_size": 768, "num_hidden_layers": 12,
    "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu"},
  "vision_config": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
    "num_attention_heads": 12, "image_size": 224, "patch_size": 16}}"#;

pub fn bench_words_zh(tokenizer: &Path, work: &Path) -> Result<WordsZhBench> {
    let device = Device::Cpu;
    std::fs::create_dir_all(work).map_err(|source| crate::ml::Error::Io {
        path: work.to_path_buf(),
        source,
    })?;
    let config = work.join("config.json");
    std::fs::write(&config, REAL_CN_CLIP).map_err(|source| crate::ml::Error::Io {
        path: config.clone(),
        source,
    })?;
    let ccfg = cn_clip::Config::from_file(&config)?;
    let weights = random_weights(&cn_clip::expected_keys(&ccfg), 1, &device)?;
    let clip = ChineseClip::load(
        VarBuilder::from_tensors(weights, DType::F32, &device),
        &ccfg,
    )?;
    let ctok = CnClipTokenizer::from_files(Some(tokenizer), None)?;
    let mut gcfg = gpt2::Config::gpt2_124m();
    gcfg.vocab_size = 21128;
    gcfg.eos_token_id = Some(102);
    let gpt2 = Gpt2::load(
        VarBuilder::from_tensors(random_gpt2_weights(&gcfg, 0)?, DType::F32, &device),
        &gcfg,
    )?;
    let gtok = TextTokenizer::from_files(Some(tokenizer), None)?;

    let lexicon = Lexicon::chinese_imagery(None, None)?;
    let cache = LabelCache::at(work.join("labels"));
    let t = Instant::now();
    let words = ChineseWords::new(clip, ctok, &lexicon, &cache, "bench")?;
    let keyword_cache_build_seconds = t.elapsed().as_secs_f64();

    let picture = image::RgbImage::from_fn(512, 384, |x, y| {
        image::Rgb([(x / 2) as u8, (y / 2) as u8, ((x + y) / 4) as u8])
    });
    let opts = ZhPoemOptions::default();
    let total = Instant::now();
    let t = Instant::now();
    let e = words.image_embedding(&picture)?;
    let image_embedding_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = words.keywords_for(&e, 8);
    let keywords_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    image_to_zh_poem(&words, &gpt2, &gtok, &e, &opts, |_| {
        ControlFlow::Continue(())
    })?;
    let poem_writing_seconds = t.elapsed().as_secs_f64();
    let poem_total_seconds = total.elapsed().as_secs_f64();
    Ok(WordsZhBench {
        implementation: "candle",
        keywords: lexicon.terms.len(),
        keyword_cache_build_seconds,
        image_embedding_seconds,
        keywords_seconds,
        poem_writing_seconds,
        poem_total_seconds,
        form: opts.form,
        lines: opts.lines,
        candidates: opts.candidates,
        peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
        threads: candle_core::utils::get_num_threads(),
    })
}
