//! `caption`, and the caption that `prompt`, `poem` and `eval-prompts` start from, as a user runs
//! them on the tiny fixtures: JSON shapes, `--models DIR/blip`, captions off without BLIP, and
//! bad input refused with one sentence.

mod common;

use common::cli::{json_of, studio};
use common::fixture;
use common::minilm::write_tiny_minilm;

fn fx(rel: &str) -> String {
    fixture(rel).to_str().unwrap().to_string()
}

/// The oracle's greedy caption of the first image, with 20 new tokens.
fn oracle_case(i: usize) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("blip-tiny/reference.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["generation"]["cases"][i].clone()
}

#[test]
fn caption_json_is_the_oracle_caption_with_its_ids_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let image = fx("blip-tiny/images/gradient_300x200.png");
    let blip = fx("blip-tiny");
    let args = [
        "caption",
        &image,
        "--blip",
        &blip,
        "--max-tokens",
        "20",
        "--offline",
        "--json",
    ];
    let doc = json_of(&studio(&args, dir.path()));
    let want = oracle_case(0);
    assert_eq!(doc["caption"], want["caption"]);
    assert_eq!(doc["generated_token_ids"], want["new_ids"]);
    assert!(doc["seconds"].as_f64().unwrap() > 0.0);
    // With a prompt, the caption starts with it (the oracle's second case).
    let mut args = args.to_vec();
    args.extend(["--prompt", "a picture of"]);
    let doc = json_of(&studio(&args, dir.path()));
    assert_eq!(doc["generated_token_ids"], oracle_case(1)["new_ids"]);
    assert!(doc["caption"].as_str().unwrap().starts_with("a picture of"));
}

#[test]
fn caption_finds_blip_under_models_dir() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models-here");
    std::fs::create_dir_all(models.join("blip")).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(
            fixture(&format!("blip-tiny/{f}")),
            models.join("blip").join(f),
        )
        .unwrap();
    }
    let image = fx("blip-tiny/images/circle_256x256.png");
    let models = models.to_str().unwrap();
    let args = [
        "--models",
        models,
        "caption",
        &image,
        "--beams",
        "3",
        "--max-tokens",
        "8",
        "--json",
        "--offline",
    ];
    let doc = json_of(&studio(&args, dir.path()));
    let ids = doc["generated_token_ids"].as_array().unwrap();
    assert!(!ids.is_empty() && ids.len() <= 8, "{doc}");
}

#[test]
fn caption_refuses_bad_input_with_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let text_file = dir.path().join("notes.png");
    std::fs::write(&text_file, "this is not a picture").unwrap();
    let blip = fx("blip-tiny");
    let image = fx("blip-tiny/images/circle_256x256.png");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["caption", text_file.to_str().unwrap(), "--blip", &blip],
            "notes.png",
        ),
        (
            vec!["caption", &image, "--blip", &blip, "--beams", "0"],
            "--beams",
        ),
        (
            vec!["caption", &image, "--blip", &blip, "--max-tokens", "100000"],
            "--max-tokens",
        ),
        (
            vec!["caption", &image, "--blip", "/nowhere/blip"],
            "/nowhere/blip",
        ),
    ];
    for (mut args, words) in cases {
        args.extend(["--offline", "--json"]);
        let out = studio(&args, dir.path());
        assert!(!out.status.success(), "{args:?} succeeded");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{args:?}: {}", String::from_utf8_lossy(&out.stdout)));
        let err = doc["error"].as_str().unwrap();
        assert!(err.contains(words), "{args:?}: {err}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // A folder without BLIP names the model and the way to get it.
    let out = studio(&["caption", &image, "--offline"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("BLIP"), "{stderr}");
}

#[test]
fn best_prompt_starts_with_the_caption_and_no_caption_leaves_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let image = fx("blip-tiny/images/stripes_180x320.png");
    let (clip, blip) = (fx("clip-tiny"), fx("blip-tiny"));
    let base = [
        "prompt",
        &image,
        "--clip",
        &clip,
        "--mode",
        "best",
        "--offline",
        "--json",
    ];
    let mut with = base.to_vec();
    with.extend(["--blip", &blip]);
    let doc = json_of(&studio(&with, dir.path()));
    let caption = doc["caption"].as_str().expect("a caption").to_string();
    assert!(!caption.is_empty());
    assert!(
        doc["prompt"].as_str().unwrap().starts_with(&caption),
        "{} does not start with {caption}",
        doc["prompt"]
    );
    let mut without = with.clone();
    without.push("--no-caption");
    let out = studio(&without, dir.path());
    // --blip and --no-caption contradict each other: clap says so.
    assert!(!out.status.success());
    // A negative prompt lists what the picture is not: no caption, even with BLIP.
    let mut negative = with.clone();
    negative[5] = "negative";
    let doc = json_of(&studio(&negative, dir.path()));
    assert!(doc["caption"].is_null(), "{doc}");
    let doc = json_of(&studio(
        &[&base[..], &["--no-caption"]].concat(),
        dir.path(),
    ));
    assert!(doc["caption"].is_null(), "{doc}");
    // Without BLIP anywhere, the prompt still works and says once that captions are off.
    let out = studio(&base, dir.path());
    let doc = json_of(&out);
    assert!(doc["caption"].is_null());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("captions are off").count(), 1, "{stderr}");
}

