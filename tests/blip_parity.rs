//! BLIP against the oracle saved by transformers (`tests/fixtures/blip-tiny`): pixel values from
//! PNG, the vision tower's last hidden state, the decoder's first-step logits, and greedy
//! captions with and without a prompt; the real checkpoint's key set; damaged inputs.

mod common;

use candle_core::{Device, Tensor};
use common::{
    check_pixel_values, fixture, ids_of, load_tensors, manifest_keys, max_abs_diff,
    oracle_image_files, read_json,
};
use storybook_studio::ml::kernels::force_composed_on_this_thread;
use storybook_studio::ml::models::blip::tokenize::BlipTokenizer;
use storybook_studio::ml::models::blip::{expected_keys, preprocess, Blip, Config};
use storybook_studio::ml::words::caption::{CaptionOptions, Captioner};

fn captioner() -> Captioner {
    let cfg = Config::from_file(&fixture("blip-tiny/config.json")).unwrap();
    let blip = Blip::from_safetensors(&fixture("blip-tiny/model.safetensors"), &cfg, &Device::Cpu)
        .unwrap();
    let tok = BlipTokenizer::from_file(&fixture("blip-tiny/tokenizer.json")).unwrap();
    Captioner::new(blip, tok)
}

#[test]
fn pixel_values_match_blip_image_processor() {
    check_pixel_values("blip-tiny", |img| {
        preprocess(img, 384, &Device::Cpu).unwrap()
    });
}

fn vision_states(c: &Captioner) -> Tensor {
    let reference = load_tensors("blip-tiny/reference.safetensors");
    c.blip.encode_image(&reference["pixel_values"]).unwrap()
}

#[test]
fn vision_states_and_first_logits_match() {
    check_states_and_logits(false);
}

/// The same on the composed candle ops that CUDA and Metal run.
#[test]
fn vision_states_and_first_logits_match_composed() {
    check_states_and_logits(true);
}

fn check_states_and_logits(composed: bool) {
    force_composed_on_this_thread(composed);
    let reference = load_tensors("blip-tiny/reference.safetensors");
    let c = captioner();
    let states = vision_states(&c);
    let diff = max_abs_diff(&states, &reference["vision.last_hidden_state"]);
    assert!(diff <= 1e-4, "vision last hidden state differs by {diff}");
    let cases = &read_json("blip-tiny/reference.json")["generation"]["cases"];
    let mut checked = 0;
    for case in cases.as_array().unwrap() {
        let i = case["image"].as_u64().unwrap() as usize;
        let start = ids_of(&case["decoder_input_ids"]);
        let prompt = case["prompt"].as_str();
        assert_eq!(
            c.start_ids(prompt).unwrap(),
            start,
            "start ids for {prompt:?}"
        );
        let image = states.get(i).unwrap().unsqueeze(0).unwrap();
        let ours = Tensor::new(c.first_logits(&image, &start).unwrap(), &Device::Cpu).unwrap();
        let key = case["first_step_logits_key"].as_str().unwrap();
        let diff = max_abs_diff(&ours, &reference[key]);
        assert!(diff <= 1e-4, "{key}: first-step logits differ by {diff}");
        checked += 1;
    }
    assert_eq!(
        checked, 9,
        "three images, each without a prompt and with two"
    );
    force_composed_on_this_thread(false);
}

#[test]
fn greedy_captions_equal_the_oracle_for_every_image_and_prompt() {
    let c = captioner();
    let states = vision_states(&c);
    let cases = &read_json("blip-tiny/reference.json")["generation"]["cases"];
    for case in cases.as_array().unwrap() {
        let i = case["image"].as_u64().unwrap() as usize;
        let opts = CaptionOptions {
            prompt: case["prompt"].as_str().map(String::from),
            max_tokens: 20,
            beams: 1,
        };
        let image = states.get(i).unwrap().unsqueeze(0).unwrap();
        let got = c.caption_states(&image, &opts).unwrap();
        assert_eq!(
            got.generated_token_ids,
            ids_of(&case["new_ids"]),
            "image {i}, prompt {:?}",
            opts.prompt
        );
        assert_eq!(got.caption, case["caption"].as_str().unwrap());
    }
}

#[test]
fn captions_from_png_equal_those_from_the_oracle_pixels() {
    let c = captioner();
    let opts = CaptionOptions {
        max_tokens: 20,
        ..CaptionOptions::default()
    };
    let cases = &read_json("blip-tiny/reference.json")["generation"]["cases"];
    let file = &oracle_image_files("blip-tiny")[0];
    let img = image::open(fixture(&format!("blip-tiny/{file}")))
        .unwrap()
        .to_rgb8();
    let got = c.caption(&img, &opts).unwrap();
    assert_eq!(got.generated_token_ids, ids_of(&cases[0]["new_ids"]));
    assert!(got.seconds > 0.0);
}

