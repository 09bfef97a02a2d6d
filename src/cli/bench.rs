//! `storybook-studio bench …`: speed of our engine, printed in the same JSON shape as the
//! Python reference scripts in `bench/`, so `bench/compare.sh` can put them side by side.

use std::path::PathBuf;

use super::GlobalArgs;
use crate::bench::{random_gpt2_weights, save_weights};
use crate::ml::kernels::packed_weight::WeightFormat;
use crate::ml::models::gpt2::Config;
use crate::ml::weights::ModelKind;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchWhat {
    /// GPT-2 124M tokens per second (random weights of the real shape, greedy, KV cache).
    Story {
        #[arg(long, default_value_t = 32)]
        prompt_tokens: usize,
        #[arg(long, default_value_t = 128)]
        new_tokens: usize,
        /// Also write the random weights here, for the reference script to load.
        #[arg(long, value_name = "FILE")]
        save_weights: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// How the linear weights are kept while writing: q8, bf16 or f32.
        #[arg(long, default_value = "f32")]
        weights: WeightFormat,
    },
    /// What bf16 and q8 weights cost GPT-2's writing: KL divergence of next-token
    /// distributions against f32, and greedy agreement, over the oracle's prompts.
    StoryQuality {
        /// GPT-2 folder; its reference.json's prompts are used when it has one (the oracle).
        #[arg(long, value_name = "DIR", default_value = "tests/fixtures/gpt2-tiny")]
        gpt2: PathBuf,
        /// A prompt to measure (repeatable); replaces the folder's prompts.
        #[arg(long = "prompt", value_name = "TEXT")]
        prompts: Vec<String>,
        /// Greedy tokens written after each prompt.
        #[arg(long, default_value_t = 40)]
        steps: usize,
    },
    /// GPT-2 124M fine-tuning throughput (random weights of the real shape).
    Finetune {
        #[arg(long, default_value_t = 128)]
        block_size: usize,
        #[arg(long, default_value_t = 4)]
        batch_size: usize,
        #[arg(long, default_value_t = 5)]
        steps: usize,
        /// Also write the random weights here, for the reference script to load.
        #[arg(long, value_name = "FILE")]
        save_weights: Option<PathBuf>,
    },
    /// The library: save a 12-page book, list 1,000 books with covers, search them; then
    /// meaning, words and hybrid search over 1k, 10k and 100k pages, and the back-fill rate
    /// (medians).
    Library {
        #[arg(long, default_value_t = 1000)]
        books: usize,
        #[arg(long, default_value_t = 15)]
        runs: usize,
        /// Library sizes, in pages, for the search part.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        pages: Vec<usize>,
        /// all-MiniLM-L6-v2 folder, for the query embedding and back-fill rate (default: the
        /// one on this computer, if any; never downloaded).
        #[arg(long, value_name = "DIR")]
        minilm: Option<PathBuf>,
    },
    /// Image to words: label-cache build per 1,000 terms, its reload, and prompt/poem latency
    /// (CLIP ViT-B/32 and GPT-2 124M shapes, random weights, the real tokenizers).
    Words {
        /// CLIP tokenizer.json (default: the copy in tests/fixtures).
        #[arg(long, value_name = "FILE")]
        clip_tokenizer: Option<PathBuf>,
        /// GPT-2 tokenizer.json (default: the copy in tests/fixtures).
        #[arg(long, value_name = "FILE")]
        gpt2_tokenizer: Option<PathBuf>,
    },
    /// `poem --lang zh` latency: Chinese CLIP ViT-B/16 and GPT-2 base with the Chinese vocabulary
    /// (random weights, the real bert-base-chinese tokenizer), keywords cached first.
    WordsZh {
        /// bert-base-chinese tokenizer.json (default: the copy in tests/fixtures).
        #[arg(long, value_name = "FILE")]
        tokenizer: Option<PathBuf>,
    },
    /// One BLIP large caption (random weights of the real shape): pixels to N greedy tokens,
    /// with the vision tower and the decoding timed apart, and peak RSS.
    Caption {
        #[arg(long, default_value_t = 20)]
        new_tokens: usize,
        /// Keep the random model here (config.json, model.safetensors) for the reference
        /// script; by default it goes to a temporary folder that is removed.
        #[arg(long, value_name = "DIR")]
        save_dir: Option<PathBuf>,
    },
    /// The machine's measured FMA peak, then the GFLOP/s of our kernels against it and candle:
    /// the VQGAN decoder's convolutions and CLIP's products at 32 cutouts.
    Conv {
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// One VQGAN+CLIP step (f16-16384 decoder, ViT-B/32, random weights): seconds, peak RSS,
    /// and the time of each stage.
    Illustrate {
        #[arg(long, default_value_t = 256)]
        size: usize,
        #[arg(long, default_value_t = 32)]
        cutn: usize,
        #[arg(long, default_value_t = 3)]
        iterations: usize,
        /// f32, or bf16 (CLIP's image tower and the decoder's wide layers on AMX or
        /// AVX512-BF16; f32 with a warning where neither runs).
        #[arg(long, default_value = "f32")]
        precision: crate::ml::illustrate::Precision,
    },
    /// What bf16 costs in quality: one prompt and seed drawn in f32 and in bf16, the
    /// similarity curves step by step and the final pictures' PSNR (tiny models by default).
    Precision {
        /// CLIP folder (default: the tiny oracle model in tests/fixtures).
        #[arg(long, value_name = "DIR")]
        clip: Option<PathBuf>,
        /// VQGAN folder (default: the tiny oracle model in tests/fixtures).
        #[arg(long, value_name = "DIR")]
        vqgan: Option<PathBuf>,
        #[arg(long, default_value = "a red barn in the snow")]
        prompt: String,
        #[arg(long, default_value = "64x64", value_parser = super::illustrate::parse_size)]
        size: (usize, usize),
        #[arg(long, default_value_t = 8)]
        cutn: usize,
        #[arg(long, default_value_t = 50)]
        iterations: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// The time-left estimate against reality: a run at the real shapes, the estimate taken
    /// at one step, then the time the run really took from there.
    Eta {
        #[arg(long, default_value_t = 256)]
        size: usize,
        #[arg(long, default_value_t = 8)]
        cutn: usize,
        #[arg(long, default_value_t = 60)]
        iterations: usize,
        #[arg(long, default_value_t = 10)]
        at_step: usize,
        /// Start at half size, as `illustrate --progressive` does.
        #[arg(long)]
        progressive: bool,
    },
}

pub fn run(global: &GlobalArgs, args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchWhat::Finetune {
            block_size,
            batch_size,
            steps,
            save_weights: save_to,
        } => {
            let cfg = Config::gpt2_124m();
            let weights = random_gpt2_weights(&cfg, 0)?;
            let path = save_to.unwrap_or_else(|| {
                std::env::temp_dir()
                    .join(format!("storybook-ft-{}.safetensors", std::process::id()))
            });
            save_weights(&weights, &path)?;
            drop(weights);
            let result = crate::bench::bench_finetune(&path, block_size, batch_size, steps.max(1))?;
            if global.json {
                return super::print_json(&result);
            }
            println!(
                "candle GPT-2 124M fine-tuning, block {block_size}, batch {batch_size}: {:.0} tokens/s, peak RSS {:.2} GiB",
                result.tokens_per_second,
                result.peak_rss_bytes as f64 / (1u64 << 30) as f64
            );
            Ok(())
        }
        BenchWhat::Words {
            clip_tokenizer,
            gpt2_tokenizer,
        } => {
            let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
            let clip_tok =
                clip_tokenizer.unwrap_or_else(|| fixtures.join("clip-tiny/tokenizer.json"));
            let gpt2_tok =
                gpt2_tokenizer.unwrap_or_else(|| fixtures.join("gpt2-tiny/tokenizer.json"));
            let cache =
                std::env::temp_dir().join(format!("storybook-words-{}", std::process::id()));
            let result = crate::bench::words::bench_words(&clip_tok, &gpt2_tok, &cache);
            let _ = std::fs::remove_dir_all(&cache);
            let r = result?;
            if global.json {
                return super::print_json(&r);
            }
            println!(
                "candle image to words ({} lexicon terms, {} threads):\n  \
                 label cache build {:.2} s ({:.2} s per 1,000 terms), reload {:.3} s\n  \
                 image embedding {:.3} s; prompt fast {:.3} s, best {:.2} s, negative {:.3} s\n  \
                 poem ({} lines, {} candidates) {:.2} s; peak RSS {:.2} GiB",
                r.lexicon_terms,
                r.threads,
                r.cache_build_seconds,
                r.cache_build_seconds_per_1000_terms,
                r.cache_reload_seconds,
                r.image_embedding_seconds,
                r.prompt_fast_seconds,
                r.prompt_best_seconds,
                r.prompt_negative_seconds,
                r.poem_lines,
                r.poem_candidates,
                r.poem_seconds,
                r.peak_rss_bytes as f64 / (1u64 << 30) as f64
            );
            Ok(())
        }
        BenchWhat::WordsZh { tokenizer } => {
            let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
            let tok =
                tokenizer.unwrap_or_else(|| fixtures.join("gpt2-chinese-tiny/tokenizer.json"));
            let work =
                std::env::temp_dir().join(format!("storybook-words-zh-{}", std::process::id()));
            let result = crate::bench::words_zh::bench_words_zh(&tok, &work);
            let _ = std::fs::remove_dir_all(&work);
            let r = result?;
            if global.json {
                return super::print_json(&r);
            }
            println!(
                "candle Chinese poem ({} keywords, {} threads):\n  \
                 keyword cache build {:.2} s\n  \
                 image embedding {:.3} s, keywords {:.4} s, poem writing ({}x{} characters, {} \
                 candidates, ranked) {:.2} s\n  \
                 poem --lang zh, picture to poem: {:.2} s; peak RSS {:.2} GiB",
                r.keywords,
                r.threads,
                r.keyword_cache_build_seconds,
                r.image_embedding_seconds,
                r.keywords_seconds,
                r.lines,
                r.form,
                r.candidates,
                r.poem_writing_seconds,
                r.poem_total_seconds,
                r.peak_rss_bytes as f64 / (1u64 << 30) as f64
            );
            Ok(())
        }
        BenchWhat::Caption {
            new_tokens,
            save_dir,
        } => {
            let temp = std::env::temp_dir().join(format!("storybook-blip-{}", std::process::id()));
            let dir = save_dir.clone().unwrap_or_else(|| temp.clone());
            let cfg = crate::bench::caption::write_random_blip(&dir, 0)?;
            let result = crate::bench::caption::bench_caption(
                &dir.join("model.safetensors"),
                &cfg,
                new_tokens.max(1),
            );
            if save_dir.is_none() {
                let _ = std::fs::remove_dir_all(&temp);
            }
            let r = result?;
            if global.json {
                return super::print_json(&r);
            }
            println!(
                "candle BLIP large caption, {} tokens: {:.2} s (vision {:.2} s, decoding {:.2} s), \
                 {} threads, peak RSS {:.2} GiB",
                r.new_tokens,
                r.seconds,
                r.vision_seconds,
                r.decode_seconds,
                r.threads,
                r.peak_rss_bytes as f64 / (1u64 << 30) as f64
            );
            Ok(())
        }
        BenchWhat::Conv { runs } => super::bench_kernels::conv(global, runs),
        BenchWhat::Library {
            books,
            runs,
            mut pages,
            minilm,
        } => {
            let dir = std::env::temp_dir().join(format!("storybook-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let model = match global
                .locator()
                .find_local(ModelKind::Minilm, minilm.as_deref())
            {
                Ok(files) => {
                    let device = crate::ml::device::open(&global.device)?;
                    Some(crate::ml::models::load::minilm(&files, &device)?)
                }
                Err(_) => None,
            };
            pages.sort_unstable();
            let runs = runs.max(1);
            let result =
                crate::bench::library::bench_library(&dir.join("bench.sqlite"), books, runs)
                    .map_err(anyhow::Error::from)
                    .and_then(|saving| {
                        let search = crate::bench::library_search::bench_search(
                            &dir.join("search.sqlite"),
                            &pages,
                            runs,
                            model.as_ref(),
                        )?;
                        Ok((saving, search))
                    });
            let _ = std::fs::remove_dir_all(&dir);
            let (result, search) = result?;
            if global.json {
                return super::print_json(
                    &serde_json::json!({ "books": result, "search": search }),
                );
            }
            println!(
                "library, {} books, median of {} runs: save a 12-page book {:.1} ms, list {:.1} ms, search {:.2} ms",
                result.books, result.runs, result.save_12_page_book_ms, result.list_1000_books_ms, result.search_1000_books_ms
            );
            for s in &search.sizes {
                println!(
                    "{:>7} pages: meaning {:.2} ms, words {:.2} ms, hybrid {:.2} ms (vectors loaded once in {:.1} ms)",
                    s.pages, s.meaning_ms, s.words_ms, s.hybrid_ms, s.load_vectors_ms
                );
            }
            match (search.query_embedding_ms, search.backfill_pages_per_second) {
                (Some(q), Some(r)) => println!(
                    "MiniLM: a query embeds in {q:.1} ms; back-fill embeds {r:.0} pages/s"
                ),
                _ => println!("(no MiniLM on this computer: query embedding and back-fill not measured; give --minilm DIR)"),
            }
            Ok(())
        }
        BenchWhat::Eta {
            size,
            cutn,
            iterations,
            at_step,
            progressive,
        } => super::bench_illustrate::eta(global, size, cutn, iterations, at_step, progressive),
        BenchWhat::Precision {
            clip,
            vqgan,
            prompt,
            size,
            cutn,
            iterations,
            seed,
        } => {
            let opts = crate::ml::illustrate::IllustrateOptions {
                width: size.0,
                height: size.1,
                cutn,
                iterations,
                seed,
                preview_every: 0,
                ..Default::default()
            };
            super::bench_illustrate::precision(global, clip, vqgan, &prompt, &opts)
        }
        BenchWhat::Illustrate {
            size,
            cutn,
            iterations,
            precision,
        } => super::bench_illustrate::illustrate(global, size, cutn, iterations, precision),
        BenchWhat::StoryQuality {
            gpt2,
            prompts,
            steps,
        } => super::bench_story::story_quality(global, &gpt2, &prompts, steps),
        BenchWhat::Story {
            prompt_tokens,
            new_tokens,
            save_weights,
            seed,
            weights,
        } => super::bench_story::story_speed(
            global,
            super::bench_story::StorySpeed {
                prompt_tokens,
                new_tokens,
                save_weights,
                seed,
                weights,
            },
        ),
    }
}
