//! Image to words on the tiny CLIP: lexicon ranking against a brute-force cosine ranking, the
//! label-embedding cache (hit, partial recompute, damaged file), and prompt/poem output shape.

mod common;

use std::ops::ControlFlow;

use candle_core::Device;
use common::fixture;
use storybook_studio::ml::image_io::load_rgb;
use storybook_studio::ml::models::clip::tokenize::ClipTokenizer;
use storybook_studio::ml::models::clip::{normalize, Clip};
use storybook_studio::ml::words::interrogate::{image_to_prompt, PromptMode};
use storybook_studio::ml::words::label_cache::{embed_texts, LabelCache};
use storybook_studio::ml::words::lexicon::Lexicon;
use storybook_studio::ml::words::poem::{image_to_poem, PoemOptions};
use storybook_studio::ml::words::rank::{image_embedding, rank};
use storybook_studio::ml::words::Labels;

fn tiny_clip() -> (Clip, ClipTokenizer) {
    let files = storybook_studio::ml::weights::from_folder(
        storybook_studio::ml::weights::ModelKind::Clip,
        &fixture("clip-tiny"),
        storybook_studio::ml::weights::Origin::Explicit,
    )
    .unwrap();
    storybook_studio::ml::models::load::clip(&files, &Device::Cpu).unwrap()
}

fn circle() -> Vec<f32> {
    let (clip, _) = tiny_clip();
    let img = load_rgb(&fixture("clip-tiny/images/circle_256x256.png")).unwrap();
    image_embedding(&clip, &img).unwrap()
}

/// Each term alone, padded to CLIP's full 77-token context, cosine in f64.
fn brute_force(clip: &Clip, tok: &ClipTokenizer, terms: &[String], image: &[f32]) -> Vec<f64> {
    terms
        .iter()
        .map(|t| {
            let ids = tok.batch(&[t.as_str()], &Device::Cpu).unwrap();
            let e: Vec<f32> = clip
                .text_embeds(&ids)
                .unwrap()
                .squeeze(0)
                .unwrap()
                .to_vec1()
                .unwrap();
            let dot: f64 = e
                .iter()
                .zip(image)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            let norm: f64 = e.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
            dot / norm
        })
        .collect()
}

#[test]
fn lexicon_ranking_equals_a_brute_force_cosine_ranking() {
    let (clip, tok) = tiny_clip();
    let image = circle();
    for name in ["moods", "mediums", "styles"] {
        let lexicon = Lexicon::builtin(name).unwrap();
        let (labels, _) = Labels::load(
            &LabelCache::in_memory(),
            "tiny",
            std::slice::from_ref(&lexicon),
            &clip,
            &tok,
        )
        .unwrap();
        let ours = rank(labels.get(name).unwrap(), &image);
        let truth = brute_force(&clip, &tok, &lexicon.terms, &image);
        let mut order: Vec<usize> = (0..truth.len()).collect();
        order.sort_by(|&a, &b| truth[b].total_cmp(&truth[a]));
        assert_eq!(ours.len(), lexicon.terms.len());
        for (k, r) in ours.iter().enumerate() {
            let i = lexicon.terms.iter().position(|t| *t == r.term).unwrap();
            assert!(
                (r.score as f64 - truth[i]).abs() < 1e-5,
                "{name}/{}: {} vs {}",
                r.term,
                r.score,
                truth[i]
            );
            // Same order, except between scores closer than float noise.
            let expected = &lexicon.terms[order[k]];
            if *expected != r.term {
                assert!(
                    (truth[order[k]] - truth[i]).abs() < 1e-6,
                    "{name}: rank {k} is {} not {expected}",
                    r.term
                );
            }
        }
    }
}

