//! `models list` tells usable models from damaged ones with the loaders' own checks, and a
//! damaged MiniLM is refused with the same sentence as the other models.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::fixture;
use common::minilm::write_tiny_minilm;

fn studio(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .args(args)
        .current_dir(cwd)
        .env("HF_HOME", cwd.join("hf-home"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("STORYBOOK_MODELS")
        .env_remove("HF_HUB_OFFLINE")
        .output()
        .expect("the binary runs")
}

fn copy_fixture(from: &str, to: &Path, files: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for f in files {
        std::fs::copy(fixture(&format!("{from}/{f}")), to.join(f)).unwrap();
    }
}

fn truncate(path: &Path, keep: u64) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_len(keep).unwrap();
}

const TRIO: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// A models folder: GPT-2 with an empty weights file, CLIP with a garbled config, a truncated
/// MiniLM, a whole VQGAN, and a fine-tuned GPT-2 cut to its first kilobyte.
fn damaged_models(dir: &Path) -> PathBuf {
    let models = dir.join("models-damaged");
    copy_fixture("gpt2-tiny", &models.join("gpt2"), &TRIO);
    std::fs::write(models.join("gpt2/model.safetensors"), b"").unwrap();
    copy_fixture("clip-tiny", &models.join("clip"), &TRIO);
    std::fs::write(models.join("clip/config.json"), "garbage {").unwrap();
    copy_fixture(
        "vqgan-tiny",
        &models.join("vqgan"),
        &["model.yaml", "model.safetensors"],
    );
    std::fs::create_dir_all(models.join("minilm")).unwrap();
    write_tiny_minilm(&models.join("minilm"));
    let weights = models.join("minilm/model.safetensors");
    truncate(&weights, std::fs::metadata(&weights).unwrap().len() / 2);
    copy_fixture("gpt2-tiny", &models.join("my-stories"), &TRIO);
    truncate(&models.join("my-stories/model.safetensors"), 1000);
    models
}

fn entry<'a>(list: &'a serde_json::Value, model: &str) -> &'a serde_json::Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == model)
        .unwrap_or_else(|| panic!("{model} not listed: {list}"))
}

#[test]
fn models_list_calls_truncated_empty_and_garbled_models_damaged() {
    let tmp = tempfile::tempdir().unwrap();
    let models = damaged_models(tmp.path());
    let m = models.to_str().unwrap();
    let out = studio(&["models", "list", "--json", "--models", m], tmp.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (model, needle) in [
        ("gpt2", "shorter than a safetensors header"),
        ("clip", "not a valid model config"),
        ("minilm", "may be truncated"),
        ("gpt2:my-stories", "may be truncated"),
    ] {
        let e = entry(&list, model);
        assert_eq!(e["status"], "damaged", "{e}");
        assert_eq!(e["found"], false, "{e}");
        let problem = e["problem"].as_str().unwrap();
        assert!(problem.contains(needle), "{model}: {problem}");
        assert!(e["location"].as_str().unwrap().starts_with(m), "{e}");
    }
    let vqgan = entry(&list, "vqgan");
    assert_eq!(vqgan["status"], "found");
    assert_eq!(vqgan["found"], true);
    assert!(vqgan.get("problem").is_none(), "{vqgan}");

    let out = studio(&["models", "list", "--models", m], tmp.path());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |model: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(model))
            .unwrap_or_else(|| panic!("no line for {model}: {text}"))
            .to_string()
    };
    assert!(line("gpt2").contains("damaged"), "{text}");
    assert!(line("clip").contains("damaged"), "{text}");
    assert!(line("minilm").contains("damaged"), "{text}");
    assert!(line("vqgan").contains("found"), "{text}");
    assert!(text.contains("not a valid model config"), "{text}");
}

