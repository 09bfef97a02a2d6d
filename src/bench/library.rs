//! Library benchmark: medians of saving a 12-page book, listing 1,000 books with covers, and
//! searching them. Runs on a temporary file; nothing touches the user's library.

use std::io::Cursor;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::store::{Library, NewBook, NewPage, Result, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct LibraryBench {
    pub save_12_page_book_ms: f64,
    pub list_1000_books_ms: f64,
    pub search_1000_books_ms: f64,
    pub books: usize,
    pub runs: usize,
}

fn noise_png(seed: u32, size: u32) -> Result<Vec<u8>> {
    // A cheap hash keeps PNGs incompressible-ish, like real illustrations.
    let img = image::RgbImage::from_fn(size, size, |x, y| {
        let h = (x.wrapping_mul(73_856_093)
            ^ y.wrapping_mul(19_349_663)
            ^ seed.wrapping_mul(83_492_791))
        .wrapping_mul(2_654_435_761);
        image::Rgb([(h >> 8) as u8, (h >> 16) as u8, (h >> 24) as u8])
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(out)
}

pub(super) const WORDS: &[&str] = &[
    "fox", "lantern", "river", "moon", "forest", "dragon", "bridge", "owl", "snow", "castle",
    "garden", "storm", "ship", "mountain", "candle", "meadow", "whale", "kite", "tower", "star",
];

fn book(n: usize, pages: &[Vec<u8>]) -> (NewBook, Vec<NewPage>) {
    let w = |i: usize| WORDS[(n * 7 + i * 3) % WORDS.len()];
    let book = NewBook {
        title: format!("The {} and the {} {n}", w(0), w(1)),
        prompt: format!("A {} finds a {}", w(2), w(3)),
        planned_pages: pages.len(),
        ..NewBook::default()
    };
    let pages = pages
        .iter()
        .enumerate()
        .map(|(i, png)| NewPage {
            sentence: format!("The {} saw the {} by the {}.", w(i), w(i + 1), w(i + 2)),
            settings: serde_json::json!({ "seed": i }),
            seed: i as u64,
            iterations: 100,
            similarity: Some(0.3),
            png: Some(png.clone()),
        })
        .collect();
    (book, pages)
}

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2] * 1000.0
}

/// Fills a library at `path` (which must not exist) and times the three operations.
pub fn bench_library(path: &Path, books: usize, runs: usize) -> Result<LibraryBench> {
    let mut lib = Library::open(path)?;
    let small: Vec<Vec<u8>> = (0..3).map(|i| noise_png(i, 64)).collect::<Result<_>>()?;
    for n in 0..books {
        let (b, p) = book(n, &small);
        lib.create_book(&b, &p)?;
    }
    let big: Vec<Vec<u8>> = (0..12)
        .map(|i| noise_png(100 + i, 256))
        .collect::<Result<_>>()?;
    let mut save = Vec::new();
    let mut list = Vec::new();
    let mut search = Vec::new();
    for r in 0..runs {
        let (b, p) = book(books + r, &big);
        let t = Instant::now();
        lib.create_book(&b, &p)?;
        save.push(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let rows = lib.list(0, books)?;
        list.push(t.elapsed().as_secs_f64());
        debug_assert!(rows.iter().all(|r| r.cover_thumbnail.is_some()));

        let t = Instant::now();
        lib.search(WORDS[r % WORDS.len()], 100)?;
        search.push(t.elapsed().as_secs_f64());
    }
    Ok(LibraryBench {
        save_12_page_book_ms: median_ms(save),
        list_1000_books_ms: median_ms(list),
        search_1000_books_ms: median_ms(search),
        books,
        runs,
    })
}
