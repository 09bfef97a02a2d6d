//! CLIP against the oracle saved by transformers (`tests/fixtures/clip-tiny`): text and image
//! embeddings, preprocessing from PNG, the gradient with respect to pixels, and key checks.

mod common;

use candle_core::{Device, Tensor, Var};
use common::{fixture, load_tensors, max_abs_diff, max_rel, read_json};
use storybook_studio::ml::kernels::force_composed_on_this_thread;
use storybook_studio::ml::models::clip::image::{normalize_to_tensor, preprocess, resize_and_crop};
use storybook_studio::ml::models::clip::tokenize::ClipTokenizer;
use storybook_studio::ml::models::clip::{expected_keys, normalize, Clip, Config};

fn model() -> Clip {
    let cfg = Config::from_file(&fixture("clip-tiny/config.json")).unwrap();
    Clip::from_safetensors(&fixture("clip-tiny/model.safetensors"), &cfg, &Device::Cpu).unwrap()
}

fn prompts() -> Vec<String> {
    read_json("clip-tiny/reference.json")["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

fn input_ids() -> Tensor {
    let tok = ClipTokenizer::from_file(&fixture("clip-tiny/tokenizer.json"), 77).unwrap();
    let prompts = prompts();
    let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
    tok.batch(&refs, &Device::Cpu).unwrap()
}

#[test]
fn tokenizer_pads_like_transformers() {
    let reference = load_tensors("clip-tiny/reference.safetensors");
    let want = reference["input_ids"]
        .to_dtype(candle_core::DType::U32)
        .unwrap();
    assert_eq!(
        input_ids().to_vec2::<u32>().unwrap(),
        want.to_vec2::<u32>().unwrap()
    );
}

#[test]
fn text_and_image_embeddings_match() {
    text_and_image_embeddings_match_with(false);
}

/// The same check on the composed candle ops that CUDA and Metal run.
#[test]
fn text_and_image_embeddings_match_composed() {
    text_and_image_embeddings_match_with(true);
}

fn text_and_image_embeddings_match_with(composed: bool) {
    force_composed_on_this_thread(composed);
    let reference = load_tensors("clip-tiny/reference.safetensors");
    let clip = model();
    let ids = input_ids();

    let hidden = clip
        .text_hidden(&ids.narrow(0, 0, 1).unwrap())
        .unwrap()
        .squeeze(0)
        .unwrap();
    let d = max_abs_diff(
        &hidden,
        &reference["text.last_hidden_state_without_attention_mask.p0"],
    );
    assert!(d <= 1e-4, "text hidden {d}");

    let text = clip.text_embeds(&ids).unwrap();
    let d = max_abs_diff(&text, &reference["text_embeds_unnormalized"]);
    assert!(d <= 1e-4, "text embeds {d}");
    let d = max_abs_diff(&normalize(&text).unwrap(), &reference["text_embeds"]);
    assert!(d <= 1e-5, "normalised text embeds {d}");

    let pixels = &reference["pixel_values"];
    let vis = clip
        .vision_hidden(&pixels.narrow(0, 0, 1).unwrap())
        .unwrap()
        .squeeze(0)
        .unwrap();
    let d = max_abs_diff(&vis, &reference["vision.last_hidden_state.i0"]);
    assert!(d <= 1e-4, "vision hidden {d}");

    let image = clip.image_embeds(pixels).unwrap();
    let d = max_abs_diff(&image, &reference["image_embeds_unnormalized"]);
    assert!(d <= 1e-4, "image embeds {d}");
    let d = max_abs_diff(&normalize(&image).unwrap(), &reference["image_embeds"]);
    assert!(d <= 1e-5, "normalised image embeds {d}");

    let logits = (normalize(&image)
        .unwrap()
        .matmul(&normalize(&text).unwrap().t().unwrap())
        .unwrap()
        * (clip.logit_scale as f64).exp())
    .unwrap();
    let d = max_abs_diff(&logits, &reference["logits_per_image"]);
    assert!(d <= 1e-4, "logits per image {d}");
}

#[test]
fn preprocessing_from_png_matches_pil() {
    let reference = load_tensors("clip-tiny/reference.safetensors");
    let json = read_json("clip-tiny/reference.json");
    let clip = model();
    let mut per_image = Vec::new();
    for (i, img) in json["images"].as_array().unwrap().iter().enumerate() {
        let file = img["file"].as_str().unwrap();
        let rgb = image::open(fixture(&format!("clip-tiny/{file}")))
            .unwrap()
            .to_rgb8();
        let cropped = resize_and_crop(&rgb, 224);
        let want = &reference[&format!("image{i}.resized_cropped_uint8")];
        let want = want.to_dtype(candle_core::DType::F32).unwrap();
        let got = Tensor::from_vec(
            cropped
                .as_raw()
                .iter()
                .map(|&b| b as f32)
                .collect::<Vec<_>>(),
            (224, 224, 3),
            &Device::Cpu,
        )
        .unwrap();
        let d = max_abs_diff(&got, &want);
        assert!(
            d <= 1.0,
            "{file}: resized pixels differ by up to {d} grey levels"
        );

        let pixels = normalize_to_tensor(&cropped, &Device::Cpu).unwrap();
        let want_pixels = reference["pixel_values"].narrow(0, i, 1).unwrap();
        let d = max_abs_diff(&pixels, &want_pixels);
        assert!(d <= 2e-2, "{file}: pixel values {d}");

        let emb = clip
            .image_embeds(&preprocess(&rgb, 224, &Device::Cpu).unwrap())
            .unwrap();
        per_image.push(emb);
    }
    let emb = normalize(&Tensor::cat(&per_image, 0).unwrap()).unwrap();
    let d = max_abs_diff(&emb, &reference["image_embeds"]);
    assert!(d <= 2e-2, "end-to-end embeddings {d}");
}

#[test]
fn gradient_with_respect_to_pixels_matches_autograd() {
    gradient_with_respect_to_pixels_matches_autograd_with(false);
}

/// The same check on the composed candle ops that CUDA and Metal run.
#[test]
fn gradient_with_respect_to_pixels_matches_autograd_composed() {
    gradient_with_respect_to_pixels_matches_autograd_with(true);
}

fn gradient_with_respect_to_pixels_matches_autograd_with(composed: bool) {
    force_composed_on_this_thread(composed);
    let reference = load_tensors("clip-tiny/reference.safetensors");
    let clip = model();
    let pixels = Var::from_tensor(&reference["pixel_values"].narrow(0, 0, 1).unwrap()).unwrap();
    let a = normalize(&clip.image_embeds(pixels.as_tensor()).unwrap()).unwrap();
    let b = normalize(
        &clip
            .text_embeds(&input_ids().narrow(0, 0, 1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let loss = (1.0 - (a * b).unwrap().sum_all().unwrap()).unwrap();
    let loss_value = loss.to_scalar::<f32>().unwrap();
    assert!((loss_value - 1.099_383_6).abs() < 1e-5, "loss {loss_value}");
    let grads = loss.backward().unwrap();
    let grad = grads
        .get(pixels.as_tensor())
        .expect("a gradient reaches the pixels");
    let want = &reference["grad.pixel_values"];
    let d = max_rel(grad, want);
    assert!(d <= 1e-4, "relative max abs diff {d}");
    let dot = (grad * want)
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let norms = grad
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
        .sqrt()
        * want
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
            .sqrt();
    assert!(dot / norms >= 0.999, "cosine {}", dot / norms);
}

#[test]
fn expected_keys_equal_the_vit_b_32_manifest() {
    let manifest = read_json("clip-vit-base-patch32.manifest.json");
    let keys = common::manifest_keys(&manifest["keys"], &[]);
    assert_eq!(expected_keys(&Config::vit_b_32()), keys);
}

#[test]
fn tokenizer_cases_match() {
    let tok = ClipTokenizer::from_file(&fixture("clip-tiny/tokenizer.json"), 77).unwrap();
    let cases = read_json("tokenizers/clip/cases.json");
    for case in cases["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let ids: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(tok.encode_raw(text).unwrap(), ids, "{text:?}");
    }
}