#[test]
fn a_vqgan_ckpt_is_checked_from_its_pickle_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models-ckpt");
    copy_fixture(
        "vqgan-tiny",
        &models.join("vqgan"),
        &["model.yaml", "model.ckpt"],
    );
    let m = models.to_str().unwrap();
    let list = |cwd: &Path| -> serde_json::Value {
        let out = studio(&["models", "list", "--json", "--models", m], cwd);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(entry(&list(tmp.path()), "vqgan")["status"], "found");

    // A config that asks for another codebook size no longer fits the checkpoint's shapes.
    let yaml = std::fs::read_to_string(models.join("vqgan/model.yaml")).unwrap();
    let n_embed = yaml
        .lines()
        .find(|l| l.trim_start().starts_with("n_embed:"))
        .unwrap()
        .to_string();
    std::fs::write(
        models.join("vqgan/model.yaml"),
        yaml.replace(&n_embed, "    n_embed: 7"),
    )
    .unwrap();
    let listed = list(tmp.path());
    let vqgan = entry(&listed, "vqgan");
    assert_eq!(vqgan["status"], "damaged", "{vqgan}");
    assert!(
        vqgan["problem"]
            .as_str()
            .unwrap()
            .contains("quantize.embedding.weight"),
        "{vqgan}"
    );

    std::fs::write(models.join("vqgan/model.yaml"), &yaml).unwrap();
    truncate(&models.join("vqgan/model.ckpt"), 3000);
    let listed = list(tmp.path());
    let vqgan = entry(&listed, "vqgan");
    assert_eq!(vqgan["status"], "damaged", "{vqgan}");
    assert!(
        vqgan["problem"]
            .as_str()
            .unwrap()
            .contains("may be truncated"),
        "{vqgan}"
    );
}

#[test]
fn a_truncated_minilm_is_one_clear_sentence() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("minilm");
    std::fs::create_dir_all(&dir).unwrap();
    write_tiny_minilm(&dir);
    let weights = dir.join("model.safetensors");
    let d = dir.to_str().unwrap();
    for keep in [std::fs::metadata(&weights).unwrap().len() / 2, 0] {
        truncate(&weights, keep);
        let out = studio(&["embed", "hello", "--minilm", d], tmp.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.starts_with("error: ") && err.contains("may be truncated"),
            "{err}"
        );
        assert_eq!(err.matches("model.safetensors").count(), 1, "{err}");
        assert!(!err.contains("tensor computation failed"), "{err}");
    }
}

#[test]
fn a_failed_models_download_says_how_to_place_the_files_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("my-models");
    let d = dir.to_str().unwrap();
    let out = studio(&["models", "download", "gpt2", "--models", d], tmp.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.starts_with("error: "), "{err}");
    assert!(
        err.contains("download of GPT-2") && err.contains("failed"),
        "{err}"
    );
    assert!(
        !err.contains("run `storybook-studio models download"),
        "{err}"
    );
    assert!(err.contains("network"), "{err}");
    assert!(err.contains(&format!("put them in {d}/gpt2/")), "{err}");
}

#[test]
fn the_advice_names_the_models_folder_given() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("my-models");
    let d = dir.to_str().unwrap();
    let out = studio(&["story", "Hi", "--models", d, "--offline"], tmp.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("put them in {d}/gpt2/")), "{err}");
    assert!(!err.contains("put them in models/"), "{err}");
    // Without --models the folder searched is models/ in the working directory.
    let out = studio(&["story", "Hi", "--offline"], tmp.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("put them in models/gpt2/"), "{err}");
}

#[test]
fn every_missing_model_is_named_not_only_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("out.png");
    let p = png.to_str().unwrap();
    let out = studio(
        &["illustrate", "a fox", "--out", p, "--offline"],
        tmp.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.starts_with("error: "), "{err}");
    assert!(
        err.contains("2 models this command needs are missing"),
        "{err}"
    );
    for needle in [
        "CLIP ViT-B/32 (image and text matcher) was not found",
        "VQGAN f16-16384 (illustrator) was not found",
        "models download clip",
        "models download vqgan",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    assert_eq!(err.matches("offline mode").count(), 2, "{err}");

    // One present, one missing: only the missing one is named.
    let models = tmp.path().join("models-with-clip");
    copy_fixture("clip-tiny", &models.join("clip"), &TRIO);
    let m = models.to_str().unwrap();
    let out = studio(
        &[
            "illustrate",
            "a fox",
            "--out",
            p,
            "--offline",
            "--models",
            m,
        ],
        tmp.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("VQGAN f16-16384 (illustrator) was not found"),
        "{err}"
    );
    assert!(
        !err.contains("CLIP ViT-B/32 (image and text matcher) was not"),
        "{err}"
    );
    assert!(!err.contains("models this command needs"), "{err}");

    // A folder given on the command line that does not exist counts as missing too.
    let out = studio(
        &[
            "illustrate",
            "a fox",
            "--out",
            p,
            "--clip",
            "/no/clip",
            "--offline",
        ],
        tmp.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 models this command needs are missing"),
        "{err}"
    );
    assert!(
        err.contains("/no/clip") && err.contains("models download vqgan"),
        "{err}"
    );
}
