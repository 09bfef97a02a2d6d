//! Finding pages: by their words (FTS5), by meaning (MiniLM sentence embeddings, cosine), by
//! both (reciprocal-rank fusion), and by picture (CLIP image embeddings).
//!
//! Vectors are made lazily: [`backfill`] embeds every page that lacks one (a new page, a book
//! from before schema 4, an edited sentence), in batches, so any caller that has the model can
//! bring the library up to date with progress and a cancel flag.

use std::sync::atomic::{AtomicBool, Ordering};

use image::RgbImage;
use serde::Serialize;

use super::BookError;
use crate::ml::models::clip::Clip;
use crate::ml::models::minilm::MiniLm;
use crate::ml::words::rank::image_embedding;
use crate::store::{Library, VectorKind};

pub use crate::store::SearchMode;

/// One page found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub book_id: i64,
    /// 1-based.
    pub page: usize,
    pub title: String,
    pub sentence: String,
    /// Higher is better: cosine for meaning and pictures, the fused score for hybrid, and
    /// 1 / rank for words.
    pub score: f64,
}

/// A model that can embed what `kind` vectors embed, with the name its vectors are stored
/// under (a vector from another model is never compared with this one's).
pub enum Embedder<'a> {
    Text { model: &'a MiniLm, name: String },
    Image { model: &'a Clip, name: String },
}

impl Embedder<'_> {
    fn kind(&self) -> VectorKind {
        match self {
            Embedder::Text { .. } => VectorKind::Text,
            Embedder::Image { .. } => VectorKind::Image,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Embedder::Text { name, .. } | Embedder::Image { name, .. } => name,
        }
    }
}

/// Pages embedded per batch: one transaction each, and a cancel check between them.
const BATCH: usize = 64;

/// Embeds every page that has no current vector of the embedder's kind; returns how many.
/// `on_progress(done, total)` is called after each batch.
pub fn backfill(
    lib: &mut Library,
    embedder: &Embedder,
    cancel: &AtomicBool,
    mut on_progress: impl FnMut(usize, usize),
) -> Result<usize, BookError> {
    let (kind, name) = (embedder.kind(), embedder.name().to_string());
    let total = lib.count_without_vector(kind, &name)?;
    let mut done = 0;
    while done < total && !cancel.load(Ordering::Relaxed) {
        let batch = lib.pages_without_vector(kind, &name, BATCH)?;
        if batch.is_empty() {
            break;
        }
        let rows = match embedder {
            Embedder::Text { model, .. } => {
                let texts: Vec<&str> = batch.iter().map(|(_, s)| s.as_str()).collect();
                let vectors = model.embed(&texts)?;
                batch
                    .iter()
                    .zip(vectors)
                    .map(|((id, sentence), v)| (*id, Some(sentence.clone()), v))
                    .collect::<Vec<_>>()
            }
            Embedder::Image { model, .. } => {
                let mut rows = Vec::with_capacity(batch.len());
                for (id, _) in &batch {
                    let Some(png) = lib.picture_of(*id)? else {
                        continue;
                    };
                    let image = decode(&png)?;
                    rows.push((*id, None, image_embedding(model, &image)?));
                }
                rows
            }
        };
        lib.put_vectors(kind, &name, &rows)?;
        done += batch.len();
        on_progress(done.min(total), total);
    }
    Ok(done.min(total))
}

fn decode(png: &[u8]) -> Result<RgbImage, BookError> {
    image::load_from_memory(png)
        .map(|i| i.to_rgb8())
        .map_err(|e| BookError::Invalid(format!("a saved picture cannot be read ({e})")))
}

