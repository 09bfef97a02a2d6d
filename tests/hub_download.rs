//! The downloader against a loopback stand-in of the hub: exact paths and revision, the cache
//! layout Python shares, refused checksums that leave nothing behind, a cut connection that
//! resumes and then verifies, and cancel.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::hub::{sha256_hex, FakeHub, ServedFile, Trouble, COMMIT};
use storybook_studio::ml::weights::download::{cached, fetch, DownloadError, Hub, RemoteFile};
use storybook_studio::ml::weights::hub::Silent;

const REPO: &str = "Somnai/pytti-vqgan-checkpoints";

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 256) as u8).collect()
}

fn remote(file: &ServedFile, sha256: Option<String>) -> RemoteFile {
    RemoteFile {
        repo: file.repo.clone(),
        revision: file.revision.clone(),
        path: file.path.clone(),
        sha256,
        size: Some(file.bytes.len() as u64),
    }
}

fn blobs(cache: &std::path::Path) -> Vec<String> {
    let dir = cache.join("models--Somnai--pytti-vqgan-checkpoints/blobs");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_file_lands_in_the_hub_cache_layout_from_the_exact_path_and_revision() {
    let served = ServedFile::new(REPO, COMMIT, "imagenet/imagenet.ckpt", payload(300_000));
    let hub = FakeHub::start(vec![served.clone()], Trouble::None);
    let cache = tempfile::tempdir().unwrap();
    let h = Hub {
        endpoint: hub.url.clone(),
        cache: cache.path().to_path_buf(),
    };
    let file = remote(&served, Some(served.sha256()));
    let never = || false;
    let path = fetch(&h, &file, &never, &mut Silent).unwrap();

    let asked = hub.requests();
    assert_eq!(
        asked[0].path,
        format!("/{REPO}/resolve/{COMMIT}/imagenet/imagenet.ckpt")
    );
    assert_eq!(std::fs::read(&path).unwrap(), served.bytes);
    let snapshot = cache
        .path()
        .join("models--Somnai--pytti-vqgan-checkpoints/snapshots")
        .join(COMMIT)
        .join("imagenet/imagenet.ckpt");
    assert_eq!(path, snapshot);
    assert!(std::fs::symlink_metadata(&snapshot)
        .unwrap()
        .file_type()
        .is_symlink());
    // The blob is named by the hub's etag (the sha256 for large files), as Python names it.
    assert_eq!(blobs(cache.path()), vec![served.sha256()]);
    assert_eq!(cached(cache.path(), &file), Some(snapshot));

    // A second fetch is answered from the cache without asking the hub.
    let before = hub.requests().len();
    fetch(&h, &file, &never, &mut Silent).unwrap();
    assert_eq!(hub.requests().len(), before);
}

#[test]
fn a_branch_revision_is_recorded_under_refs_for_the_next_lookup() {
    let served = ServedFile::new(REPO, "main", "wikiart/wikiart.yaml", payload(1000));
    let hub = FakeHub::start(vec![served.clone()], Trouble::None);
    let cache = tempfile::tempdir().unwrap();
    let h = Hub {
        endpoint: hub.url.clone(),
        cache: cache.path().to_path_buf(),
    };
    let file = remote(&served, None);
    fetch(&h, &file, &|| false, &mut Silent).unwrap();
    let refs = cache
        .path()
        .join("models--Somnai--pytti-vqgan-checkpoints/refs/main");
    assert_eq!(std::fs::read_to_string(refs).unwrap(), COMMIT);
    assert!(cached(cache.path(), &file).is_some());
}

#[test]
fn a_checksum_mismatch_is_refused_and_nothing_is_kept() {
    let served = ServedFile::new(REPO, COMMIT, "imagenet/imagenet.ckpt", payload(256 * 1024));
    let hub = FakeHub::start(vec![served.clone()], Trouble::WrongBytes);
    let cache = tempfile::tempdir().unwrap();
    let h = Hub {
        endpoint: hub.url.clone(),
        cache: cache.path().to_path_buf(),
    };
    let file = remote(&served, Some(served.sha256()));
    let err = fetch(&h, &file, &|| false, &mut Silent).unwrap_err();
    let DownloadError::Checksum {
        file: name,
        expected,
        actual,
    } = &err
    else {
        panic!("expected a checksum error, got {err}");
    };
    assert_eq!(name, "imagenet/imagenet.ckpt");
    assert_eq!(expected, &served.sha256());
    assert_ne!(actual, expected);
    let text = err.to_string();
    assert!(
        text.contains("sha256") && text.contains(&served.sha256()),
        "{text}"
    );
    assert!(blobs(cache.path()).is_empty(), "{:?}", blobs(cache.path()));
    assert!(cached(cache.path(), &file).is_none());
}

#[test]
fn a_connection_cut_half_way_resumes_from_its_last_byte_and_then_verifies() {
    let served = ServedFile::new(REPO, COMMIT, "imagenet/imagenet.ckpt", payload(400_000));
    let hub = FakeHub::start(vec![served.clone()], Trouble::CutOnceAtHalf);
    let cache = tempfile::tempdir().unwrap();
    let h = Hub {
        endpoint: hub.url.clone(),
        cache: cache.path().to_path_buf(),
    };
    let file = remote(&served, Some(served.sha256()));
    let never = || false;
    let err = fetch(&h, &file, &never, &mut Silent).unwrap_err();
    assert!(
        matches!(err, DownloadError::Network { .. }),
        "a cut connection is a network error: {err}"
    );
    assert!(err.to_string().contains("next try continues"), "{err}");
    let partial = blobs(cache.path());
    assert_eq!(partial, vec![format!("{}.incomplete", served.sha256())]);
    let kept = std::fs::metadata(
        cache
            .path()
            .join("models--Somnai--pytti-vqgan-checkpoints/blobs")
            .join(&partial[0]),
    )
    .unwrap()
    .len();
    assert!(kept > 0 && kept < served.bytes.len() as u64, "kept {kept}");

    let path = fetch(&h, &file, &never, &mut Silent).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), served.bytes);
    let ranged: Vec<_> = hub.requests().into_iter().filter_map(|r| r.range).collect();
    assert!(
        ranged.contains(&format!("bytes={kept}-")),
        "the second try asks for the rest: {ranged:?}"
    );
    assert_eq!(sha256_hex(&served.bytes), served.sha256());
}

