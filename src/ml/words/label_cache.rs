//! CLIP text embeddings of every lexicon term, cached on disk.
//!
//! One safetensors file per (model, lexicon): `DIR/<model fingerprint>/<lexicon>.safetensors`
//! holds the unit-length embeddings, with the terms and the lexicon hash in its metadata. An
//! unchanged lexicon loads straight from the file; an edited one reuses the rows of the terms it
//! kept and embeds only the new terms, then the file is rewritten atomically.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use super::lexicon::Lexicon;
use crate::ml::models::clip::tokenize::ClipTokenizer;
use crate::ml::models::clip::{normalize, Clip};
use crate::ml::{Error, Result};

/// Terms embedded per CLIP forward pass.
const BATCH: usize = 64;

/// Unit-length embeddings of a lexicon's terms, row `i` for `terms[i]`.
#[derive(Debug, Clone)]
pub struct LabelEmbeddings {
    pub lexicon: String,
    pub terms: Vec<String>,
    pub dim: usize,
    pub data: Vec<f32>,
}

impl LabelEmbeddings {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

/// What a load did, for the user and for the tests.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CacheReport {
    pub lexicon: String,
    pub terms: usize,
    pub reused: usize,
    pub computed: usize,
    pub seconds: f64,
}

/// Where cached embeddings live; `None` keeps everything in memory.
#[derive(Debug, Clone)]
pub struct LabelCache {
    dir: Option<PathBuf>,
}

impl LabelCache {
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
        }
    }

    pub fn in_memory() -> Self {
        Self { dir: None }
    }

    /// `STORYBOOK_CACHE`, else the platform cache folder, else memory only.
    pub fn default_location() -> Self {
        if let Some(dir) = std::env::var_os("STORYBOOK_CACHE") {
            return Self::at(PathBuf::from(dir).join("labels"));
        }
        match directories::ProjectDirs::from("", "", "storybook-studio") {
            Some(p) => Self::at(p.cache_dir().join("labels")),
            None => Self::in_memory(),
        }
    }

    fn file(&self, model_id: &str, lexicon: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(model_id).join(format!("{lexicon}.safetensors")))
    }

    /// Embeddings of every term of `lexicon` by CLIP, from the cache where possible.
    pub fn load(
        &self,
        model_id: &str,
        lexicon: &Lexicon,
        clip: &Clip,
        tokenizer: &ClipTokenizer,
    ) -> Result<(LabelEmbeddings, CacheReport)> {
        let dim = clip.config().projection_dim;
        self.load_with(model_id, lexicon, dim, |texts| {
            embed_texts(clip, tokenizer, texts)
        })
    }

    /// Embeddings of every term of `lexicon`, from the cache where possible; `embed` gives
    /// unit-length embeddings of `dim` numbers for the terms the cache lacks (any text model:
    /// CLIP for the English lexicons, Chinese CLIP for the imagery keywords).
    pub fn load_with(
        &self,
        model_id: &str,
        lexicon: &Lexicon,
        dim: usize,
        embed: impl FnOnce(&[&str]) -> Result<Vec<Vec<f32>>>,
    ) -> Result<(LabelEmbeddings, CacheReport)> {
        let start = Instant::now();
        let hash = lexicon.content_hash();
        let path = self.file(model_id, &lexicon.name);
        // A damaged or foreign cache file is only a cache miss: it is recomputed and replaced.
        let cached = path.as_deref().and_then(|p| read_cache(p).ok());
        let mut known: HashMap<&str, &[f32]> = HashMap::new();
        let mut dim = dim;
        if let Some(c) = &cached {
            if c.hash == hash && c.dim == dim {
                let report = CacheReport {
                    lexicon: lexicon.name.clone(),
                    terms: lexicon.terms.len(),
                    reused: lexicon.terms.len(),
                    computed: 0,
                    seconds: start.elapsed().as_secs_f64(),
                };
                let e = LabelEmbeddings {
                    lexicon: lexicon.name.clone(),
                    terms: lexicon.terms.clone(),
                    dim,
                    data: c.data.clone(),
                };
                return Ok((e, report));
            }
            if c.dim == dim {
                for (i, t) in c.terms.iter().enumerate() {
                    known.insert(t.as_str(), &c.data[i * c.dim..(i + 1) * c.dim]);
                }
            }
        }
        let missing: Vec<&str> = lexicon
            .terms
            .iter()
            .map(String::as_str)
            .filter(|t| !known.contains_key(t))
            .collect();
        let fresh = if missing.is_empty() {
            Vec::new()
        } else {
            embed(&missing)?
        };
        dim = fresh.first().map(Vec::len).unwrap_or(dim);
        let fresh: HashMap<&str, &[f32]> = missing
            .iter()
            .copied()
            .zip(fresh.iter().map(Vec::as_slice))
            .collect();
        let mut data = Vec::with_capacity(lexicon.terms.len() * dim);
        for t in &lexicon.terms {
            data.extend_from_slice(
                known
                    .get(t.as_str())
                    .or(fresh.get(t.as_str()))
                    .unwrap_or(&&[][..]),
            );
        }
        let e = LabelEmbeddings {
            lexicon: lexicon.name.clone(),
            terms: lexicon.terms.clone(),
            dim,
            data,
        };
        if let Some(p) = &path {
            write_cache(p, &e, &hash)?;
        }
        let report = CacheReport {
            lexicon: lexicon.name.clone(),
            terms: lexicon.terms.len(),
            reused: lexicon.terms.len() - missing.len(),
            computed: missing.len(),
            seconds: start.elapsed().as_secs_f64(),
        };
        Ok((e, report))
    }
}

