//! `models download` as a user runs it, against a loopback stand-in of the hub (`HF_ENDPOINT`):
//! the exact files of the chosen illustrator, refused checksums that leave no checkpoint behind,
//! the second source for the default when the mirror lacks it, offline mode, and Ctrl-C.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::fixture;
use common::hub::{FakeHub, ServedFile, Trouble, COMMIT};

const PYTTI: &str = "Somnai/pytti-vqgan-checkpoints";
const BORIS: &str = "boris/vqgan_f16_16384";
const BORIS_COMMIT: &str = "79adffafbf70392d3b968e6a65382999274f8af2";

fn command(args: &[&str], cwd: &Path, hub: &FakeHub) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_storybook-studio"));
    cmd.args(args)
        .current_dir(cwd)
        .env("HF_HUB_CACHE", cwd.join("hub-cache"))
        .env("HF_ENDPOINT", &hub.url)
        .env_remove("HF_HOME")
        .env_remove("STORYBOOK_MODELS")
        .env_remove("STORYBOOK_VQGAN_MODEL")
        .env_remove("HF_HUB_OFFLINE");
    cmd
}

fn studio(args: &[&str], cwd: &Path, hub: &FakeHub) -> Output {
    command(args, cwd, hub).output().expect("the binary runs")
}

fn tiny(name: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("vqgan-tiny/{name}"))).unwrap()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn wrong_bytes_for_the_default_illustrator_are_refused_and_no_checkpoint_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let served = vec![
        ServedFile::new(PYTTI, COMMIT, "imagenet/imagenet.ckpt", tiny("model.ckpt")),
        ServedFile::new(PYTTI, COMMIT, "imagenet/imagenet.yaml", tiny("model.yaml")),
    ];
    let hub = FakeHub::start(served, Trouble::WrongBytes);
    let out = studio(&["models", "download", "vqgan"], tmp.path(), &hub);
    let err = String::from_utf8_lossy(&out.stderr);

    assert!(!out.status.success(), "{err}");
    assert_eq!(
        hub.requests()[0].path,
        format!("/{PYTTI}/resolve/{COMMIT}/imagenet/imagenet.ckpt")
    );
    assert!(err.contains("sha256"), "{err}");
    // The expected hash is the mirror's published one, from the source table.
    assert!(
        err.contains("845a68805098cb666420d5db93df53f3a3b6dd443e6dd85c05759c5b998cd663"),
        "{err}"
    );
    // A refused checksum is not a network failure: no silent switch to the second source.
    assert!(!hub.requests().iter().any(|r| r.path.contains(BORIS)));
    let kept = files_under(&tmp.path().join("hub-cache"));
    assert!(
        !kept.iter().any(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".ckpt") || name.ends_with(".incomplete")
        }),
        "{kept:?}"
    );
    // The refused checkpoint stopped the download: no blob at all was kept.
    assert!(
        !kept.iter().any(|p| p.to_string_lossy().contains("/blobs/")),
        "{kept:?}"
    );
}

#[test]
fn a_chosen_illustrator_is_asked_for_at_its_own_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let served = vec![ServedFile::new(
        PYTTI,
        COMMIT,
        "wikiart/wikiart.ckpt",
        tiny("model.ckpt"),
    )];
    let hub = FakeHub::start(served, Trouble::WrongBytes);
    let out = studio(
        &["models", "download", "vqgan", "--vqgan-model", "wikiart"],
        tmp.path(),
        &hub,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_eq!(
        hub.requests()[0].path,
        format!("/{PYTTI}/resolve/{COMMIT}/wikiart/wikiart.ckpt")
    );
    assert!(err.contains("bd08bb46301f98be"), "{err}");
}

#[test]
fn an_unloadable_illustrator_is_refused_before_anything_is_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = FakeHub::start(Vec::new(), Trouble::None);
    let out = studio(
        &["models", "download", "vqgan", "--vqgan-model", "openimages"],
        tmp.path(),
        &hub,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("Gumbel") && err.contains("imagenet"), "{err}");
    assert!(hub.requests().is_empty());
}

