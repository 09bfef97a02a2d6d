//! Image-to-words latency with the real model shapes (CLIP ViT-B/32 and GPT-2 124M, random
//! weights, real tokenizers): building the label cache, reloading it, and each prompt mode and a
//! poem from an image whose CLIP embedding is ready.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::Serialize;

use super::{peak_rss_bytes, random_gpt2_weights, random_weights};
use crate::ml::models::clip::{self, tokenize::ClipTokenizer, Clip};
use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::models::gpt2::{self, Gpt2};
use crate::ml::words::interrogate::{image_to_prompt, PromptMode};
use crate::ml::words::label_cache::LabelCache;
use crate::ml::words::lexicon::Lexicon;
use crate::ml::words::poem::{image_to_poem, PoemOptions};
use crate::ml::words::rank::image_embedding;
use crate::ml::words::Labels;
use crate::ml::Result;

#[derive(Debug, Clone, Serialize)]
pub struct WordsBench {
    pub implementation: &'static str,
    pub lexicon_terms: usize,
    pub cache_build_seconds: f64,
    pub cache_build_seconds_per_1000_terms: f64,
    pub cache_reload_seconds: f64,
    pub image_embedding_seconds: f64,
    pub prompt_fast_seconds: f64,
    pub prompt_best_seconds: f64,
    pub prompt_negative_seconds: f64,
    pub poem_seconds: f64,
    pub poem_lines: usize,
    pub poem_candidates: usize,
    pub peak_rss_bytes: u64,
    pub threads: usize,
}

pub fn bench_words(
    clip_tokenizer: &Path,
    gpt2_tokenizer: &Path,
    cache_dir: &Path,
) -> Result<WordsBench> {
    let device = Device::Cpu;
    let ccfg = clip::Config::vit_b_32();
    let weights = random_weights(&clip::expected_keys(&ccfg), 1, &device)?;
    let clip = Clip::load(
        VarBuilder::from_tensors(weights, DType::F32, &device),
        &ccfg,
    )?;
    let tok = ClipTokenizer::from_file(clip_tokenizer, ccfg.text_config.max_position_embeddings)?;
    let gcfg = gpt2::Config::gpt2_124m();
    let gweights = random_gpt2_weights(&gcfg, 0)?;
    let mut gpt2 = Gpt2::load(
        VarBuilder::from_tensors(gweights, DType::F32, &device),
        &gcfg,
    )?;
    // Laid out for writing, as the studio and the CLI load it.
    gpt2.pack_for_writing(None);
    let gtok = TextTokenizer::from_file(gpt2_tokenizer)?;

    let lexicons = Lexicon::all_builtin();
    let terms: usize = lexicons.iter().map(|l| l.terms.len()).sum();
    let cache = LabelCache::at(cache_dir);
    let t = Instant::now();
    Labels::load(&cache, "bench", &lexicons, &clip, &tok)?;
    let cache_build_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (labels, _) = Labels::load(&cache, "bench", &lexicons, &clip, &tok)?;
    let cache_reload_seconds = t.elapsed().as_secs_f64();

    let picture = image::RgbImage::from_fn(512, 384, |x, y| {
        image::Rgb([(x / 2) as u8, (y / 2) as u8, ((x + y) / 4) as u8])
    });
    let t = Instant::now();
    let e = image_embedding(&clip, &picture)?;
    let image_embedding_seconds = t.elapsed().as_secs_f64();
    let prompt_time = |mode| -> Result<f64> {
        let t = Instant::now();
        image_to_prompt(&clip, &tok, &labels, &e, mode, 5, None)?;
        Ok(t.elapsed().as_secs_f64())
    };
    let prompt_fast_seconds = prompt_time(PromptMode::Fast)?;
    let prompt_best_seconds = prompt_time(PromptMode::Best)?;
    let prompt_negative_seconds = prompt_time(PromptMode::Negative)?;
    let opts = PoemOptions::default();
    let t = Instant::now();
    image_to_poem(
        &clip,
        &tok,
        &gpt2,
        &gtok,
        &labels,
        &e,
        None,
        &opts,
        |_, _| ControlFlow::Continue(()),
    )?;
    Ok(WordsBench {
        implementation: "candle",
        lexicon_terms: terms,
        cache_build_seconds,
        cache_build_seconds_per_1000_terms: cache_build_seconds * 1000.0 / terms as f64,
        cache_reload_seconds,
        image_embedding_seconds,
        prompt_fast_seconds,
        prompt_best_seconds,
        prompt_negative_seconds,
        poem_seconds: t.elapsed().as_secs_f64(),
        poem_lines: opts.lines,
        poem_candidates: opts.candidates,
        peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
        threads: candle_core::utils::get_num_threads(),
    })
}
