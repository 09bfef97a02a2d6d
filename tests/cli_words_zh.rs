//! `keywords --lang zh` and `poem --lang zh` as a user runs them on the tiny Chinese models:
//! the oracle's top keywords, the form of the verse, candidates ranked by Chinese CLIP, and bad
//! input (a messy or non-UTF-8 keyword list, an English GPT-2, a non-image) as sentences.

mod common;

use std::path::Path;
use std::process::Output;

use common::cli::{json_of, sentence_of, studio};
use common::{fixture, read_json};

fn oracle_keywords(dir: &Path) -> std::path::PathBuf {
    let words: Vec<String> = read_json("chinese-clip-tiny/reference.json")["keywords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let path = dir.join("keywords.txt");
    std::fs::write(&path, words.join("\n")).unwrap();
    path
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `keywords IMAGE --lang zh` with the tiny Chinese CLIP, offline, then `extra`.
fn keywords(dir: &Path, image: &Path, extra: &[&str]) -> Output {
    let cn_clip = fixture("chinese-clip-tiny");
    let mut args = vec![
        "keywords",
        path(image),
        "--lang",
        "zh",
        "--cn-clip",
        path(&cn_clip),
    ];
    args.push("--offline");
    args.extend(extra);
    studio(&args, dir)
}

#[test]
fn keywords_are_the_oracles_top_five_best_first() {
    let dir = tempfile::tempdir().unwrap();
    let terms = oracle_keywords(dir.path());
    let reference = read_json("chinese-clip-tiny/reference.json");
    let words = reference["keywords"].as_array().unwrap();
    for (i, image) in reference["images"].as_array().unwrap().iter().enumerate() {
        let image = fixture(&format!(
            "chinese-clip-tiny/{}",
            image["file"].as_str().unwrap()
        ));
        let doc = json_of(&keywords(
            dir.path(),
            &image,
            &["--terms", path(&terms), "--top", "5", "--json"],
        ));
        let got: Vec<&str> = doc["keywords"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["term"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = reference["top5_keyword_indices_per_image"][i]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| words[k.as_u64().unwrap() as usize].as_str().unwrap())
            .collect();
        assert_eq!(got, want, "image {i}");
        let scores: Vec<f64> = doc["keywords"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["score"].as_f64().unwrap())
            .collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        assert!(scores.iter().all(|s| s.abs() <= 1.0), "cosines: {scores:?}");
    }
}

#[test]
fn the_builtin_lexicon_has_300_keywords_and_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let image = fixture("chinese-clip-tiny/images/circle_256x256.png");
    let first = keywords(dir.path(), &image, &["--top", "400"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let lines = String::from_utf8_lossy(&first.stdout).lines().count();
    assert!(lines >= 300, "only {lines} keywords");
    assert!(String::from_utf8_lossy(&first.stderr).contains("cached for next time"));
    let second = keywords(dir.path(), &image, &["--top", "400"]);
    assert!(!String::from_utf8_lossy(&second.stderr).contains("embedded"));
    assert_eq!(first.stdout, second.stdout);
}

fn poem(dir: &Path, form: &str, extra: &[&str]) -> Output {
    let image = fixture("chinese-clip-tiny/images/gradient_300x200.png");
    let cn_clip = fixture("chinese-clip-tiny");
    let gpt2 = fixture("gpt2-chinese-tiny");
    let mut args = vec![
        "poem",
        path(&image),
        "--lang",
        "zh",
        "--cn-clip",
        path(&cn_clip),
        "--gpt2-zh",
        path(&gpt2),
        "--form",
        form,
        "--offline",
        "--json",
    ];
    args.extend(extra);
    studio(&args, dir)
}

fn is_hanzi(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

fn check_form(text: &str, form: usize, lines: usize) {
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), lines, "{text}");
    for (i, row) in rows.iter().enumerate() {
        let chars: Vec<char> = row.chars().collect();
        assert_eq!(chars.len(), form + 1, "line {i}: {row:?}");
        assert!(
            chars[..form].iter().all(|&c| is_hanzi(c)),
            "line {i}: {row:?}"
        );
        assert!(matches!(chars[form], '，' | '。'), "line {i}: {row:?}");
        assert!(!row.contains(' '), "{row:?}");
    }
}

#[test]
fn poem_zh_form_5_and_7_have_exact_lines_ranked_by_chinese_clip() {
    let dir = tempfile::tempdir().unwrap();
    for (form, n) in [("5", 5), ("7", 7)] {
        let doc = json_of(&poem(
            dir.path(),
            form,
            &["--candidates", "3", "--seed", "7"],
        ));
        let best = doc["poem"].as_str().unwrap();
        check_form(best, n, 4);
        let candidates = doc["candidates"].as_array().unwrap();
        assert_eq!(candidates.len(), 3);
        assert_eq!(candidates[0]["poem"].as_str().unwrap(), best);
        let scores: Vec<f64> = candidates
            .iter()
            .map(|c| c["score"].as_f64().unwrap())
            .collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        for c in candidates {
            check_form(c["poem"].as_str().unwrap(), n, 4);
        }
        assert!(!doc["keywords"].as_array().unwrap().is_empty());
        // The first line opens with one of the picture's keywords.
        let keywords: Vec<&str> = doc["keywords"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["term"].as_str().unwrap())
            .collect();
        assert!(
            candidates.iter().all(|c| keywords
                .iter()
                .any(|k| c["poem"].as_str().unwrap().starts_with(k))),
            "{candidates:?} {keywords:?}"
        );
    }
    // The same seed writes the same poems.
    let a = json_of(&poem(dir.path(), "5", &["--seed", "3"]));
    let b = json_of(&poem(dir.path(), "5", &["--seed", "3"]));
    assert_eq!(a, b);
}

/// The candidates are decoded together as one batch; each row is still the poem it would be
/// alone: the first candidate of three is the single candidate of a run with the same seed.
#[test]
fn a_batch_of_candidates_writes_what_each_would_write_alone() {
    let dir = tempfile::tempdir().unwrap();
    for seed in ["1", "4"] {
        let one = json_of(&poem(
            dir.path(),
            "5",
            &["--candidates", "1", "--seed", seed],
        ));
        let three = json_of(&poem(
            dir.path(),
            "5",
            &["--candidates", "3", "--seed", seed],
        ));
        let alone = one["poem"].as_str().unwrap();
        let batched: Vec<&str> = three["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["poem"].as_str().unwrap())
            .collect();
        assert!(batched.contains(&alone), "{alone} not in {batched:?}");
        let distinct: std::collections::BTreeSet<&str> = batched.iter().copied().collect();
        assert_eq!(distinct.len(), 3, "three different poems: {batched:?}");
    }
}

#[test]
fn a_messy_keyword_list_is_cleaned_and_a_non_utf8_one_is_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let image = fixture("chinese-clip-tiny/images/circle_256x256.png");
    let messy = dir.path().join("messy.txt");
    std::fs::write(&messy, "\u{feff}明月\n\n  明月  \n# 注释\n孤舟\r\n\n孤舟\n").unwrap();
    let run = |terms: &Path| keywords(dir.path(), &image, &["--terms", path(terms), "--json"]);
    let doc = json_of(&run(&messy));
    let mut terms: Vec<&str> = doc["keywords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["term"].as_str().unwrap())
        .collect();
    terms.sort();
    assert_eq!(terms, ["孤舟", "明月"]);

    let latin1 = dir.path().join("latin1.txt");
    std::fs::write(&latin1, b"\xc3\xa9t\xe9\n\xff\xfe\n").unwrap();
    let err = sentence_of(&run(&latin1));
    assert!(err.contains("not UTF-8"), "{err}");

    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n# nothing\n\n").unwrap();
    let err = sentence_of(&run(&empty));
    assert!(err.contains("has no keywords"), "{err}");
}

/// `--models DIR` finds the two Chinese models in `DIR/chinese-clip/` and `DIR/gpt2-chinese/`,
/// here in the layout their hub repositories publish (pytorch_model.bin, vocab.txt).
#[test]
fn models_dir_holds_the_chinese_models_in_their_own_folders() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    for (name, from) in [
        ("chinese-clip", "chinese-clip-bin"),
        ("gpt2-chinese", "gpt2-chinese-bin"),
    ] {
        std::fs::create_dir_all(models.join(name)).unwrap();
        for f in ["config.json", "pytorch_model.bin", "vocab.txt"] {
            std::fs::copy(fixture(&format!("{from}/{f}")), models.join(name).join(f)).unwrap();
        }
    }
    let image = fixture("chinese-clip-tiny/images/stripes_180x320.png");
    let run = |models: &Path| {
        json_of(&studio(
            &[
                "poem",
                path(&image),
                "--lang",
                "zh",
                "--models",
                path(models),
                "--seed",
                "5",
                "--offline",
                "--json",
            ],
            dir.path(),
        ))
    };
    let from_bin = run(&models);
    check_form(from_bin["poem"].as_str().unwrap(), 5, 4);
    // The same poem as from the safetensors and tokenizer.json copies of the same weights.
    let safetensors = dir.path().join("safetensors");
    std::fs::create_dir_all(&safetensors).unwrap();
    for (name, from) in [
        ("chinese-clip", "chinese-clip-tiny"),
        ("gpt2-chinese", "gpt2-chinese-tiny"),
    ] {
        std::fs::create_dir_all(safetensors.join(name)).unwrap();
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            std::fs::copy(
                fixture(&format!("{from}/{f}")),
                safetensors.join(name).join(f),
            )
            .unwrap();
        }
    }
    assert_eq!(run(&safetensors), from_bin);
}

#[test]
fn an_english_gpt2_as_gpt2_zh_is_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let image = fixture("chinese-clip-tiny/images/circle_256x256.png");
    let cn_clip = fixture("chinese-clip-tiny");
    let english = fixture("gpt2-tiny");
    let out = studio(
        &[
            "poem",
            path(&image),
            "--lang",
            "zh",
            "--cn-clip",
            path(&cn_clip),
            "--gpt2-zh",
            path(&english),
            "--offline",
        ],
        dir.path(),
    );
    let err = sentence_of(&out);
    assert!(err.contains("English (byte-level BPE) tokenizer"), "{err}");
}

#[test]
fn a_non_image_and_mixed_up_options_are_sentences() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("poem.png");
    std::fs::write(&text, "床前明月光").unwrap();
    let err = sentence_of(&keywords(dir.path(), &text, &[]));
    assert!(err.contains("poem.png"), "{err}");

    let image = fixture("chinese-clip-tiny/images/circle_256x256.png");
    let out = studio(
        &["poem", path(&image), "--form", "5", "--offline"],
        dir.path(),
    );
    assert!(sentence_of(&out).contains("--form is for Chinese poems"));
    let out = poem(dir.path(), "6", &[]);
    assert!(sentence_of(&out).contains("5 or 7 characters"));
}
