//! The locator's local steps: a given path, one of our folders, or the Hugging Face cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::kinds::file_groups;
use super::{download, hf_cache, HubSource, LocateError, ModelFiles, ModelKind, Origin};

pub(super) fn from_explicit(kind: ModelKind, path: &Path) -> Result<ModelFiles, LocateError> {
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
        Some("bin") if kind.files().iter().any(|f| f.local == "pytorch_model.bin") => {
            "pytorch_model.bin"
        }
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
        // The given file replaces whatever else of its group the folder holds.
        let group = kind
            .files()
            .iter()
            .find(|f| f.local == local)
            .map(|f| f.group);
        files.retain(|name, _| {
            kind.files()
                .iter()
                .find(|f| f.local == *name)
                .map(|f| Some(f.group) != group)
                .unwrap_or(true)
        });
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
        downloaded_from: None,
    })
}

fn missing_groups(kind: ModelKind, files: &BTreeMap<&'static str, PathBuf>) -> Vec<String> {
    file_groups(kind)
        .into_iter()
        .filter(|names| !names.iter().any(|n| files.contains_key(n)))
        .map(|names| names.join(" or "))
        .collect()
}

pub(super) fn from_hf_cache(
    kind: ModelKind,
    source: &HubSource,
    cache_dir: &Path,
) -> Result<ModelFiles, String> {
    let mut last_missing = Vec::new();
    for repo_id in std::iter::once(source.repo).chain(source.aliases.iter().copied()) {
        let mut files = BTreeMap::new();
        for f in source.files {
            let remote = download::RemoteFile {
                repo: repo_id.into(),
                revision: source.revision.into(),
                path: f.remote.into(),
                sha256: None,
                size: None,
            };
            if let Some(p) = hf_cache::cached(cache_dir, &remote) {
                files.insert(f.local, p);
            }
        }
        let missing = missing_groups(kind, &files);
        if missing.is_empty() {
            let location = folder_of(&files, cache_dir);
            return Ok(ModelFiles {
                kind,
                origin: Origin::HfCache,
                location,
                files,
                downloaded_from: None,
            });
        }
        last_missing = missing;
    }
    Err(format!(
        "no complete copy of {} at revision {}; missing {}",
        source.repo,
        source.revision,
        last_missing.join("; ")
    ))
}

/// The folder a model's files were found in (a cache snapshot): the first file's, else `root`.
pub(super) fn folder_of(files: &BTreeMap<&'static str, PathBuf>, root: &Path) -> PathBuf {
    files
        .values()
        .next()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.to_path_buf())
}