/// No oracle caption reaches `[SEP]` within 20 tokens, so one is made to: with `[SEP]`'s bias
/// raised, decoding stops there, keeps it as the last new id, and leaves it out of the text.
#[test]
fn decoding_stops_at_sep_and_keeps_it_out_of_the_text() {
    let dir = tempfile::tempdir().unwrap();
    copy_tiny(dir.path());
    let weights = dir.path().join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&weights, &Device::Cpu).unwrap();
    let bias = &tensors["text_decoder.cls.predictions.bias"];
    let mut values = bias.to_vec1::<f32>().unwrap();
    let plain = captioner();
    let states = vision_states(&plain).get(1).unwrap().unsqueeze(0).unwrap();
    // Just enough for [SEP] to win after a few tokens, not at once: its logit climbs with the
    // position, so find a bias at which the first step still says something else.
    let first = plain.first_logits(&states, &[30522]).unwrap();
    let top = first.iter().copied().fold(f32::MIN, f32::max);
    values[102] += top - first[102] - 1e-3;
    tensors.insert(
        "text_decoder.cls.predictions.bias".into(),
        Tensor::new(values, &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&tensors, &weights).unwrap();
    let cfg = Config::from_file(&dir.path().join("config.json")).unwrap();
    let blip = Blip::from_safetensors(&weights, &cfg, &Device::Cpu).unwrap();
    let tok = BlipTokenizer::from_file(&dir.path().join("tokenizer.json")).unwrap();
    let c = Captioner::new(blip, tok);
    let opts = CaptionOptions {
        max_tokens: 20,
        ..CaptionOptions::default()
    };
    for beams in [1, 3] {
        let got = c
            .caption_states(
                &states,
                &CaptionOptions {
                    beams,
                    ..opts.clone()
                },
            )
            .unwrap();
        let ids = &got.generated_token_ids;
        assert_eq!(ids.last(), Some(&102), "beams {beams}: {ids:?}");
        assert!(ids.len() < 20, "beams {beams}: {ids:?}");
        assert_eq!(ids.iter().filter(|&&t| t == 102).count(), 1);
        assert!(!got.caption.contains("[SEP]"), "{}", got.caption);
        assert_eq!(got.caption, c.text(&ids[..ids.len() - 1]).unwrap());
    }
}

#[test]
fn beams_search_differently_from_greedy_and_stay_reproducible() {
    let c = captioner();
    let img = image::open(fixture("blip-tiny/images/circle_256x256.png"))
        .unwrap()
        .to_rgb8();
    let opts = |beams| CaptionOptions {
        prompt: Some("a picture of".into()),
        max_tokens: 12,
        beams,
    };
    let greedy = c.caption(&img, &opts(1)).unwrap();
    let beam = c.caption(&img, &opts(3)).unwrap();
    let again = c.caption(&img, &opts(3)).unwrap();
    assert_eq!(beam.generated_token_ids, again.generated_token_ids);
    assert!(beam.caption.starts_with("a picture of"), "{}", beam.caption);
    assert!(!beam.generated_token_ids.is_empty() && beam.generated_token_ids.len() <= 12);
    // Beam search is not greedy: on this picture it settles on another caption.
    assert_ne!(beam.generated_token_ids, greedy.generated_token_ids);
}

#[test]
fn expected_keys_equal_the_large_checkpoint_manifest() {
    let manifest = read_json("blip-image-captioning-large.manifest.json");
    let want = manifest_keys(&manifest["tensors"], &[]);
    let ours = expected_keys(&Config::captioning_large());
    let missing: Vec<_> = want.keys().filter(|k| !ours.contains_key(*k)).collect();
    let extra: Vec<_> = ours.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    assert_eq!(ours, want, "shapes differ");
}

#[test]
fn a_config_without_defaults_reads_as_transformers_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        r#"{"vision_config": {"hidden_size": 1024, "intermediate_size": 4096,
            "num_hidden_layers": 24, "num_attention_heads": 16},
            "text_config": {"num_attention_heads": 12}}"#,
    )
    .unwrap();
    assert_eq!(
        Config::from_file(&path).unwrap(),
        Config::captioning_large()
    );
}

fn copy_tiny(dir: &std::path::Path) {
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture(&format!("blip-tiny/{f}")), dir.join(f)).unwrap();
    }
}

