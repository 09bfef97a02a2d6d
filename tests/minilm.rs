//! all-MiniLM-L6-v2 plumbing on a tiny random BERT with the real MiniLM tokenizer: padding does
//! not leak into embeddings, vectors are unit length, truncation keeps `[SEP]`, and the `embed`
//! CLI prints one vector per text in input order. Parity with sentence-transformers on the real
//! weights lives in `tests/minilm_parity.rs`, which `.ci/run` runs by name.

mod common;

use std::process::Command;

use common::minilm::tiny_minilm;
use storybook_studio::ml::models::minilm::cosine;

#[test]
fn batched_embeddings_equal_single_ones_and_are_unit_length() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_minilm(dir.path());
    let texts = [
        "A fox.",
        "a much longer sentence about a lighthouse keeper and the storm that came at night",
        "naïve café résumé",
    ];
    let batch = model.embed(&texts).unwrap();
    assert_eq!(batch.len(), 3);
    for (text, b) in texts.iter().zip(&batch) {
        assert_eq!(b.len(), 32);
        let single = &model.embed(&[text]).unwrap()[0];
        let max = b
            .iter()
            .zip(single)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(max < 1e-5, "padding changed {text:?} by {max}");
        let norm: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
    assert!(
        cosine(&batch[0], &batch[1]) < 0.99999,
        "different texts, different vectors"
    );
}

#[test]
fn long_texts_are_cut_to_256_tokens_keeping_sep_last() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_minilm(dir.path());
    let long = "word ".repeat(600);
    let ids = model.encode(&long).unwrap();
    assert_eq!(ids.len(), 256);
    assert_eq!((ids[0], ids[255]), (101, 102));
    assert_eq!(model.embed(&[long.as_str()]).unwrap()[0].len(), 32);
}

#[test]
fn the_embed_cli_prints_one_vector_per_text_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_minilm(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .args([
            "embed",
            "first text",
            "second",
            "--json",
            "--offline",
            "--minilm",
        ])
        .arg(dir.path())
        .env_remove("STORYBOOK_MODELS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = doc["embeddings"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let expected = model.embed(&["first text", "second"]).unwrap();
    for (row, e) in rows.iter().zip(&expected) {
        let got: Vec<f32> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(got.len(), 32);
        assert!(cosine(&got, e) > 0.99999);
    }
}
