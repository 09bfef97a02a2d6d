//! A tiny random BERT with the real all-MiniLM-L6-v2 tokenizer, written as a hub-style folder.
#![allow(dead_code)]

use std::path::Path;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use storybook_studio::ml::models::minilm::{Config, MiniLm};

use super::fixture;

/// Writes `model.safetensors`, `config.json` and `tokenizer.json` into `dir`.
pub fn write_tiny_minilm(dir: &Path) {
    let cfg = Config::from_file(&fixture("minilm-tiny/config.json")).unwrap();
    let map = VarMap::new();
    let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
    MiniLm::load(vb, &cfg, &fixture("minilm-tiny/tokenizer.json")).unwrap();
    map.save(dir.join("model.safetensors")).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(fixture(&format!("minilm-tiny/{f}")), dir.join(f)).unwrap();
    }
}

/// [`write_tiny_minilm`], then loads it back.
pub fn tiny_minilm(dir: &Path) -> MiniLm {
    write_tiny_minilm(dir);
    let cfg = Config::from_file(&dir.join("config.json")).unwrap();
    MiniLm::from_files(
        &dir.join("model.safetensors"),
        &cfg,
        &dir.join("tokenizer.json"),
        &Device::Cpu,
    )
    .unwrap()
}
