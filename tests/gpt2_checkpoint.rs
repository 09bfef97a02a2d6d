//! Checkpoint checking: the key set we expect equals the real 124M manifest in both layouts,
//! and a checkpoint that does not fit its config is refused with the first offending key.

mod common;

use std::collections::BTreeMap;

use candle_core::Device;
use common::{fixture, read_json};
use storybook_studio::ml::models::gpt2::{expected_keys, Config, Gpt2, KeyLayout};

fn manifest_layout(name: &str, ignore: &[String]) -> BTreeMap<String, Vec<usize>> {
    common::manifest_keys(&read_json("gpt2-124m.manifest.json")[name], ignore)
}

#[test]
fn expected_keys_equal_the_124m_manifest_in_both_layouts() {
    let manifest = read_json("gpt2-124m.manifest.json");
    let buffers: Vec<String> = manifest["hub_layout_buffers_to_ignore"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let cfg = Config::gpt2_124m();
    assert_eq!(
        expected_keys(&cfg, KeyLayout::SavePretrained),
        manifest_layout("save_pretrained_layout", &[])
    );
    assert_eq!(
        expected_keys(&cfg, KeyLayout::Hub),
        manifest_layout("hub_layout", &buffers)
    );
    assert_eq!(buffers.len(), 12);
}

#[test]
fn a_config_with_the_wrong_width_names_the_first_offending_key() {
    let mut cfg = Config::from_file(&fixture("gpt2-tiny/config.json")).unwrap();
    cfg.n_embd = 32;
    for (file, key) in [
        ("model.safetensors", "transformer.h.0.attn.c_attn.bias"),
        ("hub-layout.safetensors", "h.0.attn.c_attn.bias"),
    ] {
        let err = Gpt2::from_file(&fixture(&format!("gpt2-tiny/{file}")), &cfg, &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("'{key}'")), "{file}: {err}");
        assert!(
            err.contains("[192]") && err.contains("[96]"),
            "{file}: {err}"
        );
    }
}

#[test]
fn a_model_with_fewer_layers_than_the_file_is_refused() {
    let mut cfg = Config::from_file(&fixture("gpt2-tiny/config.json")).unwrap();
    cfg.n_layer = 1;
    let err = Gpt2::from_file(&fixture("gpt2-tiny/model.safetensors"), &cfg, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("'transformer.h.1."), "{err}");
}