/// Pages for `text`, best first. `Meaning` and `Hybrid` need the text embedder and use only
/// pages already embedded (run [`backfill`] first).
pub fn search(
    lib: &Library,
    text: &str,
    mode: SearchMode,
    embedder: Option<&Embedder>,
    limit: usize,
) -> Result<Vec<Hit>, BookError> {
    // Each list is longer than what is shown, so fusion sees pages ranked lower in one list.
    let depth = limit.saturating_mul(4).max(50);
    let words = || -> Result<Vec<(i64, f64)>, BookError> {
        let ids = lib.search_pages(text, depth)?;
        Ok(ids
            .into_iter()
            .enumerate()
            .map(|(rank, id)| (id, 1.0 / (rank + 1) as f64))
            .collect())
    };
    let meaning = || -> Result<Vec<(i64, f64)>, BookError> {
        let Some(Embedder::Text { model, name }) = embedder else {
            return Err(BookError::Invalid(
                "searching by meaning needs the MiniLM sentence model".into(),
            ));
        };
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let query = model.embed(&[text])?.remove(0);
        let index = lib.vector_index(VectorKind::Text, name, query.len())?;
        Ok(index
            .top(&query, depth)
            .into_iter()
            .map(|(id, s)| (id, s as f64))
            .collect())
    };
    let ranked = match mode {
        SearchMode::Words => words()?,
        SearchMode::Meaning => meaning()?,
        SearchMode::Hybrid => fuse(&[words()?, meaning()?]),
    };
    hits(lib, ranked, limit)
}

/// Pages whose pictures are closest to `image` (CLIP cosine), best first.
pub fn similar(
    lib: &Library,
    clip: &Clip,
    name: &str,
    image: &RgbImage,
    limit: usize,
) -> Result<Vec<Hit>, BookError> {
    let query = image_embedding(clip, image)?;
    let index = lib.vector_index(VectorKind::Image, name, query.len())?;
    let ranked = index
        .top(&query, limit)
        .into_iter()
        .map(|(id, s)| (id, s as f64))
        .collect();
    hits(lib, ranked, limit)
}

/// Reciprocal-rank fusion (Cormack et al., 2009): each list adds 1 / (60 + rank) for every
/// page it holds, so a page near the top of either list rises, and scores of different
/// scales (bm25, cosine) never have to be compared.
pub fn fuse(lists: &[Vec<(i64, f64)>]) -> Vec<(i64, f64)> {
    const K: f64 = 60.0;
    let mut scores: Vec<(i64, f64)> = Vec::new();
    for list in lists {
        for (rank, (id, _)) in list.iter().enumerate() {
            let add = 1.0 / (K + rank as f64 + 1.0);
            match scores.iter_mut().find(|(p, _)| p == id) {
                Some((_, s)) => *s += add,
                None => scores.push((*id, add)),
            }
        }
    }
    // Stable: equal scores keep the order pages were first seen in.
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    scores
}

fn hits(lib: &Library, ranked: Vec<(i64, f64)>, limit: usize) -> Result<Vec<Hit>, BookError> {
    let ranked: Vec<(i64, f64)> = ranked.into_iter().take(limit).collect();
    let ids: Vec<i64> = ranked.iter().map(|(id, _)| *id).collect();
    let refs = lib.page_refs(&ids)?;
    Ok(refs
        .into_iter()
        .filter_map(|(id, r)| {
            let score = ranked.iter().find(|(p, _)| *p == id)?.1;
            Some(Hit {
                book_id: r.book_id,
                page: r.page,
                title: r.title,
                sentence: r.sentence,
                score,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::fuse;

    #[test]
    fn fusion_rewards_pages_high_in_both_lists() {
        let words = vec![(1, 9.0), (2, 8.0), (3, 7.0)];
        let meaning = vec![(3, 0.9), (4, 0.8), (1, 0.1)];
        let fused: Vec<i64> = fuse(&[words, meaning])
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        // 1: ranks 1 and 3; 3: ranks 3 and 1 (tie, first seen first); 2 and 4 once each.
        assert_eq!(fused, vec![1, 3, 2, 4]);
        assert!(fuse(&[vec![], vec![]]).is_empty());
    }
}
