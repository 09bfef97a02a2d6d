//! Fetches one file from the Hugging Face hub into the shared cache: hashed while it streams,
//! resumed from its last byte after an interruption (HTTP `Range`), cancellable within a
//! second, and never kept under its final name unless it verified.
//!
//! The cache layout is the hub's own (`models--org--name/{blobs,snapshots,refs}`), so Python's
//! `huggingface_hub` and this downloader share files both ways. A partial file waits as
//! `blobs/<key>.incomplete` until the next try continues it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use super::hf_cache::cached;
use super::hf_cache::{place, repo_dir};
use super::hub::DownloadProgress;
use super::hub_http::{get, range_start, Meta};
pub use super::remote_file::{DownloadError, RemoteFile};

/// Where files come from and where they go: the hub's address and the local cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hub {
    pub endpoint: String,
    pub cache: PathBuf,
}

impl Hub {
    /// The hub at `HF_ENDPOINT` when set (mirrors, tests), as Python's `huggingface_hub` reads
    /// it, else huggingface.co.
    pub fn from_env(cache: PathBuf) -> Self {
        Self::with_endpoint(cache, std::env::var("HF_ENDPOINT").ok().as_deref())
    }

    /// The hub at `endpoint` (a mirror chosen in Settings, or `HF_ENDPOINT`); an empty or absent
    /// one means huggingface.co.
    pub fn with_endpoint(cache: PathBuf, endpoint: Option<&str>) -> Self {
        let endpoint = endpoint
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| e.trim_end_matches('/').to_string())
            .unwrap_or_else(|| "https://huggingface.co".into());
        Self { endpoint, cache }
    }

    /// The file's address. A revision with slashes (`refs/pr/15`, a pull request's ref) is
    /// escaped as one path segment, as `huggingface_hub` and the `hf-hub` crate send it;
    /// unescaped, the hub would read `refs` as the revision and the rest as the file's path.
    pub fn resolve_url(&self, file: &RemoteFile) -> String {
        format!(
            "{}/{}/resolve/{}/{}",
            self.endpoint,
            file.repo,
            file.revision.replace('/', "%2F"),
            file.path
        )
    }
}

/// What the download thread reports back.
enum Msg {
    Start(u64),
    Advance(u64),
    Done(Result<PathBuf, DownloadError>),
}

