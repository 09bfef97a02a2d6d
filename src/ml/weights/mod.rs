//! Finds model weights on disk, in a fixed order that a user can predict:
//! 1. an explicit file or folder (`--gpt2 DIR`, …);
//! 2. `--models DIR` / `STORYBOOK_MODELS`, one subfolder per model (`gpt2/`, `clip/`, …);
//! 3. `models/` in the working directory;
//! 4. the Hugging Face cache that Python users already have;
//! 5. a verified, resumable download from the hub (see [`download`]), unless offline.
//!
//! Where each model comes from is data ([`kinds`]): repository, pinned revision, paths, and
//! sha256 where published. VQGAN has several to choose from (`--vqgan-model`).

pub mod config_file;
pub mod download;
mod hf_cache;
pub mod hub;
mod hub_http;
pub mod kinds;
mod locate_download;
mod locate_error;
mod remote_file;
pub mod safetensors_check;
mod search;
mod sources;
pub mod tensor_file;
pub mod torch_pickle;
pub mod wordpiece_vocab;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use std::sync::Arc;

pub use kinds::{ModelFile, ModelKind};
pub use locate_error::LocateError;
pub use search::from_folder;
use search::{from_explicit, from_hf_cache};
pub use sources::{vqgan_source, HubSource, VQGAN_FALLBACK, VQGAN_SOURCES};

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
    /// For a download, the name of the source it came from (the default VQGAN's second
    /// source, when its mirror did not serve it).
    pub downloaded_from: Option<&'static str>,
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

    /// The weights file: `model.safetensors` where present (it loads without a pickle), else
    /// the file its group allows instead (`model.ckpt` for VQGAN, `pytorch_model.bin` for the
    /// transformers models published before safetensors).
    pub fn weights(&self) -> crate::ml::Result<&Path> {
        const SAFETENSORS: &str = "model.safetensors";
        if let Some(p) = self.get(SAFETENSORS) {
            return Ok(p);
        }
        let files = self.kind.files();
        let group = files
            .iter()
            .find(|f| f.local == SAFETENSORS)
            .map(|f| f.group);
        let instead = files
            .iter()
            .find(|f| f.local != SAFETENSORS && Some(f.group) == group);
        self.require(instead.map_or(SAFETENSORS, |f| f.local))
    }

    pub fn total_bytes(&self) -> u64 {
        self.files
            .values()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// A download's way to ask whether the user cancelled it (Ctrl-C, the studio's Cancel).
#[derive(Clone)]
pub struct CancelCheck(pub Arc<dyn Fn() -> bool + Send + Sync>);

impl fmt::Debug for CancelCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CancelCheck")
    }
}

/// The search order and its switches; build one per command from flags and environment.
#[derive(Debug, Clone)]
pub struct Locator {
    pub models_dir: Option<PathBuf>,
    pub local_dir: PathBuf,
    pub hf_cache: Option<PathBuf>,
    pub allow_download: bool,
    /// Which VQGAN illustrates (a name of [`VQGAN_SOURCES`]).
    pub vqgan_model: &'static HubSource,
    /// Downloads stop when this says so; none means they run to the end.
    pub cancel: Option<CancelCheck>,
    /// A hub mirror to download from instead of `HF_ENDPOINT` (or huggingface.co).
    pub endpoint: Option<String>,
}

impl Default for Locator {
    fn default() -> Self {
        Self {
            models_dir: None,
            local_dir: PathBuf::from("models"),
            hf_cache: Some(hf_cache::default_root()),
            allow_download: true,
            vqgan_model: &VQGAN_SOURCES[0],
            cancel: None,
            endpoint: None,
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

    /// Chooses the VQGAN by name; a sentence names the choices when there is no such model.
    pub fn with_vqgan_model(mut self, name: &str) -> Result<Self, String> {
        self.vqgan_model = vqgan_source(name)?;
        Ok(self)
    }

    /// Where `kind` comes from: for VQGAN, the chosen model.
    pub fn source(&self, kind: ModelKind) -> &'static HubSource {
        match kind {
            ModelKind::Vqgan => self.vqgan_model,
            _ => kind.hub(),
        }
    }

    /// The subfolder of `--models DIR` (and `models/`) that holds `kind`: `vqgan/` for the
    /// default VQGAN, `vqgan-wikiart/` and so on for the others.
    pub fn folder_name(&self, kind: ModelKind) -> String {
        let source = self.source(kind);
        if kind == ModelKind::Vqgan && source.name != VQGAN_SOURCES[0].name {
            format!("{}-{}", kind.dir_name(), source.name)
        } else {
            kind.dir_name().to_string()
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
            let dir = base.join(self.folder_name(kind));
            match from_folder(kind, &dir, origin) {
                Ok(found) => return Ok(found),
                Err(reason) => tried.push(format!("{} ({reason})", dir.display())),
            }
        }
        if let Some(cache) = &self.hf_cache {
            match from_hf_cache(kind, self.source(kind), cache) {
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
            from: self.source(kind),
            folder: self.folder_name(kind),
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
}
