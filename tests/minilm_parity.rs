//! all-MiniLM-L6-v2 on the real weights against sentence-transformers' embeddings.
//!
//! The 91 MB of real weights live only in `../shared/fixtures/minilm`, so this test is ignored
//! by a plain `cargo test` and run by name in `.ci/run`
//! (`cargo test --test minilm_parity -- --ignored`). Run that way, a missing folder fails: it is
//! never a silent skip. `STORYBOOK_SHARED_FIXTURES` points elsewhere if needed.

mod common;

use std::path::PathBuf;

use candle_core::Device;
use storybook_studio::ml::models::minilm::{cosine, Config, MiniLm};

fn shared_minilm() -> PathBuf {
    common::shared_fixture("minilm", "model.safetensors")
}

#[test]
#[ignore = "needs ../shared/fixtures/minilm; .ci/run runs it by name"]
fn embeddings_match_sentence_transformers() {
    let dir = shared_minilm();
    let cfg = Config::from_file(&dir.join("config.json")).unwrap();
    let model = MiniLm::from_files(
        &dir.join("model.safetensors"),
        &cfg,
        &dir.join("tokenizer.json"),
        &Device::Cpu,
    )
    .unwrap();
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let tensors =
        candle_core::safetensors::load(dir.join("reference.safetensors"), &Device::Cpu).unwrap();
    let expected: Vec<Vec<f32>> = tensors["embeddings"].to_vec2().unwrap();
    let sentences = reference["sentences"].as_array().unwrap();
    let texts: Vec<&str> = sentences
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    for (s, text) in sentences.iter().zip(&texts) {
        let ids: Vec<u32> = s["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(model.encode(text).unwrap(), ids, "{text:?}");
    }
    let ours = model.embed(&texts).unwrap();
    assert_eq!(ours.len(), expected.len());
    let mut worst = 1.0f64;
    for (i, (a, b)) in ours.iter().zip(&expected).enumerate() {
        assert_eq!(a.len(), 384);
        let c = cosine(a, b);
        worst = worst.min(c);
        assert!(c >= 0.9999, "sentence {i} {:?}: cosine {c}", texts[i]);
    }
    for i in [0usize, 14] {
        let ids = model.encode(texts[i]).unwrap();
        let n = ids.len();
        let ids = candle_core::Tensor::from_vec(ids, (1, n), &Device::Cpu).unwrap();
        let mask = ids.ones_like().unwrap();
        let hidden = model.forward(&ids, &mask).unwrap().squeeze(0).unwrap();
        let want = &tensors[&format!("last_hidden_state.s{i}")];
        let diff = (hidden - want).unwrap().abs().unwrap().max_all().unwrap();
        let diff = diff.to_scalar::<f32>().unwrap();
        assert!(
            diff < 1e-4,
            "sentence {i}: last hidden state differs by {diff}"
        );
    }
    eprintln!("worst cosine over {} sentences: {worst:.7}", ours.len());
}
