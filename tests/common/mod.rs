//! Helpers shared by the integration tests: fixture paths and tensor comparisons.
#![allow(dead_code)]

pub mod cli;
pub mod fuzz;
pub mod hub;
pub mod images;
pub mod minilm;

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{Device, Tensor};

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A folder of `../shared/fixtures` (or `STORYBOOK_SHARED_FIXTURES`) that must hold `file`:
/// the named extra tests in `.ci/run` fail loudly without it instead of skipping.
pub fn shared_fixture(folder: &str, file: &str) -> PathBuf {
    let root = std::env::var_os("STORYBOOK_SHARED_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"));
    let dir = root.join(folder);
    assert!(
        dir.join(file).exists(),
        "{} is not at {}; this test needs ../shared/fixtures",
        file,
        dir.display()
    );
    dir
}

pub fn load_tensors(rel: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture(rel), &Device::Cpu).expect("fixture tensors load")
}

pub fn read_json(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture(rel)).expect("fixture json exists");
    serde_json::from_str(&text).expect("fixture json parses")
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// [`max_abs_diff`] relative to `b`'s largest magnitude.
pub fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
    let scale = b.abs().unwrap().max_all().unwrap();
    max_abs_diff(a, b) / scale.to_scalar::<f32>().unwrap()
}

pub fn ids_of(value: &serde_json::Value) -> Vec<u32> {
    value
        .as_array()
        .expect("an array of ids")
        .iter()
        .map(|v| v.as_u64().expect("an id") as u32)
        .collect()
}

/// A manifest's `name -> shape` object as a sorted map, leaving out `ignore`.
pub fn manifest_keys(
    value: &serde_json::Value,
    ignore: &[String],
) -> std::collections::BTreeMap<String, Vec<usize>> {
    value
        .as_object()
        .expect("a manifest object")
        .iter()
        .filter(|(k, _)| !ignore.contains(k))
        .map(|(k, v)| {
            let shape = v
                .as_array()
                .expect("a shape")
                .iter()
                .map(|d| d.as_u64().expect("a dimension") as usize)
                .collect();
            (k.clone(), shape)
        })
        .collect()
}

/// The image files an oracle folder's `reference.json` lists, in its order.
pub fn oracle_image_files(model: &str) -> Vec<String> {
    read_json(&format!("{model}/reference.json"))["images"]
        .as_array()
        .expect("a list of images")
        .iter()
        .map(|i| i["file"].as_str().expect("a file name").to_string())
        .collect()
}

/// Each of the oracle's images through `preprocess` equals its `pixel_values` row within 1e-5.
pub fn check_pixel_values(model: &str, preprocess: impl Fn(&image::RgbImage) -> Tensor) {
    let reference = load_tensors(&format!("{model}/reference.safetensors"));
    for (i, file) in oracle_image_files(model).iter().enumerate() {
        let img = image::open(fixture(&format!("{model}/{file}")))
            .unwrap()
            .to_rgb8();
        let want = reference["pixel_values"]
            .get(i)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let diff = max_abs_diff(&preprocess(&img), &want);
        assert!(diff <= 1e-5, "{file}: pixel values differ by {diff}");
    }
}