#[test]
fn poem_gives_the_caption_to_gpt2_and_eval_runs_with_and_without_captions() {
    let dir = tempfile::tempdir().unwrap();
    let image = fx("blip-tiny/images/circle_256x256.png");
    let (clip, blip, gpt2) = (fx("clip-tiny"), fx("blip-tiny"), fx("gpt2-tiny"));
    let args = [
        "poem",
        &image,
        "--clip",
        &clip,
        "--gpt2",
        &gpt2,
        "--blip",
        &blip,
        "--lines",
        "2",
        "--candidates",
        "2",
        "--offline",
        "--json",
    ];
    let doc = json_of(&studio(&args, dir.path()));
    assert!(!doc["caption"].as_str().unwrap().is_empty());
    assert_eq!(doc["candidates"].as_array().unwrap().len(), 2);

    let pairs = dir.path().join("pairs");
    std::fs::create_dir_all(&pairs).unwrap();
    std::fs::copy(
        fixture("blip-tiny/images/circle_256x256.png"),
        pairs.join("a.png"),
    )
    .unwrap();
    std::fs::write(pairs.join("a.txt"), "a red circle on white").unwrap();
    std::fs::copy(
        fixture("blip-tiny/images/stripes_180x320.png"),
        pairs.join("b.png"),
    )
    .unwrap();
    std::fs::write(pairs.join("b.txt"), "stripes in many colours").unwrap();
    let minilm = dir.path().join("minilm");
    std::fs::create_dir(&minilm).unwrap();
    write_tiny_minilm(&minilm);
    let (pairs, minilm) = (pairs.to_str().unwrap(), minilm.to_str().unwrap());
    let eval = [
        "eval-prompts",
        pairs,
        "--clip",
        &clip,
        "--minilm",
        minilm,
        "--offline",
        "--json",
    ];
    let with = json_of(&studio(
        &[&eval[..], &["--blip", &blip]].concat(),
        dir.path(),
    ));
    let without = json_of(&studio(
        &[&eval[..], &["--no-caption"]].concat(),
        dir.path(),
    ));
    assert_eq!(with["captions"], true);
    assert_eq!(without["captions"], false);
    assert_ne!(
        with["items"][0]["predicted"],
        without["items"][0]["predicted"]
    );
    assert!(with["mean_cosine"].as_f64().unwrap().abs() <= 1.0);
    // Without BLIP on disk, two pairs still say only once that captions are off.
    let out = studio(&eval, dir.path());
    assert_eq!(json_of(&out)["pairs"], 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("captions are off").count(), 1, "{stderr}");
}

#[test]
fn a_damaged_blip_on_disk_turns_captions_off_with_the_reason_and_models_list_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("m");
    std::fs::create_dir_all(models.join("blip")).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(
            fixture(&format!("blip-tiny/{f}")),
            models.join("blip").join(f),
        )
        .unwrap();
    }
    let weights = models.join("blip/model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    let (image, clip) = (fx("blip-tiny/images/circle_256x256.png"), fx("clip-tiny"));
    let models_arg = models.to_str().unwrap().to_string();
    let prompt = [
        "--models",
        &models_arg,
        "prompt",
        &image,
        "--clip",
        &clip,
        "--offline",
        "--json",
    ];
    // Whole, it is found under --models and its caption leads the prompt.
    let doc = json_of(&studio(&prompt, dir.path()));
    assert!(doc["caption"].is_string(), "{doc}");
    let list = json_of(&studio(
        &["--models", &models_arg, "models", "list", "--json"],
        dir.path(),
    ));
    let row = |list: &serde_json::Value| {
        list.as_array()
            .or_else(|| list["models"].as_array())
            .unwrap()
            .iter()
            .find(|m| m["model"] == "blip")
            .cloned()
            .unwrap()
    };
    assert_eq!(row(&list)["status"], "found", "{list}");
    // Cut in half, the prompt still works, without a caption, and says why.
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let out = studio(&prompt, dir.path());
    let doc = json_of(&out);
    assert!(doc["caption"].is_null(), "{doc}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("captions are off") && stderr.contains("cannot be used"),
        "{stderr}"
    );
    let list = json_of(&studio(
        &["--models", &models_arg, "models", "list", "--json"],
        dir.path(),
    ));
    assert_eq!(row(&list)["status"], "damaged", "{list}");
}
