//! The `story` and `models` commands as a user runs them: JSON shape, and bad input that must
//! end in one clear sentence and a non-zero exit code, never a panic.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::fixture;

fn studio(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .args(args)
        .current_dir(cwd)
        // Keep every search local: an empty HF cache, no models env, and an endpoint that refuses.
        .env("HF_HOME", cwd.join("hf-home"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("STORYBOOK_MODELS")
        .env_remove("HF_HUB_OFFLINE")
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_clean_failure(out: &Output) -> String {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected failure, got success: {err}"
    );
    assert!(
        !err.contains("panicked"),
        "panic instead of a message: {err}"
    );
    assert!(!err.contains("stack backtrace"), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

/// A models folder holding a copy of the tiny GPT-2, for tests that damage it.
fn models_copy(dir: &Path) -> std::path::PathBuf {
    let gpt2 = dir.join("models-copy/gpt2");
    std::fs::create_dir_all(&gpt2).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture(&format!("gpt2-tiny/{f}")), gpt2.join(f)).unwrap();
    }
    gpt2
}

#[test]
fn story_json_has_the_documented_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let gpt2 = fixture("gpt2-tiny");
    let out = studio(
        &[
            "story",
            "Once upon a time",
            "--gpt2",
            gpt2.to_str().unwrap(),
            "--max-tokens",
            "12",
            "--min-tokens",
            "12",
            "--num-sequences",
            "2",
            "--seed",
            "5",
            "--json",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["prompt_token_ids"],
        serde_json::json!([7454, 2402, 257, 640])
    );
    let seqs = doc["sequences"].as_array().unwrap();
    assert_eq!(seqs.len(), 2);
    for seq in seqs {
        assert_eq!(seq["generated_token_ids"].as_array().unwrap().len(), 12);
        assert!(seq["text"]
            .as_str()
            .unwrap()
            .starts_with("Once upon a time"));
        assert!(!seq["sentences"].as_array().unwrap().is_empty());
    }
    assert!(doc["tokens_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn the_models_folder_is_searched_and_listed() {
    let tmp = tempfile::tempdir().unwrap();
    models_copy(tmp.path());
    let models = tmp.path().join("models-copy");
    let out = studio(
        &[
            "story",
            "Hi",
            "--models",
            models.to_str().unwrap(),
            "--max-tokens",
            "3",
            "--json",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let out = studio(
        &[
            "models",
            "list",
            "--json",
            "--models",
            models.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let gpt2 = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "gpt2")
        .unwrap();
    assert_eq!(gpt2["found"], true);
    assert_eq!(gpt2["origin"], "--models folder");
    let clip = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "clip")
        .unwrap();
    assert_eq!(clip["found"], false);
}

#[test]
fn a_missing_model_names_every_place_tried_and_what_to_fetch() {
    let tmp = tempfile::tempdir().unwrap();
    let out = studio(
        &["story", "Hi", "--models", "/nonexistent/models"],
        tmp.path(),
    );
    let err = assert_clean_failure(&out);
    for needle in [
        "/nonexistent/models/gpt2",
        "models/gpt2",
        "Hugging Face cache",
        "download",
        "openai-community/gpt2",
        "model.safetensors",
        "storybook-studio models download gpt2",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }

    let out = studio(&["story", "Hi", "--offline"], tmp.path());
    let err = assert_clean_failure(&out);
    assert!(err.contains("offline"), "{err}");
}

#[test]
fn an_explicit_missing_folder_is_an_error_not_a_fallback() {
    let tmp = tempfile::tempdir().unwrap();
    let out = studio(&["story", "Hi", "--gpt2", "/no/such/gpt2"], tmp.path());
    let err = assert_clean_failure(&out);
    assert!(
        err.contains("/no/such/gpt2") && err.contains("no such file"),
        "{err}"
    );
}

#[test]
fn a_failed_download_is_a_sentence() {
    let tmp = tempfile::tempdir().unwrap();
    let out = studio(&["models", "download", "gpt2"], tmp.path());
    let err = assert_clean_failure(&out);
    assert!(
        err.contains("openai-community/gpt2") && err.contains("failed"),
        "{err}"
    );
}

#[test]
fn a_truncated_checkpoint_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let gpt2 = models_copy(tmp.path());
    let weights = gpt2.join("model.safetensors");
    let len = std::fs::metadata(&weights).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&weights)
        .unwrap();
    file.set_len(len / 2).unwrap();
    let out = studio(
        &["story", "Hi", "--gpt2", gpt2.to_str().unwrap()],
        tmp.path(),
    );
    let err = assert_clean_failure(&out);
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn a_config_with_the_wrong_width_is_refused_by_key() {
    let tmp = tempfile::tempdir().unwrap();
    let gpt2 = models_copy(tmp.path());
    let config = std::fs::read_to_string(gpt2.join("config.json")).unwrap();
    std::fs::write(
        gpt2.join("config.json"),
        config.replace("\"n_embd\": 64", "\"n_embd\": 128"),
    )
    .unwrap();
    let out = studio(
        &["story", "Hi", "--gpt2", gpt2.to_str().unwrap()],
        tmp.path(),
    );
    let err = assert_clean_failure(&out);
    assert!(err.contains("transformer.h.0.attn.c_attn.bias"), "{err}");

    std::fs::write(gpt2.join("config.json"), "{ not json").unwrap();
    let out = studio(
        &["story", "Hi", "--gpt2", gpt2.to_str().unwrap()],
        tmp.path(),
    );
    let err = assert_clean_failure(&out);
    assert!(
        err.contains("config.json") && err.contains("not a valid model config"),
        "{err}"
    );
}

#[test]
fn empty_and_overlong_prompts() {
    let tmp = tempfile::tempdir().unwrap();
    let gpt2 = fixture("gpt2-tiny");
    let out = studio(
        &["story", "  ", "--gpt2", gpt2.to_str().unwrap()],
        tmp.path(),
    );
    let err = assert_clean_failure(&out);
    assert!(err.contains("prompt is empty"), "{err}");

    let long = "word ".repeat(400).trim_end().to_string();
    let out = studio(
        &[
            "story",
            &long,
            "--gpt2",
            gpt2.to_str().unwrap(),
            "--max-tokens",
            "8",
            "--json",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: the prompt is 400 tokens long; only its last 248"));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["prompt_token_ids"].as_array().unwrap().len(), 248);
}

#[test]
fn bad_sampling_settings_and_json_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let gpt2 = fixture("gpt2-tiny");
    let out = studio(
        &[
            "story",
            "Hi",
            "--gpt2",
            gpt2.to_str().unwrap(),
            "--top-p",
            "2",
            "--json",
        ],
        tmp.path(),
    );
    let err = assert_clean_failure(&out);
    assert!(err.contains("top-p"), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["error"].as_str().unwrap().contains("top-p"));
}

/// `--weights q8|bf16` writes the same greedy story as f32 on the oracle model (its greedy
/// output is unchanged, `gpt2_packed_weights` measures why), and a wrong name is one sentence.
#[test]
fn story_weights_write_the_same_greedy_story_and_a_wrong_name_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let gpt2 = fixture("gpt2-tiny");
    let ids = |weights: &str| {
        let out = studio(
            &[
                "story",
                "The dragon slept under the old bridge.",
                "--gpt2",
                gpt2.to_str().unwrap(),
                "--max-tokens",
                "16",
                "--min-tokens",
                "16",
                "--num-sequences",
                "1",
                "--temperature",
                "0",
                "--weights",
                weights,
                "--json",
            ],
            tmp.path(),
        );
        assert!(out.status.success(), "{weights}: {}", stderr(&out));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            doc["weights"], weights,
            "written with the weights asked for"
        );
        doc["sequences"][0]["generated_token_ids"].clone()
    };
    let f32_ids = ids("f32");
    assert_eq!(f32_ids.as_array().unwrap().len(), 16);
    assert_eq!(ids("q8"), f32_ids);
    assert_eq!(ids("bf16"), f32_ids);

    let out = studio(&["story", "Hi", "--weights", "int4"], tmp.path());
    let err = assert_clean_failure(&out);
    assert!(err.contains("q8, bf16 or f32"), "{err}");
}

/// `bench story-quality` measures both packed formats on the oracle's prompts.
#[test]
fn bench_story_quality_reports_kl_and_greedy_agreement_for_bf16_and_q8() {
    let tmp = tempfile::tempdir().unwrap();
    let gpt2 = fixture("gpt2-tiny");
    let out = studio(
        &[
            "bench",
            "story-quality",
            "--gpt2",
            gpt2.to_str().unwrap(),
            "--steps",
            "5",
            "--json",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["prompts"], 3);
    let formats = doc["formats"].as_array().unwrap();
    let names: Vec<&str> = formats
        .iter()
        .map(|f| f["weights"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bf16", "q8"]);
    for f in formats {
        assert_eq!(f["greedy_total"], 15);
        let kl = f["mean_kl"].as_f64().unwrap();
        assert!(kl > 0.0 && kl < 1e-4, "{f}");
    }
    let out = studio(
        &[
            "bench",
            "story-quality",
            "--gpt2",
            gpt2.to_str().unwrap(),
            "--prompt",
            "",
        ],
        tmp.path(),
    );
    let err = assert_clean_failure(&out);
    assert!(err.contains("prompt 1 has no tokens"), "{err}");
}
