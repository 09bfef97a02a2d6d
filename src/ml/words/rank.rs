//! Ranking lexicon terms by cosine similarity to an image, and the image embedding itself.

use image::RgbImage;

use super::label_cache::LabelEmbeddings;
use crate::ml::models::clip::{image::preprocess, normalize, Clip};
use crate::ml::Result;

/// A term and its cosine similarity to the image.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ranked {
    pub term: String,
    pub score: f32,
}

/// The unit-length CLIP embedding of an image, preprocessed as CLIPImageProcessor does.
pub fn image_embedding(clip: &Clip, image: &RgbImage) -> Result<Vec<f32>> {
    let size = clip.config().vision_config.image_size;
    let pixels = preprocess(image, size, clip.device())?;
    let e = normalize(&clip.image_embeds(&pixels)?)?;
    Ok(e.squeeze(0)?.to_vec1::<f32>()?)
}

/// Every term, most similar first; equal scores keep lexicon order so results are stable.
pub fn rank(labels: &LabelEmbeddings, image: &[f32]) -> Vec<Ranked> {
    let mut out: Vec<(usize, Ranked)> = labels
        .terms
        .iter()
        .enumerate()
        .map(|(i, term)| {
            let score = dot(labels.row(i), image);
            (
                i,
                Ranked {
                    term: term.clone(),
                    score,
                },
            )
        })
        .collect();
    out.sort_by(|(ia, a), (ib, b)| b.score.total_cmp(&a.score).then(ia.cmp(ib)));
    out.into_iter().map(|(_, r)| r).collect()
}

/// Dot product accumulated in f64; on unit vectors it is the cosine similarity.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| *x as f64 * *y as f64)
        .sum::<f64>() as f32
}
