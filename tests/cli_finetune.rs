//! `finetune` as a user runs it: a diverging run fails with a sentence and leaves no half model,
//! the base model's folder is never the output, nonsense sizes are refused before any work, and
//! the saved model gets ordinary file permissions.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::fixture;

fn studio(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .args(args)
        .current_dir(cwd)
        .env("HF_HOME", cwd.join("hf"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("STORYBOOK_MODELS")
        .output()
        .expect("the binary runs")
}

fn corpus(dir: &Path) -> std::path::PathBuf {
    let words = ["the", "fox", "ran", "over", "hill", "and", "owl", "sang"];
    let text: Vec<&str> = (0..700).map(|i| words[(i * 5 + i / 3) % 8]).collect();
    let path = dir.join("story.txt");
    std::fs::write(&path, text.join(" ")).unwrap();
    path
}

/// Fails with one `error:` sentence containing `needle`, without a panic.
fn refused(out: &Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "succeeded: {err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn finetune<'a>(text: &'a str, base: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "finetune",
        text,
        "--base",
        base,
        "--out",
        out,
        "--epochs",
        "1",
        "--block-size",
        "32",
    ];
    args.extend(extra);
    args
}

#[test]
fn a_diverging_run_fails_with_a_sentence_and_leaves_no_half_model() {
    let tmp = tempfile::tempdir().unwrap();
    let text = corpus(tmp.path());
    let base = fixture("gpt2-tiny");
    let out = tmp.path().join("ft");
    let args = finetune(
        text.to_str().unwrap(),
        base.to_str().unwrap(),
        out.to_str().unwrap(),
        &["--lr", "1000"],
    );
    let err = refused(&studio(&args, tmp.path()), "diverged");
    assert!(err.contains("learning rate than 1000"), "{err}");
    assert!(err.contains("no model was saved"), "{err}");
    assert!(!out.exists(), "a folder without a model was left behind");

    let mut json = args.clone();
    json.push("--json");
    let o = studio(&json, tmp.path());
    refused(&o, "diverged");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(doc["error"].as_str().unwrap().contains("diverged"), "{doc}");
    assert!(doc.get("epochs").is_none(), "{doc}");
}

#[test]
fn the_base_model_folder_is_never_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let text = corpus(tmp.path());
    let base = tmp.path().join("models/gpt2");
    std::fs::create_dir_all(&base).unwrap();
    let files = ["config.json", "model.safetensors", "tokenizer.json"];
    for f in files {
        std::fs::copy(fixture(&format!("gpt2-tiny/{f}")), base.join(f)).unwrap();
    }
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(base.join(f)).unwrap())
        .collect();

    let t = text.to_str().unwrap();
    let same = base.to_str().unwrap().to_string();
    let dotted = format!("{}/../gpt2/", base.display());
    let weights = base.join("model.safetensors");
    for (b, o) in [
        (same.as_str(), same.as_str()),
        (same.as_str(), dotted.as_str()),
        (weights.to_str().unwrap(), same.as_str()),
    ] {
        refused(&studio(&finetune(t, b, o, &[]), tmp.path()), "base model");
    }
    // Found by the search rather than named: still the same folder.
    let models = tmp.path().join("models");
    let args = [
        "finetune",
        t,
        "--models",
        models.to_str().unwrap(),
        "--out",
        same.as_str(),
    ];
    refused(&studio(&args, tmp.path()), "base model");

    for (f, bytes) in files.iter().zip(&before) {
        assert_eq!(&std::fs::read(base.join(f)).unwrap(), bytes, "{f} changed");
    }
}

#[test]
fn nonsense_sizes_are_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let text = corpus(tmp.path());
    let base = fixture("gpt2-tiny");
    let out = tmp.path().join("ft");
    let (t, b, o) = (
        text.to_str().unwrap(),
        base.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    refused(
        &studio(&finetune(t, b, o, &["--batch-size", "0"]), tmp.path()),
        "--batch-size must be at least 1",
    );
    let mut args = finetune(t, b, o, &[]);
    args.truncate(args.len() - 2);
    args.extend(["--block-size", "5000"]);
    let err = refused(&studio(&args, tmp.path()), "--block-size 5000");
    assert!(err.contains("window of 256 tokens"), "{err}");
    assert!(!out.exists());
}

#[cfg(unix)]
#[test]
fn the_saved_model_has_the_permissions_of_any_new_file() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let text = corpus(tmp.path());
    let base = fixture("gpt2-tiny");
    let out = tmp.path().join("ft");
    let o = studio(
        &finetune(
            text.to_str().unwrap(),
            base.to_str().unwrap(),
            out.to_str().unwrap(),
            &["--json"],
        ),
        tmp.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["epochs"][0]["saved"], true);
    // What this process's umask gives a new file, e.g. 0644 under the usual 022.
    let probe = out.join("probe");
    std::fs::write(&probe, b"").unwrap();
    let want = std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777;
    let got = std::fs::metadata(out.join("model.safetensors"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(
        got, want,
        "model.safetensors is {got:o}, a new file is {want:o}"
    );
    assert!(!out.join(".model.safetensors.mode").exists());
}