#[test]
fn tight_padding_gives_the_same_embeddings_as_full_context() {
    let (clip, tok) = tiny_clip();
    let texts = [
        "a fox",
        "a very long description of a quiet harbour at dawn with boats",
        "owl",
    ];
    let tight = embed_texts(&clip, &tok, &texts).unwrap();
    let full = normalize(
        &clip
            .text_embeds(&tok.batch(&texts, &Device::Cpu).unwrap())
            .unwrap(),
    )
    .unwrap()
    .to_vec2::<f32>()
    .unwrap();
    for (a, b) in tight.iter().zip(&full) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }
}

#[test]
fn the_cache_is_hit_on_the_second_run_and_an_edit_recomputes_only_new_terms() {
    let (clip, tok) = tiny_clip();
    let dir = tempfile::tempdir().unwrap();
    let cache = LabelCache::at(dir.path());
    let lexicon = Lexicon::builtin("moods").unwrap();
    let n = lexicon.terms.len();

    let (first, r1) = cache.load("model-a", &lexicon, &clip, &tok).unwrap();
    assert_eq!((r1.computed, r1.reused), (n, 0));
    let (second, r2) = cache.load("model-a", &lexicon, &clip, &tok).unwrap();
    assert_eq!((r2.computed, r2.reused), (0, n));
    assert_eq!(first.data, second.data);

    // Another model never sees this model's embeddings.
    let (_, other) = cache.load("model-b", &lexicon, &clip, &tok).unwrap();
    assert_eq!(other.computed, n);

    let mut edited = lexicon.clone();
    edited.terms[0] = "moonstruck and wistful".into();
    edited.terms.push("quietly triumphant".into());
    let (third, r3) = cache.load("model-a", &edited, &clip, &tok).unwrap();
    assert_eq!((r3.computed, r3.reused), (2, n - 1));
    assert_eq!(third.terms.len(), n + 1);
    assert_eq!(third.row(1), first.row(1));
    let fresh = embed_texts(&clip, &tok, &["moonstruck and wistful"]).unwrap();
    assert_eq!(third.row(0), fresh[0].as_slice());

    // A damaged cache file is a miss, not an error.
    let file = dir.path().join("model-a").join("moods.safetensors");
    std::fs::write(&file, b"not a safetensors file").unwrap();
    let (_, r4) = cache.load("model-a", &edited, &clip, &tok).unwrap();
    assert_eq!(r4.computed, n + 1);
    let (_, r5) = cache.load("model-a", &edited, &clip, &tok).unwrap();
    assert_eq!(r5.computed, 0);
}

#[test]
fn lexicon_files_parse_without_comments_blanks_or_repeats() {
    let lex = Lexicon::parse("x", "# header\n\nfox\n  Fox \nowl\n");
    assert_eq!(lex.terms, vec!["fox", "owl"]);
    for l in Lexicon::all_builtin() {
        assert!(
            l.terms.len() >= 60,
            "{} has {} terms",
            l.name,
            l.terms.len()
        );
        assert!(l
            .terms
            .iter()
            .all(|t| !t.contains(',') && !t.starts_with('#')));
    }
    assert!(Lexicon::builtin("imagery").unwrap().terms.len() >= 300);
}

fn labels(clip: &Clip, tok: &ClipTokenizer) -> Labels {
    Labels::load(
        &LabelCache::in_memory(),
        "tiny",
        &Lexicon::all_builtin(),
        clip,
        tok,
    )
    .unwrap()
    .0
}