#[test]
fn cancel_stops_within_a_second_and_keeps_a_resumable_partial_file() {
    let served = ServedFile::new(REPO, COMMIT, "imagenet/imagenet.ckpt", payload(2_000_000));
    let hub = FakeHub::start(vec![served.clone()], Trouble::Stall);
    let cache = tempfile::tempdir().unwrap();
    let h = Hub {
        endpoint: hub.url.clone(),
        cache: cache.path().to_path_buf(),
    };
    let file = remote(&served, Some(served.sha256()));
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        flag.store(true, Ordering::SeqCst);
        Instant::now()
    });
    let err = fetch(&h, &file, &|| cancel.load(Ordering::SeqCst), &mut Silent).unwrap_err();
    let asked_at = canceller.join().unwrap();
    let waited = asked_at.elapsed();
    assert!(matches!(err, DownloadError::Cancelled), "{err}");
    assert!(waited < Duration::from_secs(1), "cancel took {waited:?}");
    assert_eq!(
        blobs(cache.path()),
        vec![format!("{}.incomplete", served.sha256())]
    );
    assert!(cached(cache.path(), &file).is_none());
}

#[test]
fn a_missing_file_is_one_sentence_naming_the_url() {
    let hub = FakeHub::start(Vec::new(), Trouble::None);
    let cache = tempfile::tempdir().unwrap();
    let h = Hub {
        endpoint: hub.url.clone(),
        cache: cache.path().to_path_buf(),
    };
    let file = RemoteFile {
        repo: REPO.into(),
        revision: COMMIT.into(),
        path: "nope/nope.ckpt".into(),
        sha256: None,
        size: None,
    };
    let err = fetch(&h, &file, &|| false, &mut Silent).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("HTTP 404") && text.contains("nope/nope.ckpt"),
        "{text}"
    );
}

#[test]
fn hf_endpoint_names_the_hub() {
    std::env::set_var("HF_ENDPOINT", "http://127.0.0.1:9/");
    let h = Hub::from_env(std::path::PathBuf::from("/c"));
    assert_eq!(h.endpoint, "http://127.0.0.1:9");
    let file = RemoteFile {
        repo: "boris/vqgan_f16_16384".into(),
        revision: "79adffafbf70392d3b968e6a65382999274f8af2".into(),
        path: "model.ckpt".into(),
        sha256: None,
        size: None,
    };
    assert_eq!(
        h.resolve_url(&file),
        "http://127.0.0.1:9/boris/vqgan_f16_16384/resolve/79adffafbf70392d3b968e6a65382999274f8af2/model.ckpt"
    );
}