/// Unit-length CLIP text embeddings, in batches, padded only to each batch's longest text
/// (CLIP pools at the first end token under a causal mask, so shorter padding changes nothing).
pub fn embed_texts(
    clip: &Clip,
    tokenizer: &ClipTokenizer,
    texts: &[&str],
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(BATCH) {
        let ids = tokenizer.batch_tight(chunk, clip.device())?;
        let e = normalize(&clip.text_embeds(&ids)?)?;
        out.extend(e.to_vec2::<f32>()?);
    }
    Ok(out)
}

struct Cached {
    hash: String,
    terms: Vec<String>,
    dim: usize,
    data: Vec<f32>,
}

fn read_cache(path: &Path) -> std::result::Result<Cached, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| e.to_string())?;
    let info = meta.metadata().clone().unwrap_or_default();
    let hash = info.get("lexicon_hash").cloned().ok_or("no hash")?;
    let terms: Vec<String> =
        serde_json::from_str(info.get("terms").ok_or("no terms")?).map_err(|e| e.to_string())?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| e.to_string())?;
    let t = st.tensor("embeddings").map_err(|e| e.to_string())?;
    let shape = t.shape();
    if t.dtype() != Dtype::F32 || shape.len() != 2 || shape[0] != terms.len() {
        return Err("unexpected embeddings tensor".into());
    }
    let data = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(Cached {
        hash,
        terms,
        dim: shape[1],
        data,
    })
}

fn write_cache(path: &Path, e: &LabelEmbeddings, hash: &str) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let bytes: Vec<u8> = e.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F32, vec![e.terms.len(), e.dim], &bytes)
        .map_err(|err| Error::Input(format!("cannot store label embeddings: {err}")))?;
    let meta = HashMap::from([
        ("lexicon_hash".to_string(), hash.to_string()),
        (
            "terms".to_string(),
            serde_json::to_string(&e.terms).unwrap_or_default(),
        ),
    ]);
    // Written beside the target and renamed, so a crash never leaves a half-written cache.
    let tmp = path.with_extension("safetensors.tmp");
    safetensors::serialize_to_file([("embeddings", view)], Some(meta), &tmp)
        .map_err(|err| Error::Input(format!("cannot write {}: {err}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io)
}