#[test]
fn every_prompt_mode_gives_a_prompt_with_sorted_scores() {
    let (clip, tok) = tiny_clip();
    let labels = labels(&clip, &tok);
    let image = circle();
    for mode in [PromptMode::Fast, PromptMode::Best, PromptMode::Negative] {
        let r = image_to_prompt(&clip, &tok, &labels, &image, mode, 4, None).unwrap();
        assert!(!r.prompt.trim().is_empty(), "{mode:?}");
        assert!(tok.token_count(&r.prompt).unwrap() <= 77);
        assert!(r.similarity.is_finite() && r.similarity.abs() <= 1.0 + 1e-5);
        assert_eq!(r.terms.len(), 7);
        for (name, terms) in &r.terms {
            assert_eq!(terms.len(), 4, "{name}");
            assert!(terms.iter().all(|t| !t.term.is_empty()));
            let sorted_desc = terms.windows(2).all(|w| w[0].score >= w[1].score);
            let sorted_asc = terms.windows(2).all(|w| w[0].score <= w[1].score);
            match mode {
                PromptMode::Negative => assert!(sorted_asc, "{name}"),
                _ => assert!(sorted_desc, "{name}"),
            }
        }
        match mode {
            PromptMode::Fast => {
                let best_medium = &r.terms["mediums"][0].term;
                assert!(r.prompt.contains(best_medium.as_str()), "{}", r.prompt);
            }
            PromptMode::Negative => {
                let worst_style = &r.terms["styles"][0].term;
                assert!(r.prompt.contains(worst_style.as_str()), "{}", r.prompt);
            }
            PromptMode::Best => {}
        }
    }
    // Chaining only keeps a term when it raises the similarity, so it never ends below its start.
    let fast = image_to_prompt(
        &clip,
        &tok,
        &labels,
        &image,
        PromptMode::Fast,
        4,
        Some("a circle"),
    )
    .unwrap();
    let best = image_to_prompt(
        &clip,
        &tok,
        &labels,
        &image,
        PromptMode::Best,
        4,
        Some("a circle"),
    )
    .unwrap();
    assert!(fast.prompt.starts_with("a circle, "));
    let start = embed_texts(&clip, &tok, &["a circle"]).unwrap();
    let start_score: f32 = start[0].iter().zip(&image).map(|(a, b)| a * b).sum();
    assert!(
        best.similarity >= start_score - 1e-5,
        "{} < {start_score}",
        best.similarity
    );
}

#[test]
fn a_poem_has_the_asked_lines_and_candidates_ranked_by_clip() {
    let (clip, tok) = tiny_clip();
    let labels = labels(&clip, &tok);
    let image = circle();
    let files = storybook_studio::ml::weights::from_folder(
        storybook_studio::ml::weights::ModelKind::Gpt2,
        &fixture("gpt2-tiny"),
        storybook_studio::ml::weights::Origin::Explicit,
    )
    .unwrap();
    let (gpt2, gtok) = storybook_studio::ml::models::load::gpt2(&files, &Device::Cpu).unwrap();
    let opts = PoemOptions {
        lines: 3,
        candidates: 3,
        seed: 7,
        temperature: 0.9,
    };
    let write = |opts: &PoemOptions, streamed: &mut usize| {
        image_to_poem(
            &clip,
            &tok,
            &gpt2,
            &gtok,
            &labels,
            &image,
            None,
            opts,
            |_, _| {
                *streamed += 1;
                ControlFlow::Continue(())
            },
        )
        .unwrap()
    };
    let mut streamed = 0;
    let r = write(&opts, &mut streamed);
    assert!(streamed > 0);
    assert_eq!(r.candidates.len(), 3);
    assert!(r.candidates.windows(2).all(|w| w[0].score >= w[1].score));
    assert_eq!(r.poem, r.candidates[0].poem);
    for c in &r.candidates {
        assert_eq!(c.poem.lines().count(), 3, "{:?}", c.poem);
        assert!(c.poem.lines().all(|l| !l.trim().is_empty()));
    }
    for clue in ["objects", "scene", "mood", "imagery"] {
        assert!(!r.clues[clue].is_empty(), "{clue}");
    }
    assert!(r.prompt.contains(&r.clues["scene"][0].term));
    let again = write(&opts, &mut streamed);
    assert_eq!(again.poem, r.poem, "the same seed gives the same poem");
    // 40 lines do not fit the tiny model's 128-token budget: it writes what fits, not an error
    // about token counts.
    let r = write(&PoemOptions { lines: 40, ..opts }, &mut streamed);
    for c in &r.candidates {
        let n = c.poem.lines().count();
        assert!((10..40).contains(&n), "{n} lines: {:?}", c.poem);
    }
}
