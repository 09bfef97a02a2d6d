//! Finds model weights on disk, in a fixed order that a user can predict:
//! 1. an explicit file or folder (`--gpt2 DIR`, …);
//! 2. `--models DIR` / `STORYBOOK_MODELS`, one subfolder per model (`gpt2/`, `clip/`, …);
//! 3. `models/` in the working directory;
//! 4. the Hugging Face cache that Python users already have;
//! 5. a download through `hf-hub` (see [`crate::ml::weights::hub`]), unless offline.

pub mod config_file;
pub mod download;
mod hf_cache;
pub mod hub;
mod hub_http;
mod kinds;
mod locate_error;
pub mod safetensors_check;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use hf_hub::{Cache, Repo, RepoType};

use kinds::file_groups;
pub use kinds::{HubSource, ModelFile, ModelKind};
pub use locate_error::LocateError;

/// Which step of the search found a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Explicit,
    ModelsDir,
    LocalModels,
    HfCache,
    Downloaded,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Explicit => "given path",
            Self::ModelsDir => "--models folder",
            Self::LocalModels => "models/",
            Self::HfCache => "Hugging Face cache",
            Self::Downloaded => "downloaded",
        })
    }
}

/// A model's files, found: local name (`config.json`, `model.safetensors`, …) to path.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub kind: ModelKind,
    pub origin: Origin,
    /// The folder or cache snapshot that held them.
    pub location: PathBuf,
    pub files: BTreeMap<&'static str, PathBuf>,
}

impl ModelFiles {
    pub fn get(&self, local: &str) -> Option<&Path> {
        self.files.get(local).map(PathBuf::as_path)
    }

    /// The path of a file the locator guaranteed, as an error if it is somehow absent.
    pub fn require(&self, local: &str) -> crate::ml::Result<&Path> {
        self.get(local).ok_or_else(|| {
            crate::ml::Error::Input(format!(
                "{} has no {local} in {}",
                self.kind.display_name(),
                self.location.display()
            ))
        })
    }

