//! The Hugging Face hub's cache layout, which Python's `huggingface_hub` shares:
//! `models--org--name/` with `blobs/<etag>`, `snapshots/<commit>/<path>` (relative links to the
//! blobs) and `refs/<revision>` (the commit a branch or tag pointed at).

use std::path::{Path, PathBuf};

use super::hub_http::Meta;
use super::remote_file::{DownloadError, RemoteFile};

/// The hub cache that Python's `huggingface_hub` uses: `HF_HUB_CACHE`, else `HF_HOME/hub`, else
/// `~/.cache/huggingface/hub`.
pub fn default_root() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("HF_HUB_CACHE") {
        return PathBuf::from(dir);
    }
    if let Some(home) = var("HF_HOME") {
        return PathBuf::from(home).join("hub");
    }
    let base = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("huggingface").join("hub")
}

/// The folder of one repository in the cache: `models--org--name`.
pub fn repo_dir(cache: &Path, repo: &str) -> PathBuf {
    cache.join(format!("models--{}", repo.replace('/', "--")))
}

/// The cached copy of `file`, if a finished one is there: through `refs/<revision>` (or the
/// commit itself) to `snapshots/<commit>/<path>`.
pub fn cached(cache: &Path, file: &RemoteFile) -> Option<PathBuf> {
    let dir = repo_dir(cache, &file.repo);
    let commit = if is_commit(&file.revision) {
        file.revision.clone()
    } else {
        std::fs::read_to_string(dir.join("refs").join(&file.revision))
            .ok()?
            .trim()
            .to_string()
    };
    let path = dir.join("snapshots").join(commit).join(&file.path);
    path.is_file().then_some(path)
}

pub(super) fn is_commit(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DownloadError + '_ {
    move |source| DownloadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Moves a verified download to `blobs/<etag>` and links `snapshots/<commit>/<path>` to it.
pub(super) fn place(
    dir: &Path,
    file: &RemoteFile,
    partial: &Path,
    sha256: &str,
    meta: &Meta,
) -> Result<PathBuf, DownloadError> {
    let commit = if is_commit(&file.revision) {
        file.revision.clone()
    } else {
        meta.commit
            .clone()
            .unwrap_or_else(|| file.revision.replace('/', "_"))
    };
    // Python names a blob by the hub's etag, which is the sha256 for large (LFS) files.
    let blob_name = meta
        .etag
        .clone()
        .filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or_else(|| sha256.to_string());
    let blob = dir.join("blobs").join(&blob_name);
    std::fs::rename(partial, &blob).map_err(io(&blob))?;
    let link = dir.join("snapshots").join(&commit).join(&file.path);
    if let Some(parent) = link.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let _ = std::fs::remove_file(&link);
    link_blob(&blob, &link, file.path.matches('/').count())?;
    let refs = dir.join("refs").join(&file.revision);
    if let Some(parent) = refs.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(&refs, &commit).map_err(io(&refs))?;
    Ok(link)
}

#[cfg(unix)]
fn link_blob(blob: &Path, link: &Path, depth: usize) -> Result<(), DownloadError> {
    // Relative, as huggingface_hub makes them: up out of snapshots/<commit>/<dirs…>.
    let mut target = PathBuf::from("..");
    for _ in 0..depth + 1 {
        target.push("..");
    }
    target.push("blobs");
    target.push(blob.file_name().unwrap_or_default());
    std::os::unix::fs::symlink(&target, link).map_err(io(link))
}

#[cfg(not(unix))]
fn link_blob(blob: &Path, link: &Path, _depth: usize) -> Result<(), DownloadError> {
    std::fs::copy(blob, link).map(|_| ()).map_err(io(link))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_layout_is_the_hubs() {
        let cache = Path::new("/c");
        assert_eq!(
            repo_dir(cache, "Somnai/pytti-vqgan-checkpoints"),
            Path::new("/c/models--Somnai--pytti-vqgan-checkpoints")
        );
        assert!(is_commit("debc22c8f285c7734980c464ff992d335dde6e9a"));
        assert!(!is_commit("main"));
    }
}
