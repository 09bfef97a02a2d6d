//! Downloads a model from the Hugging Face hub into the shared cache, reporting progress through
//! a small trait so the CLI (indicatif) and the studio (a progress bar) can both show it.

use std::collections::BTreeMap;

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};

use super::kinds::{HubSource, ModelFile};

/// Receives download progress; byte counts are per file.
pub trait DownloadProgress {
    fn start(&mut self, file: &str, total_bytes: u64);
    fn advance(&mut self, bytes: u64);
    fn finish(&mut self);
}

/// Progress that nobody watches.
pub struct Silent;

impl DownloadProgress for Silent {
    fn start(&mut self, _file: &str, _total_bytes: u64) {}
    fn advance(&mut self, _bytes: u64) {}
    fn finish(&mut self) {}
}

struct Adapter<'a>(&'a mut dyn DownloadProgress);

impl hf_hub::api::Progress for Adapter<'_> {
    fn init(&mut self, size: usize, filename: &str) {
        self.0.start(filename, size as u64);
    }
    fn update(&mut self, size: usize) {
        self.0.advance(size as u64);
    }
    fn finish(&mut self) {
        self.0.finish();
    }
}

/// Files fetched from the hub: where each landed, by its local name, and the snapshot folder.
pub struct Fetched {
    pub location: std::path::PathBuf,
    pub files: BTreeMap<&'static str, std::path::PathBuf>,
}

/// Fetches `files` of `hub` into the Hugging Face cache (or `cache_dir`).
/// The error is a sentence fit for the locator's "not found" message.
pub fn download(
    hub: HubSource,
    files: &[ModelFile],
    cache_dir: Option<&std::path::Path>,
    progress: &mut dyn DownloadProgress,
) -> Result<Fetched, String> {
    let cache = cache_dir
        .map(|d| Cache::new(d.to_path_buf()))
        .unwrap_or_else(Cache::from_env);
    let mut builder = ApiBuilder::from_cache(cache.clone()).with_progress(false);
    // Mirrors and tests point HF_ENDPOINT elsewhere, as Python's huggingface_hub allows.
    if let Ok(endpoint) = std::env::var("HF_ENDPOINT") {
        builder = builder.with_endpoint(endpoint);
    }
    let api = builder
        .build()
        .map_err(|e| format!("could not set up the download client: {e}"))?;
    let repo = api.repo(Repo::with_revision(
        hub.repo.to_string(),
        RepoType::Model,
        hub.revision.to_string(),
    ));
    let mut fetched = BTreeMap::new();
    for file in files {
        let path = repo
            .download_with_progress(file.remote, Adapter(progress))
            .map_err(|e| format!("{} from {}: {e}", file.remote, hub.repo))?;
        fetched.insert(file.local, path);
    }
    let location = fetched
        .values()
        .next()
        .and_then(|p| p.parent())
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| cache.path().clone());
    Ok(Fetched {
        location,
        files: fetched,
    })
}