/// Fetches `file` into the hub's cache (unless a finished copy is there) and returns its
/// snapshot path. Progress reaches `progress` on the calling thread; `cancel` stops it within a
/// second.
pub fn fetch(
    hub: &Hub,
    file: &RemoteFile,
    cancelled: &dyn Fn() -> bool,
    progress: &mut dyn DownloadProgress,
) -> Result<PathBuf, DownloadError> {
    if let Some(path) = cached(&hub.cache, file) {
        return Ok(path);
    }
    // The transfer runs on its own thread so that a cancel is answered at once even while a
    // read waits on a stalled connection; the thread stops itself at its next chunk.
    let (tx, rx) = crossbeam_channel::bounded::<Msg>(64);
    let stop = Arc::new(AtomicBool::new(false));
    let (hub_owned, file_owned, flag) = (hub.clone(), file.clone(), stop.clone());
    let spawned = std::thread::Builder::new()
        .name("download".into())
        .spawn(move || {
            let report = |m| {
                let _ = tx.send(m);
            };
            let result = transfer(&hub_owned, &file_owned, &flag, &report);
            report(Msg::Done(result));
        });
    if let Err(e) = spawned {
        return Err(DownloadError::Io {
            path: hub.cache.clone(),
            source: e,
        });
    }
    let name = file
        .path
        .rsplit('/')
        .next()
        .unwrap_or(&file.path)
        .to_string();
    let mut started = false;
    loop {
        if cancelled() {
            stop.store(true, Ordering::Relaxed);
            if started {
                progress.finish();
            }
            return Err(DownloadError::Cancelled);
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Msg::Start(total)) => {
                progress.start(&name, total);
                started = true;
            }
            Ok(Msg::Advance(n)) => progress.advance(n),
            Ok(Msg::Done(result)) => {
                if started {
                    progress.finish();
                }
                return result;
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(DownloadError::Network {
                    url: hub.resolve_url(file),
                    reason: "the download thread stopped unexpectedly".into(),
                })
            }
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DownloadError + '_ {
    move |source| DownloadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The name a partial download waits under: the expected hash where known, else one derived
/// from where the file comes from, so the next try finds it again.
fn partial_key(file: &RemoteFile) -> String {
    file.sha256.clone().unwrap_or_else(|| {
        hex(&Sha256::digest(format!(
            "{}@{}/{}",
            file.repo, file.revision, file.path
        )))
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes what an earlier try left, so the final hash covers the whole file.
fn hash_prefix(path: &Path, hasher: &mut Sha256) -> Result<u64, DownloadError> {
    let mut f = File::open(path).map_err(io(path))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

fn transfer(
    hub: &Hub,
    file: &RemoteFile,
    cancel: &AtomicBool,
    report: &dyn Fn(Msg),
) -> Result<PathBuf, DownloadError> {
    let dir = repo_dir(&hub.cache, &file.repo);
    let blobs = dir.join("blobs");
    std::fs::create_dir_all(&blobs).map_err(io(&blobs))?;
    let partial = blobs.join(format!("{}.incomplete", partial_key(file)));
    let url = hub.resolve_url(file);

    let mut offset = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    let mut meta = Meta::default();
    let mut resp = get(&url, offset, &mut meta)?;
    let mut hasher = Sha256::new();
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&partial)
        .map_err(io(&partial))?;
    match resp.status() {
        206 if range_start(&resp) == Some(offset) => {
            hash_prefix(&partial, &mut hasher)?;
        }
        416 if offset > 0 => {
            // The server has nothing past what we hold: it may all be here already.
            hash_prefix(&partial, &mut hasher)?;
        }
        _ => {
            // A full answer (or a range we did not ask for): start the file again.
            if offset > 0 {
                out.set_len(0).map_err(io(&partial))?;
                out.rewind().map_err(io(&partial))?;
                offset = 0;
                if resp.status() != 200 {
                    resp = get(&url, 0, &mut meta)?;
                }
            }
        }
    }
    // The whole file's length: what the catalogue says, else what this answer implies.
    let answered: Option<u64> = match resp.status() {
        416 => None,
        _ => resp
            .header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|rest| rest + offset),
    };
    let expected_len = file.size.or(answered);
    report(Msg::Start(expected_len.unwrap_or(0)));
    report(Msg::Advance(offset));
    if resp.status() != 416 {
        let mut body = resp.into_reader();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(DownloadError::Cancelled);
            }
            let n = match body.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(DownloadError::Network {
                        url,
                        reason: format!("{e} (what arrived is kept; the next try continues it)"),
                    })
                }
            };
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(io(&partial))?;
            hasher.update(&buf[..n]);
            report(Msg::Advance(n as u64));
        }
    }
    out.flush().map_err(io(&partial))?;
    drop(out);

    let got = std::fs::metadata(&partial).map_err(io(&partial))?.len();
    let actual = hex(&hasher.finalize());
    if let Some(expected) = expected_len {
        if got < expected {
            // Short of its length: keep it, so the next try continues it.
            return Err(DownloadError::Network {
                url,
                reason: format!(
                    "the connection closed after {got} of {expected} bytes (what arrived is \
                     kept; the next try continues it)"
                ),
            });
        }
        if got != expected {
            let _ = std::fs::remove_file(&partial);
            return Err(DownloadError::Size {
                file: file.path.clone(),
                expected,
                actual: got,
            });
        }
    }
    if let Some(expected) = &file.sha256 {
        if !expected.eq_ignore_ascii_case(&actual) {
            let _ = std::fs::remove_file(&partial);
            return Err(DownloadError::Checksum {
                file: file.path.clone(),
                expected: expected.to_ascii_lowercase(),
                actual,
            });
        }
    }
    place(&dir, file, &partial, &actual, &meta)
}
