//! GPT-2 against the oracle saved by transformers (`tests/fixtures/gpt2-tiny`): logits in both
//! key layouts, the KV cache, greedy decoding with and without repetition penalty, step by step.

mod common;

use candle_core::{DType, Device, Tensor};
use common::{fixture, ids_of, load_tensors, max_abs_diff, read_json};
use storybook_studio::ml::generate::generate;
use storybook_studio::ml::models::gpt2::tokenizer::TextTokenizer;
use storybook_studio::ml::models::gpt2::{Config, Gpt2};
use storybook_studio::ml::sampling::{apply_repetition_penalty, argmax, SamplingOptions};

const TOL: f32 = 1e-4;

fn config() -> Config {
    Config::from_file(&fixture("gpt2-tiny/config.json")).unwrap()
}

fn model(file: &str) -> Gpt2 {
    Gpt2::from_file(
        &fixture(&format!("gpt2-tiny/{file}")),
        &config(),
        &Device::Cpu,
    )
    .unwrap()
}

fn tokenizer() -> TextTokenizer {
    TextTokenizer::from_file(&fixture("gpt2-tiny/tokenizer.json")).unwrap()
}

fn prompt_ids(i: usize) -> Vec<u32> {
    ids_of(&read_json("gpt2-tiny/reference.json")["prompts"][i]["input_ids"])
}

fn ids_tensor(ids: &[u32]) -> Tensor {
    Tensor::new(ids, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap()
}

#[test]
fn logits_match_transformers_in_both_key_layouts() {
    let reference = load_tensors("gpt2-tiny/reference.safetensors");
    for file in ["model.safetensors", "hub-layout.safetensors"] {
        let model = model(file);
        for i in 0..3 {
            let ids = prompt_ids(i);
            let logits = model
                .forward(&ids_tensor(&ids), &mut model.new_cache())
                .unwrap()
                .squeeze(0)
                .unwrap();
            let expected = reference[&format!("p{i}.logits")]
                .to_dtype(DType::F32)
                .unwrap();
            let diff = max_abs_diff(&logits, &expected);
            assert!(diff <= TOL, "{file} prompt {i}: max abs diff {diff}");
        }
    }
}

#[test]
fn tokenizer_gives_the_reference_prompt_ids() {
    let json = read_json("gpt2-tiny/reference.json");
    let tok = tokenizer();
    for prompt in json["prompts"].as_array().unwrap() {
        let text = prompt["text"].as_str().unwrap();
        assert_eq!(
            tok.encode(text).unwrap(),
            ids_of(&prompt["input_ids"]),
            "{text:?}"
        );
    }
}

#[test]
fn kv_cache_token_by_token_matches_the_full_pass() {
    let reference = load_tensors("gpt2-tiny/reference.safetensors");
    let model = model("hub-layout.safetensors");
    for i in 0..3 {
        let ids = prompt_ids(i);
        let mut cache = model.new_cache();
        let mut last = None;
        for &id in &ids {
            last = Some(model.forward_last(&ids_tensor(&[id]), &mut cache).unwrap());
        }
        assert_eq!(cache.len(), ids.len());
        let last = last.unwrap().squeeze(0).unwrap();
        let expected = &reference[&format!("p{i}.kv_last_logits")];
        let diff = max_abs_diff(&last, expected);
        assert!(diff <= TOL, "prompt {i}: cached vs reference {diff}");

        let full = model
            .forward(&ids_tensor(&ids), &mut model.new_cache())
            .unwrap()
            .squeeze(0)
            .unwrap();
        let full_last = full.get(ids.len() - 1).unwrap();
        let diff = max_abs_diff(&last, &full_last);
        assert!(diff <= TOL, "prompt {i}: cached vs full pass {diff}");
    }
}

#[test]
fn greedy_ids_and_per_step_logits_match_with_and_without_repetition_penalty() {
    let json = read_json("gpt2-tiny/reference.json");
    let model = model("model.safetensors");
    let tok = tokenizer();
    for (key, penalty) in [
        ("greedy", 1.0f32),
        ("greedy_repetition_penalty_1.3", 1.3),
        ("greedy_repetition_penalty_1.5", 1.5),
    ] {
        for (i, prompt) in json["prompts"].as_array().unwrap().iter().enumerate() {
            let run = &prompt[key];
            let expected = ids_of(&run["new_ids"]);

            // Our generation API, as the CLI calls it.
            let opts = SamplingOptions {
                repetition_penalty: penalty as f64,
                ..SamplingOptions::greedy(expected.len())
            };
            let text = prompt["text"].as_str().unwrap();
            let generation = generate(&model, &tok, text, &opts, |_| {
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
            assert_eq!(
                generation.sequences[0].generated_token_ids, expected,
                "{key}, prompt {i}"
            );

            // The same path step by step, comparing the top-5 penalised logits.
            let mut history = prompt_ids(i);
            let mut cache = model.new_cache();
            let mut input = history.clone();
            for (step, reference) in run["steps"].as_array().unwrap().iter().enumerate() {
                let mut logits = model
                    .forward_last(&ids_tensor(&input), &mut cache)
                    .unwrap()
                    .squeeze(0)
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                apply_repetition_penalty(&mut logits, &history, penalty);
                for (id, want) in ids_of(&reference["top5_ids"])
                    .iter()
                    .zip(reference["top5_logits"].as_array().unwrap())
                {
                    let got = logits[*id as usize];
                    let want = want.as_f64().unwrap() as f32;
                    assert!(
                        (got - want).abs() <= TOL,
                        "{key}, prompt {i}, step {step}: logit of {id} is {got}, reference {want}"
                    );
                }
                let next = argmax(&logits).unwrap();
                assert_eq!(next, expected[step], "{key}, prompt {i}, step {step}");
                history.push(next);
                input = vec![next];
            }
        }
    }
}
