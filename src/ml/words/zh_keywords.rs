//! Chinese CLIP with the classical-imagery keywords embedded: the first half of Image2Poem,
//! which ranks a closed set of imagery (明月, 故乡, 孤舟…) against a picture.

use candle_core::Device;
use image::RgbImage;

use super::label_cache::{CacheReport, LabelCache, LabelEmbeddings};
use super::lexicon::Lexicon;
use super::rank::{rank, Ranked};
use crate::ml::models::clip::normalize;
use crate::ml::models::cn_clip::tokenize::CnClipTokenizer;
use crate::ml::models::cn_clip::{preprocess, ChineseClip};
use crate::ml::weights::ModelFiles;
use crate::ml::Result;

/// Texts embedded per forward pass.
const BATCH: usize = 64;

pub struct ChineseWords {
    pub clip: ChineseClip,
    pub tokenizer: CnClipTokenizer,
    pub keywords: LabelEmbeddings,
    pub cache_report: CacheReport,
}

impl ChineseWords {
    /// Loads Chinese CLIP and embeds `lexicon` through `cache`, keyed by the weights' content.
    pub fn load(
        files: &ModelFiles,
        device: &Device,
        lexicon: &Lexicon,
        cache: &LabelCache,
    ) -> Result<Self> {
        let (clip, tokenizer) = crate::ml::models::load::cn_clip(files, device)?;
        let model_id = super::fingerprint::file_fingerprint(files.weights()?)?;
        Self::new(clip, tokenizer, lexicon, cache, &model_id)
    }

    /// Embeds `lexicon` with a loaded model; `model_id` keys its cache files.
    pub fn new(
        clip: ChineseClip,
        tokenizer: CnClipTokenizer,
        lexicon: &Lexicon,
        cache: &LabelCache,
        model_id: &str,
    ) -> Result<Self> {
        let dim = clip.config().projection_dim;
        let (keywords, cache_report) = cache.load_with(model_id, lexicon, dim, |texts| {
            embed_texts(&clip, &tokenizer, texts)
        })?;
        Ok(Self {
            clip,
            tokenizer,
            keywords,
            cache_report,
        })
    }

    /// The unit-length embedding of a picture (bicubic straight to the model's size, no crop).
    pub fn image_embedding(&self, image: &RgbImage) -> Result<Vec<f32>> {
        let size = self.clip.config().vision.image_size;
        let pixels = preprocess(image, size, self.clip.device())?;
        let e = normalize(&self.clip.image_embeds(&pixels)?)?;
        Ok(e.squeeze(0)?.to_vec1::<f32>()?)
    }

    /// Unit-length embeddings of `texts`.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        embed_texts(&self.clip, &self.tokenizer, texts)
    }

    /// The `top` keywords most like the picture, best first, with their cosine similarity.
    pub fn keywords_for(&self, image: &[f32], top: usize) -> Vec<Ranked> {
        let mut ranked = rank(&self.keywords, image);
        ranked.truncate(top);
        ranked
    }
}

/// Unit-length Chinese CLIP text embeddings, in batches padded to the model's 52 tokens.
pub fn embed_texts(
    clip: &ChineseClip,
    tokenizer: &CnClipTokenizer,
    texts: &[&str],
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(BATCH) {
        let (ids, mask) = tokenizer.batch(chunk, clip.device())?;
        let e = normalize(&clip.text_embeds(&ids, &mask)?)?;
        out.extend(e.to_vec2::<f32>()?);
    }
    Ok(out)
}