#[test]
fn when_the_mirror_lacks_the_default_the_second_source_is_used_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    // Only boris' repository is served: the mirror answers 404.
    let served = vec![
        ServedFile::new(BORIS, BORIS_COMMIT, "config.yaml", tiny("model.yaml")),
        ServedFile::new(BORIS, BORIS_COMMIT, "model.ckpt", tiny("model.ckpt")),
    ];
    let hub = FakeHub::start(served, Trouble::None);
    let out = studio(&["--json", "models", "download", "vqgan"], tmp.path(), &hub);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc[0]["source"], "imagenet-cc", "{doc}");
    let notes = doc[0]["notes"].to_string();
    assert!(
        notes.contains("used imagenet-cc") && notes.contains(BORIS),
        "{notes}"
    );
    let asked: Vec<String> = hub.requests().into_iter().map(|r| r.path).collect();
    assert!(
        asked.contains(&format!("/{BORIS}/resolve/{BORIS_COMMIT}/model.ckpt")),
        "{asked:?}"
    );

    // What landed is found again, in the cache, by the next command that asks for it.
    let list = studio(
        &["--json", "--vqgan-model", "imagenet-cc", "models", "list"],
        tmp.path(),
        &hub,
    );
    let doc: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let vqgan = doc
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "vqgan")
        .unwrap();
    assert_eq!(vqgan["status"], "found", "{vqgan}");
    assert_eq!(vqgan["origin"], "Hugging Face cache", "{vqgan}");
    assert_eq!(vqgan["source"]["repo"], BORIS, "{vqgan}");
}

#[test]
fn offline_mode_asks_the_hub_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = FakeHub::start(Vec::new(), Trouble::None);
    let mut cmd = command(&["models", "download", "vqgan"], tmp.path(), &hub);
    let out = cmd.env("HF_HUB_OFFLINE", "1").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("offline") || err.contains("downloads are off"),
        "{err}"
    );
    let mut cmd = command(
        &[
            "illustrate",
            "a red fox",
            "--out",
            "fox.png",
            "--iterations",
            "1",
        ],
        tmp.path(),
        &hub,
    );
    let out = cmd.env("HF_HUB_OFFLINE", "1").output().unwrap();
    assert!(!out.status.success());
    assert!(hub.requests().is_empty(), "{:?}", hub.requests());
}

/// BLIP comes from a pull request's ref, which must reach the hub as one escaped segment;
/// once downloaded, `caption` finds it in the cache and captions offline.
#[test]
fn blip_downloads_from_its_pull_request_ref_and_then_captions_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = "Salesforce/blip-image-captioning-large";
    let served: Vec<ServedFile> = ["config.json", "model.safetensors", "tokenizer.json"]
        .iter()
        .map(|f| {
            let bytes = std::fs::read(fixture(&format!("blip-tiny/{f}"))).unwrap();
            ServedFile::new(repo, "refs/pr/18", f, bytes)
        })
        .collect();
    let hub = FakeHub::start(served, Trouble::None);
    let out = studio(&["models", "download", "blip"], tmp.path(), &hub);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let asked: Vec<String> = hub.requests().into_iter().map(|r| r.path).collect();
    assert!(
        asked.contains(&format!("/{repo}/resolve/refs%2Fpr%2F18/model.safetensors")),
        "{asked:?}"
    );
    let image = fixture("blip-tiny/images/circle_256x256.png");
    let out = studio(
        &["caption", image.to_str().unwrap(), "--offline", "--json"],
        tmp.path(),
        &hub,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!doc["generated_token_ids"].as_array().unwrap().is_empty());
}

