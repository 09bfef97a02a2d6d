//! Sampling on the tiny GPT-2: seeds reproduce, banned words never appear, streaming adds up,
//! long prompts are cut from the left with a warning.

mod common;

use std::collections::HashMap;
use std::ops::ControlFlow;

use candle_core::Device;
use common::fixture;
use storybook_studio::ml::generate::{generate, generate_until, Generation};
use storybook_studio::ml::models::gpt2::tokenizer::TextTokenizer;
use storybook_studio::ml::models::gpt2::{Config, Gpt2};
use storybook_studio::ml::sampling::SamplingOptions;

fn setup() -> (Gpt2, TextTokenizer) {
    let cfg = Config::from_file(&fixture("gpt2-tiny/config.json")).unwrap();
    let model =
        Gpt2::from_file(&fixture("gpt2-tiny/model.safetensors"), &cfg, &Device::Cpu).unwrap();
    let tok = TextTokenizer::from_file(&fixture("gpt2-tiny/tokenizer.json")).unwrap();
    (model, tok)
}

fn sampled(seed: u64) -> SamplingOptions {
    SamplingOptions {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        repetition_penalty: 1.0,
        min_new_tokens: 0,
        max_new_tokens: 30,
        num_sequences: 3,
        seed,
        trim_to_sentence: false,
        ..SamplingOptions::default()
    }
}

fn run(model: &Gpt2, tok: &TextTokenizer, prompt: &str, opts: &SamplingOptions) -> Generation {
    generate(model, tok, prompt, opts, |_| ControlFlow::Continue(())).unwrap()
}

fn texts(g: &Generation) -> Vec<String> {
    g.sequences.iter().map(|s| s.text.clone()).collect()
}

#[test]
fn the_same_seed_gives_the_same_text_and_another_seed_does_not() {
    let (model, tok) = setup();
    let a = run(&model, &tok, "Once upon a time", &sampled(7));
    let b = run(&model, &tok, "Once upon a time", &sampled(7));
    let c = run(&model, &tok, "Once upon a time", &sampled(8));
    assert_eq!(texts(&a), texts(&b));
    assert_ne!(texts(&a), texts(&c));
    // The sequences of one run differ from each other too.
    assert_ne!(
        a.sequences[0].generated_token_ids,
        a.sequences[1].generated_token_ids
    );
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 3)
        .map(str::to_lowercase)
        .collect()
}

#[test]
fn banned_words_never_appear_in_50_sampled_sequences() {
    let (model, tok) = setup();
    let prompt = "The dragon slept under the old bridge.";
    let mut opts = sampled(11);
    opts.num_sequences = 50;
    // Top-k concentrates this random model on a few dozen tokens, so words repeat.
    opts.top_k = 10;
    opts.max_new_tokens = 40;

    // Ban the two words this model writes most often without a ban, so the test bites.
    let free = run(&model, &tok, prompt, &opts);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for seq in &free.sequences {
        for w in words(&seq.text[prompt.len()..]) {
            *counts.entry(w).or_default() += 1;
        }
    }
    let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let banned: Vec<String> = ranked.iter().take(2).map(|(w, _)| w.clone()).collect();
    assert!(
        ranked[1].1 >= 5,
        "the unbanned run should use its top words often: {:?}",
        &ranked[..ranked.len().min(10)]
    );

    opts.banned_words = banned.clone();
    let held = run(&model, &tok, prompt, &opts);
    assert_eq!(held.sequences.len(), 50);
    for seq in &held.sequences {
        let continuation = &seq.text[prompt.len()..];
        for w in words(continuation) {
            for b in &banned {
                assert!(
                    w != *b && w != format!("{b}s"),
                    "banned word {b:?} appeared in {continuation:?}"
                );
            }
        }
    }
}

