//! The Chinese poem GPT-2 against the oracle saved by transformers
//! (`tests/fixtures/gpt2-chinese-tiny`): logits, greedy and repetition-penalty continuations
//! through the `story` command, the eight tokenizer cases, both ways of shipping the tokenizer
//! and the weights (`vocab.txt`, `pytorch_model.bin`), and the real checkpoint's key set.

mod common;

use std::process::Command;

use candle_core::{Device, Tensor};
use common::{fixture, ids_of, load_tensors, manifest_keys, max_abs_diff, read_json};
use storybook_studio::ml::models::gpt2::tokenizer::TextTokenizer;
use storybook_studio::ml::models::gpt2::{expected_keys, KeyLayout};
use storybook_studio::ml::models::gpt2::{Config, Gpt2};

fn config() -> Config {
    Config::from_file(&fixture("gpt2-chinese-tiny/config.json")).unwrap()
}

fn reference() -> serde_json::Value {
    read_json("gpt2-chinese-tiny/reference.json")
}

fn tokenizers() -> Vec<(&'static str, TextTokenizer)> {
    let json = fixture("gpt2-chinese-tiny/tokenizer.json");
    let vocab = fixture("gpt2-chinese-tiny/vocab.txt");
    vec![
        (
            "tokenizer.json",
            TextTokenizer::from_files(Some(&json), None).unwrap(),
        ),
        (
            "vocab.txt",
            TextTokenizer::from_files(None, Some(&vocab)).unwrap(),
        ),
    ]
}

#[test]
fn the_eight_tokenizer_cases_match_both_ways() {
    let cases = reference()["tokenizer_cases"].as_array().unwrap().clone();
    assert_eq!(cases.len(), 8);
    for (name, tok) in tokenizers() {
        assert!(tok.is_wordpiece(), "{name}");
        for case in &cases {
            let text = case["text"].as_str().unwrap();
            let ids = tok.encode(text).unwrap();
            assert_eq!(ids, ids_of(&case["ids"]), "{name}: ids of {text:?}");
            let spaced = tok.decode_spaced(&ids).unwrap();
            assert_eq!(
                spaced,
                case["decoded"].as_str().unwrap(),
                "{name}: {text:?}"
            );
        }
        // Poems are shown without the spaces between characters.
        let ids = tok.encode("床前明月光，疑是地上霜。").unwrap();
        assert_eq!(tok.decode(&ids).unwrap(), "床前明月光，疑是地上霜。");
    }
}

#[test]
fn prompt_ids_keep_cls_and_logits_match() {
    let tensors = load_tensors("gpt2-chinese-tiny/reference.safetensors");
    let model = Gpt2::from_file(
        &fixture("gpt2-chinese-tiny/model.safetensors"),
        &config(),
        &Device::Cpu,
    )
    .unwrap();
    for (name, tok) in tokenizers() {
        for prompt in reference()["prompts"].as_array().unwrap() {
            let ids = tok.encode(prompt["text"].as_str().unwrap()).unwrap();
            assert_eq!(ids, ids_of(&prompt["ids"]), "{name}: {}", prompt["text"]);
            let input = Tensor::new(ids.as_slice(), &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let logits = model.forward(&input, &mut model.new_cache()).unwrap();
            let want = &tensors[prompt["logits_key"].as_str().unwrap()];
            let d = max_abs_diff(&logits.squeeze(0).unwrap(), want);
            assert!(
                d <= 1e-4,
                "{name}: logits of {} differ by {d}",
                prompt["text"]
            );
        }
    }
}

/// The hub's layout: `pytorch_model.bin` (with the tied `lm_head.weight` transformers saves)
/// and `vocab.txt`, read through the tensors-only pickle walk, gives the same logits.
#[test]
fn pytorch_model_bin_and_vocab_txt_load_the_same_model() {
    let tensors = load_tensors("gpt2-chinese-tiny/reference.safetensors");
    let cfg = config();
    let model = Gpt2::from_file(
        &fixture("gpt2-chinese-bin/pytorch_model.bin"),
        &cfg,
        &Device::Cpu,
    )
    .unwrap();
    let prompt = &reference()["prompts"][1];
    let ids = ids_of(&prompt["ids"]);
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let logits = model.forward(&input, &mut model.new_cache()).unwrap();
    let d = max_abs_diff(&logits.squeeze(0).unwrap(), &tensors["logits.p1"]);
    assert!(d <= 1e-4, "logits from the .bin differ by {d}");
    // Its causal mask is stored as bools, which candle cannot read: left out, not refused;
    // the tied head and `_metadata` are read past too.
    let header = storybook_studio::ml::weights::tensor_file::header(&fixture(
        "gpt2-chinese-bin/pytorch_model.bin",
    ))
    .unwrap();
    assert!(!header.tensors.contains_key("transformer.h.0.attn.bias"));
    assert!(header.tensors.contains_key("lm_head.weight"));
    assert!(header
        .tensors
        .contains_key("transformer.h.0.attn.c_attn.weight"));
}

fn story(args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .args(args)
        .current_dir(dir.path())
        .env("HF_HOME", dir.path().join("hf-home"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("STORYBOOK_MODELS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `story "[CLS]梅 山 如 积 翠 ，" --gpt2 DIR` writes the oracle's greedy and penalised ids, for
/// both folder layouts, with `[CLS]` kept in `prompt_token_ids`.
#[test]
fn story_command_writes_the_oracles_continuations() {
    for dir in ["gpt2-chinese-tiny", "gpt2-chinese-bin"] {
        let gpt2 = fixture(dir);
        for prompt in reference()["prompts"].as_array().unwrap() {
            for (penalty, key) in [("1.0", "greedy_new_ids"), ("1.3", "greedy_rp1.3_new_ids")] {
                let doc = story(&[
                    "story",
                    prompt["text"].as_str().unwrap(),
                    "--gpt2",
                    gpt2.to_str().unwrap(),
                    "--temperature",
                    "0",
                    "--repetition-penalty",
                    penalty,
                    "--max-tokens",
                    "24",
                    "--num-sequences",
                    "1",
                    "--no-trim",
                    "--ignore-eos",
                    "--offline",
                    "--json",
                ]);
                assert_eq!(ids_of(&doc["prompt_token_ids"]), ids_of(&prompt["ids"]));
                let got = ids_of(&doc["sequences"][0]["generated_token_ids"]);
                assert_eq!(got, ids_of(&prompt[key]), "{dir} {key}: {}", prompt["text"]);
                let text = doc["sequences"][0]["text"].as_str().unwrap();
                assert!(!text.contains("[CLS]"), "{text}");
            }
        }
    }
}

/// The real uer/gpt2-chinese-poem: GPT-2 base with 21128 tokens.
#[test]
fn key_set_equals_the_real_checkpoints_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        r#"{"vocab_size": 21128, "n_positions": 1024, "n_embd": 768, "n_layer": 12,
            "n_head": 12, "activation_function": "gelu_new"}"#,
    )
    .unwrap();
    let cfg = Config::from_file(&path).unwrap();
    let manifest = read_json("gpt2-chinese-poem.manifest.json");
    // The tied head is saved by transformers and ignored by the loader, as for English GPT-2.
    let want = manifest_keys(&manifest["tensors"], &["lm_head.weight".to_string()]);
    assert!(manifest["tensors"].get("lm_head.weight").is_some());
    assert_eq!(expected_keys(&cfg, KeyLayout::SavePretrained), want);
}