fn load_err(dir: &std::path::Path) -> String {
    let cfg = match Config::from_file(&dir.join("config.json")) {
        Ok(cfg) => cfg,
        Err(e) => return e.to_string(),
    };
    match Blip::from_safetensors(&dir.join("model.safetensors"), &cfg, &Device::Cpu) {
        Ok(_) => panic!("a damaged BLIP folder loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_truncated_checkpoint_is_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    copy_tiny(dir.path());
    let weights = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("model.safetensors") && err.contains("bytes"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn a_config_of_the_wrong_width_is_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    copy_tiny(dir.path());
    let path = dir.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cfg["text_config"]["hidden_size"] = 64.into();
    std::fs::write(&path, cfg.to_string()).unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("shape") && err.contains("[32]") || err.contains("64"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
    // A width the heads cannot divide is refused from the config alone.
    cfg["text_config"]["hidden_size"] = 30.into();
    std::fs::write(&path, cfg.to_string()).unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("not a multiple of num_attention_heads"),
        "{err}"
    );
}

#[test]
fn a_one_pixel_image_is_captioned_and_bad_options_are_sentences() {
    let c = captioner();
    let img = image::RgbImage::from_pixel(1, 1, image::Rgb([200, 30, 30]));
    let got = c
        .caption(
            &img,
            &CaptionOptions {
                max_tokens: 5,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(!got.generated_token_ids.is_empty());
    for (max_tokens, beams, words) in [(0, 1, "new tokens"), (5, 0, "beams"), (5, 99, "beams")] {
        let opts = CaptionOptions {
            prompt: None,
            max_tokens,
            beams,
        };
        let err = c.caption(&img, &opts).unwrap_err().to_string();
        assert!(err.contains(words), "{err}");
    }
    let long = CaptionOptions {
        prompt: Some("word ".repeat(600)),
        ..Default::default()
    };
    let err = c.caption(&img, &long).unwrap_err().to_string();
    assert!(err.contains("prompt") && err.contains("512"), "{err}");
}

/// The published file stores the head's tied copies (`cls.predictions.decoder.weight` and
/// `.bias`); transformers 5 leaves them out. With a tying config (the default) the copy is
/// ignored, as transformers ignores it; an untying config uses it.
#[test]
fn the_heads_stored_copy_is_used_only_when_the_config_unties_it() {
    let dir = tempfile::tempdir().unwrap();
    copy_tiny(dir.path());
    let weights = dir.path().join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&weights, &Device::Cpu).unwrap();
    // A copy that differs from the word embeddings, so using it shows.
    let words = tensors["text_decoder.bert.embeddings.word_embeddings.weight"].clone();
    let bias = tensors["text_decoder.cls.predictions.bias"].clone();
    tensors.insert(
        "text_decoder.cls.predictions.decoder.weight".into(),
        (words * 0.5).unwrap(),
    );
    tensors.insert("text_decoder.cls.predictions.decoder.bias".into(), bias);
    candle_core::safetensors::save(&tensors, &weights).unwrap();
    let plain = captioner();
    let states = vision_states(&plain).get(0).unwrap().unsqueeze(0).unwrap();
    let start = plain.start_ids(Some("a picture of")).unwrap();
    let logits = |cfg: &Config| {
        let blip = Blip::from_safetensors(&weights, cfg, &Device::Cpu).unwrap();
        let tok = BlipTokenizer::from_file(&dir.path().join("tokenizer.json")).unwrap();
        let c = Captioner::new(blip, tok);
        Tensor::new(c.first_logits(&states, &start).unwrap(), &Device::Cpu).unwrap()
    };
    let want = Tensor::new(plain.first_logits(&states, &start).unwrap(), &Device::Cpu).unwrap();
    let mut cfg = Config::from_file(&dir.path().join("config.json")).unwrap();
    assert!(cfg.tied_head());
    assert_eq!(max_abs_diff(&logits(&cfg), &want), 0.0);
    cfg.tie_word_embeddings = false;
    cfg.text_config.tie_word_embeddings = None;
    assert!(
        max_abs_diff(&logits(&cfg), &want) > 1e-3,
        "the untied copy was not used"
    );
    // Untied, the copy is required.
    let dir2 = tempfile::tempdir().unwrap();
    copy_tiny(dir2.path());
    let err = Blip::from_safetensors(&dir2.path().join("model.safetensors"), &cfg, &Device::Cpu)
        .expect_err("an untied head without its matrix is refused")
        .to_string();
    assert!(err.contains("cls.predictions.decoder.weight"), "{err}");
}
