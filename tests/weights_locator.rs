//! The search order of the weights locator, on folders the test builds: explicit path, then
//! `--models`, then `models/`, then the Hugging Face cache layout Python users already have.

mod common;

use std::path::{Path, PathBuf};

use common::fixture;
use storybook_studio::ml::weights::{Locator, ModelKind, Origin};

fn put_gpt2(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture(&format!("gpt2-tiny/{f}")), dir.join(f)).unwrap();
    }
}

/// GPT-2's pinned commit: a cache counts only if it holds that snapshot.
const GPT2_COMMIT: &str = "607a30d783dfa663caf39e06633721c8d4cfcd7e";
const OTHER_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Lays files out as huggingface_hub does: refs/<revision> holds a commit, snapshots/<commit>/.
fn put_in_hf_cache(cache: &Path, repo: &str, revision: &str, commit: &str) -> PathBuf {
    let repo_dir = cache.join(format!("models--{}", repo.replace('/', "--")));
    let ref_file = repo_dir.join("refs").join(revision);
    std::fs::create_dir_all(ref_file.parent().unwrap()).unwrap();
    std::fs::write(&ref_file, commit).unwrap();
    let snapshot = repo_dir.join("snapshots").join(commit);
    put_gpt2(&snapshot);
    snapshot
}

fn locator(root: &Path, models_dir: Option<PathBuf>) -> Locator {
    Locator {
        models_dir,
        local_dir: root.join("models"),
        hf_cache: Some(root.join("hf")),
        allow_download: false,
        ..Locator::default()
    }
}

#[test]
fn each_step_is_found_and_earlier_steps_win() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();

    let loc = locator(root, Some(root.join("mine")));
    assert!(loc.find_local(ModelKind::Gpt2, None).is_err());

    // Another commit of GPT-2 is not the pinned one: it does not count.
    put_in_hf_cache(
        &root.join("hf"),
        "openai-community/gpt2",
        "main",
        OTHER_COMMIT,
    );
    assert!(loc.find_local(ModelKind::Gpt2, None).is_err());
    let snapshot = put_in_hf_cache(
        &root.join("hf"),
        "openai-community/gpt2",
        "main",
        GPT2_COMMIT,
    );
    let found = loc.find_local(ModelKind::Gpt2, None).unwrap();
    assert_eq!(found.origin, Origin::HfCache);
    assert_eq!(found.location, snapshot);

    put_gpt2(&root.join("models/gpt2"));
    assert_eq!(
        loc.find_local(ModelKind::Gpt2, None).unwrap().origin,
        Origin::LocalModels
    );

    put_gpt2(&root.join("mine/gpt2"));
    let found = loc.find_local(ModelKind::Gpt2, None).unwrap();
    assert_eq!(found.origin, Origin::ModelsDir);
    assert_eq!(
        found.get("tokenizer.json").unwrap(),
        root.join("mine/gpt2/tokenizer.json")
    );

    let explicit = fixture("gpt2-tiny");
    let found = loc.find_local(ModelKind::Gpt2, Some(&explicit)).unwrap();
    assert_eq!(found.origin, Origin::Explicit);
}

#[test]
fn the_legacy_gpt2_repo_name_and_clip_revision_are_read_from_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let loc = locator(tmp.path(), None);
    put_in_hf_cache(&tmp.path().join("hf"), "gpt2", "main", GPT2_COMMIT);
    assert_eq!(
        loc.find_local(ModelKind::Gpt2, None).unwrap().origin,
        Origin::HfCache
    );

    // CLIP is pinned to refs/pr/15, the revision with model.safetensors; main does not count.
    put_in_hf_cache(
        &tmp.path().join("hf"),
        "openai/clip-vit-base-patch32",
        "main",
        OTHER_COMMIT,
    );
    assert!(loc.find_local(ModelKind::Clip, None).is_err());
    put_in_hf_cache(
        &tmp.path().join("hf"),
        "openai/clip-vit-base-patch32",
        "refs/pr/15",
        OTHER_COMMIT,
    );
    assert_eq!(
        loc.find_local(ModelKind::Clip, None).unwrap().origin,
        Origin::HfCache
    );
}

#[test]
fn an_explicit_weights_file_takes_its_config_and_tokenizer_from_beside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("finetuned");
    put_gpt2(&dir);
    let weights = dir.join("step-300.safetensors");
    std::fs::rename(dir.join("model.safetensors"), &weights).unwrap();
    let loc = locator(tmp.path(), None);
    let found = loc.find_local(ModelKind::Gpt2, Some(&weights)).unwrap();
    assert_eq!(found.get("model.safetensors").unwrap(), weights);
    assert_eq!(found.get("config.json").unwrap(), dir.join("config.json"));

    let err = loc
        .find_local(ModelKind::Gpt2, Some(&dir.join("config.json")))
        .unwrap_err()
        .to_string();
    assert!(err.contains(".safetensors"), "{err}");
}

#[test]
fn a_vqgan_folder_accepts_either_weights_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("models/vqgan");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.yaml"), "model: {}").unwrap();
    let loc = locator(tmp.path(), None);
    let err = loc
        .find_local(ModelKind::Vqgan, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing model.ckpt or model.safetensors"),
        "{err}"
    );
    std::fs::write(dir.join("model.ckpt"), b"not really").unwrap();
    let found = loc.find_local(ModelKind::Vqgan, None).unwrap();
    assert!(found.get("model.ckpt").is_some() && found.get("model.safetensors").is_none());
}