/// The Chinese models are published as `pytorch_model.bin` and `vocab.txt` only, at `main`;
/// once downloaded they are found in the cache and write a poem offline.
#[test]
fn the_chinese_models_download_as_pickles_and_then_write_a_poem_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let mut served = Vec::new();
    for (repo, dir) in [
        ("OFA-Sys/chinese-clip-vit-base-patch16", "chinese-clip-bin"),
        ("uer/gpt2-chinese-poem", "gpt2-chinese-bin"),
    ] {
        for f in ["config.json", "pytorch_model.bin", "vocab.txt"] {
            let bytes = std::fs::read(fixture(&format!("{dir}/{f}"))).unwrap();
            served.push(ServedFile::new(repo, "main", f, bytes));
        }
    }
    let hub = FakeHub::start(served, Trouble::None);
    for name in ["chinese-clip", "gpt2-chinese"] {
        let out = studio(&["models", "download", name], tmp.path(), &hub);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let asked: Vec<String> = hub.requests().into_iter().map(|r| r.path).collect();
    assert!(
        asked.contains(&"/uer/gpt2-chinese-poem/resolve/main/pytorch_model.bin".to_string()),
        "{asked:?}"
    );
    assert!(
        !asked.iter().any(|p| p.ends_with("model.safetensors")),
        "{asked:?}"
    );
    let image = fixture("chinese-clip-tiny/images/circle_256x256.png");
    let out = command(
        &[
            "poem",
            image.to_str().unwrap(),
            "--lang",
            "zh",
            "--offline",
            "--json",
        ],
        tmp.path(),
        &hub,
    )
    .env("STORYBOOK_CACHE", tmp.path().join("labels"))
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["poem"].as_str().unwrap().lines().count(), 4, "{doc}");
}

#[test]
fn models_list_and_sources_show_where_each_model_comes_from() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = FakeHub::start(Vec::new(), Trouble::None);
    let out = studio(&["--json", "models", "sources"], tmp.path(), &hub);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = doc["vqgan_models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "imagenet",
            "wikiart",
            "coco",
            "sflickr",
            "faceshq",
            "imagenet-cc"
        ]
    );
    let imagenet = &doc["vqgan_models"][0];
    assert_eq!(imagenet["revision"], COMMIT);
    assert_eq!(imagenet["files"][0]["path"], "imagenet/imagenet.ckpt");
    let minilm = doc["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "minilm")
        .unwrap();
    assert_eq!(minilm["files"][1]["size"], 90_868_376, "{minilm}");

    let list = studio(&["--json", "--offline", "models", "list"], tmp.path(), &hub);
    let doc: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    for m in doc.as_array().unwrap() {
        let repo = m["source"]["repo"].as_str().unwrap_or("");
        assert!(!repo.is_empty(), "{m}");
        assert!(!m["source"]["revision"].as_str().unwrap_or("").is_empty());
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_download_within_a_second_and_keeps_the_part_for_next_time() {
    let tmp = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..4_000_000).map(|i| (i % 253) as u8).collect();
    let served = vec![ServedFile::new(
        PYTTI,
        COMMIT,
        "imagenet/imagenet.ckpt",
        big,
    )];
    let hub = FakeHub::start(served, Trouble::Stall);
    let mut child = command(&["models", "download", "vqgan"], tmp.path(), &hub)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the body is flowing (the stand-in then stalls after a quarter).
    let started = Instant::now();
    while hub.bodies_sent() == 0 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) with a child's pid and SIGINT.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let asked = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(asked.elapsed() < Duration::from_secs(5), "still running");
        std::thread::sleep(Duration::from_millis(10));
    };
    let stopped_in = asked.elapsed();
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(stopped_in < Duration::from_millis(1500), "{stopped_in:?}");
    assert!(
        err.contains("cancelled") && err.contains("continues"),
        "{err}"
    );
    let parts: Vec<PathBuf> = files_under(&tmp.path().join("hub-cache"))
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".incomplete"))
        .collect();
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert!(std::fs::metadata(&parts[0]).unwrap().len() > 0);
}
