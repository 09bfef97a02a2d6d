//! Chinese CLIP against the oracle saved by transformers (`tests/fixtures/chinese-clip-tiny`):
//! WordPiece ids padded to 52, pixel values from PNG, vision states, text and image embeddings,
//! logits per image and the top-5 keywords per image; the real checkpoint's key set.

mod common;

use candle_core::{Device, Tensor};
use common::{
    check_pixel_values, fixture, ids_of, load_tensors, manifest_keys, max_abs_diff, read_json,
};
use storybook_studio::ml::kernels::force_composed_on_this_thread;
use storybook_studio::ml::models::clip::normalize;
use storybook_studio::ml::models::cn_clip::tokenize::{CnClipTokenizer, CONTEXT};
use storybook_studio::ml::models::cn_clip::{expected_keys, preprocess, ChineseClip, Config};

fn model() -> ChineseClip {
    let cfg = Config::from_file(&fixture("chinese-clip-tiny/config.json")).unwrap();
    ChineseClip::from_file(
        &fixture("chinese-clip-tiny/model.safetensors"),
        &cfg,
        &Device::Cpu,
    )
    .unwrap()
}

fn keywords() -> Vec<String> {
    read_json("chinese-clip-tiny/reference.json")["keywords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

/// Both ways a folder may hold the tokenizer: `tokenizer.json`, or the hub's bare `vocab.txt`.
fn tokenizers() -> Vec<(&'static str, CnClipTokenizer)> {
    let json = fixture("chinese-clip-tiny/tokenizer.json");
    let vocab = fixture("chinese-clip-tiny/vocab.txt");
    vec![
        (
            "tokenizer.json",
            CnClipTokenizer::from_files(Some(&json), None).unwrap(),
        ),
        (
            "vocab.txt",
            CnClipTokenizer::from_files(None, Some(&vocab)).unwrap(),
        ),
    ]
}

#[test]
fn keyword_ids_are_the_oracles_padded_to_52() {
    let reference = read_json("chinese-clip-tiny/reference.json");
    let words = keywords();
    let texts: Vec<&str> = words.iter().map(String::as_str).collect();
    for (name, tok) in tokenizers() {
        let (ids, mask) = tok.batch(&texts, &Device::Cpu).unwrap();
        assert_eq!(ids.dims(), [16, CONTEXT]);
        let ids = ids.to_vec2::<u32>().unwrap();
        let mask = mask.to_vec2::<u32>().unwrap();
        for (i, want) in reference["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert_eq!(ids[i], ids_of(want), "{name}: ids of {}", words[i]);
            let real = ids[i].iter().filter(|&&t| t != 0).count();
            assert_eq!(mask[i].iter().sum::<u32>() as usize, real, "{name}");
        }
    }
}

#[test]
fn pixel_values_match_the_processor() {
    check_pixel_values("chinese-clip-tiny", |img| {
        preprocess(img, 224, &Device::Cpu).unwrap()
    });
}

fn check_embeddings_and_logits(composed: bool) {
    force_composed_on_this_thread(composed);
    let reference = load_tensors("chinese-clip-tiny/reference.safetensors");
    let m = model();
    let pixels = &reference["pixel_values"];
    let hidden = m.vision_hidden(&pixels.narrow(0, 0, 1).unwrap()).unwrap();
    let d = max_abs_diff(
        &hidden.squeeze(0).unwrap(),
        &reference["vision.last_hidden_state.i0"],
    );
    assert!(d <= 1e-4, "vision last hidden state differs by {d}");

    let ids = reference["input_ids"]
        .to_dtype(candle_core::DType::U32)
        .unwrap();
    let mask = reference["attention_mask"]
        .to_dtype(candle_core::DType::U32)
        .unwrap();
    let text = m.text_embeds(&ids, &mask).unwrap();
    let d = max_abs_diff(&text, &reference["text_embeds_unnormalized"]);
    assert!(d <= 1e-4, "text embeddings differ by {d}");
    let text = normalize(&text).unwrap();
    let d = max_abs_diff(&text, &reference["text_embeds"]);
    assert!(d <= 1e-4, "normalised text embeddings differ by {d}");

    let image = m.image_embeds(pixels).unwrap();
    let d = max_abs_diff(&image, &reference["image_embeds_unnormalized"]);
    assert!(d <= 1e-4, "image embeddings differ by {d}");
    let image = normalize(&image).unwrap();
    let d = max_abs_diff(&image, &reference["image_embeds"]);
    assert!(d <= 1e-4, "normalised image embeddings differ by {d}");

    let logits = (image.matmul(&text.t().unwrap()).unwrap() * m.logit_scale.exp() as f64).unwrap();
    let d = max_abs_diff(&logits, &reference["logits_per_image"]);
    assert!(d <= 1e-4, "logits per image differ by {d}");
    top5_order_matches(&logits);
}

fn top5_order_matches(logits: &Tensor) {
    let reference = read_json("chinese-clip-tiny/reference.json");
    let want = reference["top5_keyword_indices_per_image"]
        .as_array()
        .unwrap();
    for (i, row) in logits.to_vec2::<f32>().unwrap().iter().enumerate() {
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
        let got: Vec<u32> = order[..5].iter().map(|&k| k as u32).collect();
        assert_eq!(got, ids_of(&want[i]), "top-5 keywords of image {i}");
    }
}

#[test]
fn embeddings_logits_and_top5_match() {
    check_embeddings_and_logits(false);
}

/// The same on the composed candle ops that CUDA and Metal run.
#[test]
fn embeddings_logits_and_top5_match_on_composed_ops() {
    check_embeddings_and_logits(true);
}

/// The hub's layout: `pytorch_model.bin` through the tensors-only pickle walk, and `vocab.txt`.
#[test]
fn pytorch_model_bin_gives_the_same_embeddings() {
    let reference = load_tensors("chinese-clip-tiny/reference.safetensors");
    let cfg = Config::from_file(&fixture("chinese-clip-bin/config.json")).unwrap();
    let m = ChineseClip::from_file(
        &fixture("chinese-clip-bin/pytorch_model.bin"),
        &cfg,
        &Device::Cpu,
    )
    .unwrap();
    let image = normalize(&m.image_embeds(&reference["pixel_values"]).unwrap()).unwrap();
    let d = max_abs_diff(&image, &reference["image_embeds"]);
    assert!(d <= 1e-4, "image embeddings from the .bin differ by {d}");
    let tok =
        CnClipTokenizer::from_files(None, Some(&fixture("chinese-clip-bin/vocab.txt"))).unwrap();
    let words = keywords();
    let texts: Vec<&str> = words.iter().map(String::as_str).collect();
    let (ids, mask) = tok.batch(&texts, &Device::Cpu).unwrap();
    let text = normalize(&m.text_embeds(&ids, &mask).unwrap()).unwrap();
    let d = max_abs_diff(&text, &reference["text_embeds"]);
    assert!(d <= 1e-4, "text embeddings from the .bin differ by {d}");
}

#[test]
fn tokenized_keywords_through_the_model_match_the_oracle_logits() {
    let reference = load_tensors("chinese-clip-tiny/reference.safetensors");
    let m = model();
    let words = keywords();
    let texts: Vec<&str> = words.iter().map(String::as_str).collect();
    for (name, tok) in tokenizers() {
        let (ids, mask) = tok.batch(&texts, &Device::Cpu).unwrap();
        let text = normalize(&m.text_embeds(&ids, &mask).unwrap()).unwrap();
        let d = max_abs_diff(&text, &reference["text_embeds"]);
        assert!(d <= 1e-4, "{name}: text embeddings differ by {d}");
    }
}

/// The real OFA-Sys/chinese-clip-vit-base-patch16 config's values (RoBERTa-wwm-ext-base text
/// tower, ViT-B/16, projection 512), as its config.json states them.
const REAL_CONFIG: &str = r#"{
  "model_type": "chinese_clip", "projection_dim": 512,
  "text_config": {"vocab_size": 21128, "hidden_size": 768, "num_hidden_layers": 12,
    "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512,
    "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12},
  "vision_config": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
    "num_attention_heads": 12, "image_size": 224, "patch_size": 16, "hidden_act": "quick_gelu"}
}"#;

#[test]
fn key_set_equals_the_real_checkpoints_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, REAL_CONFIG).unwrap();
    let cfg = Config::from_file(&path).unwrap();
    let manifest = read_json("chinese-clip-vit-base-patch16.manifest.json");
    let want = manifest_keys(&manifest["tensors"], &[]);
    assert_eq!(expected_keys(&cfg), want);
}

#[test]
fn a_damaged_config_or_checkpoint_is_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("config.json");
    std::fs::write(&bad, r#"{"text_config": {"hidden_act": "swish"}}"#).unwrap();
    let err = Config::from_file(&bad).unwrap_err().to_string();
    assert!(err.contains("hidden_act 'swish'"), "{err}");

    let cfg = Config::from_file(&fixture("chinese-clip-tiny/config.json")).unwrap();
    let bytes = std::fs::read(fixture("chinese-clip-tiny/model.safetensors")).unwrap();
    let cut = dir.path().join("model.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = ChineseClip::from_file(&cut, &cfg, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
}