    pub fn total_bytes(&self) -> u64 {
        self.files
            .values()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// The search order and its switches; build one per command from flags and environment.
#[derive(Debug, Clone)]
pub struct Locator {
    pub models_dir: Option<PathBuf>,
    pub local_dir: PathBuf,
    pub hf_cache: Option<PathBuf>,
    pub allow_download: bool,
}

impl Default for Locator {
    fn default() -> Self {
        Self {
            models_dir: None,
            local_dir: PathBuf::from("models"),
            hf_cache: Some(Cache::from_env().path().clone()),
            allow_download: true,
        }
    }
}

impl Locator {
    /// `--models` wins over `STORYBOOK_MODELS`; `HF_HUB_OFFLINE=1` turns downloads off.
    pub fn from_env(models_dir: Option<PathBuf>, offline: bool) -> Self {
        let env_offline = std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1" || v == "true");
        Self {
            models_dir: models_dir.or_else(|| std::env::var_os("STORYBOOK_MODELS").map(Into::into)),
            allow_download: !offline && !env_offline,
            ..Self::default()
        }
    }

    /// Searches steps 1 to 4; `Err` carries the places tried so a download can be added.
    pub fn find_local(
        &self,
        kind: ModelKind,
        explicit: Option<&Path>,
    ) -> Result<ModelFiles, LocateError> {
        if let Some(path) = explicit {
            return from_explicit(kind, path);
        }
        let mut tried = Vec::new();
        let folders = [
            (self.models_dir.as_ref(), Origin::ModelsDir),
            (Some(&self.local_dir), Origin::LocalModels),
        ];
        for (base, origin) in folders {
            let Some(base) = base else { continue };
            let dir = base.join(kind.dir_name());
            match from_folder(kind, &dir, origin) {
                Ok(found) => return Ok(found),
                Err(reason) => tried.push(format!("{} ({reason})", dir.display())),
            }
        }
        if let Some(cache) = &self.hf_cache {
            match from_hf_cache(kind, cache) {
                Ok(found) => return Ok(found),
                Err(reason) => tried.push(format!(
                    "the Hugging Face cache {} ({reason})",
                    cache.display()
                )),
            }
        }
        Err(self.not_found(kind, tried, None))
    }

    /// The folder where a user can put a model's files by hand: `--models DIR`, else `models/`.
    pub fn hand_placed_dir(&self) -> &Path {
        self.models_dir.as_deref().unwrap_or(&self.local_dir)
    }

    /// A "not found" error with the advice for this locator's folders.
    pub fn not_found(
        &self,
        kind: ModelKind,
        tried: Vec<String>,
        download_error: Option<String>,
    ) -> LocateError {
        LocateError::NotFound {
            kind,
            tried,
            download_error,
            models_dir: self.hand_placed_dir().to_path_buf(),
            suggest_download: true,
        }
    }

    /// The full search, downloading as a last resort when allowed.
    pub fn locate(
        &self,
        kind: ModelKind,
        explicit: Option<&Path>,
        progress: &mut dyn hub::DownloadProgress,
    ) -> Result<ModelFiles, LocateError> {
        let err = match self.find_local(kind, explicit) {
            Ok(found) => return Ok(found),
            Err(err) => err,
        };
        let LocateError::NotFound { tried, .. } = &err else {
            return Err(err);
        };
        if !self.allow_download {
            let mut tried = tried.clone();
            tried.push("no download: offline mode (--offline or HF_HUB_OFFLINE=1)".into());
            return Err(self.not_found(kind, tried, None));
        }
        self.download(kind, tried.clone(), progress)
    }

    /// Fetches every file of `kind` from the hub; `tried` is what the search looked at first,
    /// for the "not found" sentence if the download fails too.
    pub fn download(
        &self,
        kind: ModelKind,
        tried: Vec<String>,
        progress: &mut dyn hub::DownloadProgress,
    ) -> Result<ModelFiles, LocateError> {
        let fetched = hub::download(
            kind.hub(),
            &kind.download_files(),
            self.hf_cache.as_deref(),
            progress,
        )
        .map_err(|e| self.not_found(kind, tried, Some(e)))?;
        Ok(ModelFiles {
            kind,
            origin: Origin::Downloaded,
            location: fetched.location,
            files: fetched.files,
        })
    }
}

fn from_explicit(kind: ModelKind, path: &Path) -> Result<ModelFiles, LocateError> {
    let fail = |reason: String| LocateError::Explicit {
        kind,
        path: path.to_path_buf(),
        reason,
    };
    if path.is_dir() {
        return scan_folder(kind, path, Origin::Explicit, None).map_err(fail);
    }
    if !path.is_file() {
        return Err(fail("no such file or folder".into()));
    }
    // A weights file stands for its folder, which holds the config and tokenizer beside it.
    let local = match path.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => "model.safetensors",
        Some("ckpt") if kind == ModelKind::Vqgan => "model.ckpt",
        _ => {
            return Err(fail(
                "expected a folder or a .safetensors weights file".into(),
            ))
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    scan_folder(kind, dir, Origin::Explicit, Some((local, path))).map_err(fail)
}

/// Checks a folder in our layout; `Err` says what is missing.
pub fn from_folder(kind: ModelKind, dir: &Path, origin: Origin) -> Result<ModelFiles, String> {
    scan_folder(kind, dir, origin, None)
}

fn scan_folder(
    kind: ModelKind,
    dir: &Path,
    origin: Origin,
    weights: Option<(&'static str, &Path)>,
) -> Result<ModelFiles, String> {
    if !dir.is_dir() {
        return Err("no such folder".into());
    }
    let mut files = BTreeMap::new();
    for f in kind.files() {
        let p = dir.join(f.local);
        if p.is_file() {
            files.insert(f.local, p);
        }
    }
    if let Some((local, path)) = weights {
        files.retain(|name, _| !name.starts_with("model.") || name.ends_with(".yaml"));
        files.insert(local, path.to_path_buf());
        // taming ships `name.ckpt` beside `name.yaml`; accept that pairing too.
        let sibling_yaml = path.with_extension("yaml");
        if kind == ModelKind::Vqgan && !files.contains_key("model.yaml") && sibling_yaml.is_file() {
            files.insert("model.yaml", sibling_yaml);
        }
    }
    let missing = missing_groups(kind, &files);
    if !missing.is_empty() {
        return Err(format!("missing {}", missing.join("; ")));
    }
    Ok(ModelFiles {
        kind,
        origin,
        location: dir.to_path_buf(),
        files,
    })
}

fn missing_groups(kind: ModelKind, files: &BTreeMap<&'static str, PathBuf>) -> Vec<String> {
    file_groups(kind)
        .into_iter()
        .filter(|names| !names.iter().any(|n| files.contains_key(n)))
        .map(|names| names.join(" or "))
        .collect()
}

fn from_hf_cache(kind: ModelKind, cache_dir: &Path) -> Result<ModelFiles, String> {
    let hub = kind.hub();
    let cache = Cache::new(cache_dir.to_path_buf());
    let mut last_missing = Vec::new();
    for repo_id in std::iter::once(hub.repo).chain(hub.aliases.iter().copied()) {
        let repo = cache.repo(Repo::with_revision(
            repo_id.to_string(),
            RepoType::Model,
            hub.revision.to_string(),
        ));
        let mut files = BTreeMap::new();
        for f in kind.files() {
            if let Some(p) = repo.get(f.remote) {
                files.insert(f.local, p);
            }
        }
        let missing = missing_groups(kind, &files);
        if missing.is_empty() {
            let location = files
                .values()
                .next()
                .and_then(|p| p.parent())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| cache_dir.to_path_buf());
            return Ok(ModelFiles {
                kind,
                origin: Origin::HfCache,
                location,
                files,
            });
        }
        last_missing = missing;
    }
    Err(format!(
        "no complete copy of {} at revision {}; missing {}",
        hub.repo,
        hub.revision,
        last_missing.join("; ")
    ))
}
