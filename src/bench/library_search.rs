//! Searching a library of 1,000 to 100,000 pages: loading the vector matrix from SQLite, the
//! meaning scan (top 20 of all pages), words (FTS5), hybrid (both, fused), and the rate at which
//! pages are embedded (back-fill) when a MiniLM is at hand. Vectors are random unit vectors:
//! the scan's cost does not depend on what they mean.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::library::WORDS;
use crate::book::search::{backfill, fuse, Embedder};
use crate::book::BookError;
use crate::ml::models::minilm::MiniLm;
use crate::store::{Library, NewBook, NewPage, VectorKind};

const DIM: usize = 384;
const PAGES_PER_BOOK: usize = 10;
const MODEL: &str = "bench";

#[derive(Debug, Clone, Serialize)]
pub struct SearchAtSize {
    pub pages: usize,
    /// Reading every vector from the file into one matrix, as every search does today.
    pub load_vectors_ms: f64,
    /// Top 20 by cosine over every page.
    pub meaning_ms: f64,
    pub words_ms: f64,
    /// Words and meaning lists, fused.
    pub hybrid_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchBench {
    pub sizes: Vec<SearchAtSize>,
    /// MiniLM embedding one query (ms), when a model was given.
    pub query_embedding_ms: Option<f64>,
    /// Pages embedded per second by the back-fill, when a model was given.
    pub backfill_pages_per_second: Option<f64>,
    pub runs: usize,
}

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2] * 1000.0
}

fn unit(rng: &mut ChaCha8Rng) -> Vec<f32> {
    let v: Vec<f32> = (0..DIM).map(|_| rng.random::<f32>() - 0.5).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

/// Adds books until `lib` has `pages` pages, each page with a random vector.
fn grow(lib: &mut Library, pages: usize, rng: &mut ChaCha8Rng) -> Result<(), BookError> {
    let have: usize = lib
        .list(0, usize::MAX >> 1)?
        .iter()
        .map(|b| b.page_count)
        .sum();
    let w = |i: usize| WORDS[i % WORDS.len()];
    for n in (have / PAGES_PER_BOOK)..pages.div_ceil(PAGES_PER_BOOK) {
        let book = NewBook {
            title: format!("The {} and the {} {n}", w(n * 7), w(n * 3 + 1)),
            prompt: String::new(),
            planned_pages: PAGES_PER_BOOK,
            ..NewBook::default()
        };
        let new_pages: Vec<NewPage> = (0..PAGES_PER_BOOK)
            .map(|i| NewPage {
                sentence: format!(
                    "The {} saw the {} by the {}.",
                    w(n + i),
                    w(n * 5 + i + 1),
                    w(n * 11 + i + 2)
                ),
                ..NewPage::default()
            })
            .collect();
        lib.create_book(&book, &new_pages)?;
    }
    let missing = lib.pages_without_vector(VectorKind::Text, MODEL, usize::MAX >> 1)?;
    let rows: Vec<(i64, Option<String>, Vec<f32>)> = missing
        .into_iter()
        .map(|(id, _)| (id, None, unit(rng)))
        .collect();
    lib.put_vectors(VectorKind::Text, MODEL, &rows)?;
    Ok(())
}

/// Runs every size in `sizes` (ascending) on one library at `path`, which must not exist.
pub fn bench_search(
    path: &Path,
    sizes: &[usize],
    runs: usize,
    minilm: Option<&MiniLm>,
) -> Result<SearchBench, BookError> {
    let mut lib = Library::open(path)?;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut out = Vec::new();
    for &pages in sizes {
        grow(&mut lib, pages, &mut rng)?;
        let (mut load, mut meaning, mut words, mut hybrid) = (vec![], vec![], vec![], vec![]);
        for r in 0..runs {
            let t = Instant::now();
            let index = lib.vector_index(VectorKind::Text, MODEL, DIM)?;
            load.push(t.elapsed().as_secs_f64());
            let query = unit(&mut rng);
            let t = Instant::now();
            let top = index.top(&query, 80);
            meaning.push(t.elapsed().as_secs_f64());
            let word = WORDS[r % WORDS.len()];
            let t = Instant::now();
            let found = lib.search_pages(word, 80)?;
            words.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let listed: Vec<(i64, f64)> = found.iter().map(|&id| (id, 1.0)).collect();
            let scanned: Vec<(i64, f64)> = index
                .top(&query, 80)
                .into_iter()
                .map(|(id, s)| (id, s as f64))
                .collect();
            let fused = fuse(&[listed, scanned]);
            let shown =
                lib.page_refs(&fused.iter().take(20).map(|(id, _)| *id).collect::<Vec<_>>())?;
            hybrid.push(t.elapsed().as_secs_f64() + words.last().copied().unwrap_or(0.0));
            std::hint::black_box((top, shown));
        }
        out.push(SearchAtSize {
            pages,
            load_vectors_ms: median_ms(load),
            meaning_ms: median_ms(meaning),
            words_ms: median_ms(words),
            hybrid_ms: median_ms(hybrid),
        });
    }
    let (mut query_ms, mut rate) = (None, None);
    if let Some(model) = minilm {
        let mut samples = Vec::new();
        for r in 0..runs {
            let t = Instant::now();
            model.embed(&[&format!(
                "a {} by the {}",
                WORDS[r % WORDS.len()],
                WORDS[(r + 3) % WORDS.len()]
            )])?;
            samples.push(t.elapsed().as_secs_f64());
        }
        query_ms = Some(median_ms(samples));
        // The back-fill of a fresh 1,000-page library.
        drop(lib);
        let fresh = path.with_extension("backfill.sqlite");
        let mut small = Library::open(&fresh)?;
        grow(&mut small, 1000, &mut rng)?;
        let embedder = Embedder::Text {
            model,
            name: "minilm".into(),
        };
        let t = Instant::now();
        let n = backfill(&mut small, &embedder, &AtomicBool::new(false), |_, _| {})?;
        rate = Some(n as f64 / t.elapsed().as_secs_f64());
    }
    Ok(SearchBench {
        sizes: out,
        query_embedding_ms: query_ms,
        backfill_pages_per_second: rate,
        runs,
    })
}
