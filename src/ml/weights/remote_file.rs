//! What a download asks for (a file at a revision of a hub repository, with its hash) and how
//! it can fail; below the cache layout and the HTTP client, which both speak these.

use std::path::PathBuf;

/// One file to fetch: where it lives on the hub and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub repo: String,
    /// A branch, tag, `refs/pr/N`, or (best) a 40-hex commit.
    pub revision: String,
    /// The path inside the repository (`imagenet/imagenet.ckpt`).
    pub path: String,
    /// Lower-case hex sha256 of the whole file, where it is known.
    pub sha256: Option<String>,
    pub size: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{url} answered HTTP {status}{}", hint(*status))]
    Http { url: String, status: u16 },
    #[error("could not reach {url}: {reason}")]
    Network { url: String, reason: String },
    #[error(
        "{file} did not verify: its sha256 should be {expected} but the download's is {actual}; \
         the file was deleted"
    )]
    Checksum {
        file: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{file} should be {expected} bytes but the download has {actual}; the file was deleted"
    )]
    Size {
        file: String,
        expected: u64,
        actual: u64,
    },
    #[error("could not write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the download was cancelled; what arrived is kept, and the next try continues it")]
    Cancelled,
}

fn hint(status: u16) -> &'static str {
    match status {
        401 | 403 => " (the repository may be gated or private)",
        404 => " (no such file at that revision)",
        429 => " (too many requests; try again later)",
        _ => "",
    }
}