#[test]
fn streamed_pieces_add_up_to_the_untrimmed_text() {
    let (model, tok) = setup();
    let opts = SamplingOptions {
        num_sequences: 2,
        ..sampled(3)
    };
    let mut streamed = vec![String::new(); 2];
    let mut count = 0;
    let g = generate(&model, &tok, "Hello", &opts, |t| {
        streamed[t.sequence].push_str(t.text);
        count += 1;
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(count > 0);
    for (seq, text) in g.sequences.iter().zip(&streamed) {
        assert_eq!(seq.text, format!("Hello{text}"));
    }
}

#[test]
fn breaking_the_stream_cancels() {
    let (model, tok) = setup();
    let err = generate(&model, &tok, "Hello", &sampled(1), |_| {
        ControlFlow::Break(())
    })
    .unwrap_err();
    assert!(err.to_string().contains("cancelled"));
}

#[test]
fn min_and_max_tokens_bound_every_sequence() {
    let (model, tok) = setup();
    let opts = SamplingOptions {
        min_new_tokens: 12,
        max_new_tokens: 12,
        ..sampled(5)
    };
    let g = run(&model, &tok, "Hello", &opts);
    for seq in &g.sequences {
        assert_eq!(seq.generated_token_ids.len(), 12);
        assert!(!seq.generated_token_ids.contains(&50256));
    }
}

#[test]
fn a_sequence_ends_once_it_has_enough_with_the_same_draws() {
    let (model, tok) = setup();
    let opts = SamplingOptions {
        stop_at_eos: false,
        ..sampled(5)
    };
    let whole = run(&model, &tok, "Hello", &opts);
    let enough = |text: &str| text.chars().count() >= 40;
    let until = generate_until(&model, &tok, "Hello", &opts, enough, |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    for (short, long) in until.sequences.iter().zip(&whole.sequences) {
        let ids = &short.generated_token_ids;
        assert!(long.generated_token_ids.starts_with(ids));
        // It ended at the first token that made the text long enough, and not before.
        assert!(enough(&tok.decode(ids).unwrap()), "{:?}", short.text);
        assert!(!enough(&tok.decode(&ids[..ids.len() - 1]).unwrap()));
        assert!(ids.len() < long.generated_token_ids.len());
    }
}

#[test]
fn a_prompt_longer_than_the_window_keeps_its_end_with_a_warning() {
    let (model, tok) = setup();
    let long = "The wind blew over the hills and far away. ".repeat(40);
    let opts = SamplingOptions {
        max_new_tokens: 16,
        ..sampled(2)
    };
    let g = run(&model, &tok, &long, &opts);
    assert_eq!(g.prompt_token_ids.len(), 256 - 16);
    let all = tok.encode(&long).unwrap();
    assert_eq!(g.prompt_token_ids[..], all[all.len() - 240..]);
    assert!(g.warnings[0].contains("last 240"), "{:?}", g.warnings);
}

#[test]
fn empty_prompts_and_impossible_windows_are_refused() {
    let (model, tok) = setup();
    let err = generate(&model, &tok, "   ", &sampled(1), |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err();
    assert!(err.to_string().contains("prompt is empty"));
    let opts = SamplingOptions {
        max_new_tokens: 300,
        ..sampled(1)
    };
    let err = generate(&model, &tok, "Hi", &opts, |_| ControlFlow::Continue(())).unwrap_err();
    assert!(
        err.to_string().contains("256-token") || err.to_string().contains("window"),
        "{err}"
    );
}

#[test]
fn trimming_cuts_after_the_last_full_sentence() {
    let (model, tok) = setup();
    let prompt = "It was late.";
    let mut opts = SamplingOptions {
        // Random weights rarely write ". X"; this many tokens give several sentence ends.
        max_new_tokens: 200,
        num_sequences: 16,
        trim_to_sentence: false,
        ..sampled(1)
    };
    let raw = run(&model, &tok, prompt, &opts);
    opts.trim_to_sentence = true;
    let trimmed = run(&model, &tok, prompt, &opts);
    let mut cut = 0;
    for (r, t) in raw.sequences.iter().zip(&trimmed.sequences) {
        assert_eq!(
            r.generated_token_ids, t.generated_token_ids,
            "trimming is after sampling"
        );
        assert!(
            r.text.starts_with(&t.text),
            "{:?} is not a prefix of {:?}",
            t.text,
            r.text
        );
        assert!(t.text.len() >= prompt.len());
        if t.text != r.text {
            cut += 1;
            let last = t.text.chars().last().unwrap();
            // Chinese and Japanese end marks (and their closing quotes) end sentences too.
            assert!(
                ".!?…\"'”’)]。｡！？．‼⁇⁈⁉」』）］】〕〉》〟＂＇".contains(last),
                "{:?} does not end a sentence",
                t.text
            );
        }
        assert!(!t.sentences.is_empty());
    }
    assert!(cut > 0, "no sequence had a sentence end to trim to");
}
