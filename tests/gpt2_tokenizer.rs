//! The real GPT-2 tokenizer through the `tokenizers` crate: all 402 oracle cases, both ways.

mod common;

use common::{fixture, ids_of, read_json};
use storybook_studio::ml::models::gpt2::tokenizer::TextTokenizer;

#[test]
fn every_case_encodes_and_decodes_exactly() {
    let tok = TextTokenizer::from_file(&fixture("gpt2-tiny/tokenizer.json")).unwrap();
    let cases = read_json("tokenizers/gpt2/cases.json");
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 402);
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let ids = ids_of(&case["ids"]);
        let got = tok.encode(text).unwrap();
        if got != ids {
            failures.push(format!("encode {text:?}: got {got:?}, want {ids:?}"));
        }
        let decoded = tok.decode(&ids).unwrap();
        if decoded != case["decoded"].as_str().unwrap() {
            failures.push(format!("decode {ids:?}: got {decoded:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
