//! The checkpoint's key names in both layouts, and the check that a file fits its config.

use std::collections::BTreeMap;
use std::path::Path;

use super::Config;
use crate::ml::weights::safetensors_check::check_keys;
use crate::ml::weights::tensor_file;
use crate::ml::{Error, Result};

/// Which naming a checkpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLayout {
    /// `openai-community/gpt2`'s published file: `wte.weight`, `h.0.attn.c_attn.weight`, …
    Hub,
    /// transformers' `save_pretrained`: the same names under `transformer.`.
    SavePretrained,
}

impl KeyLayout {
    pub(super) fn prefix(self) -> &'static str {
        match self {
            Self::Hub => "",
            Self::SavePretrained => "transformer.",
        }
    }
}

/// Every weight the model reads, with its shape, in the given layout.
pub fn expected_keys(cfg: &Config, layout: KeyLayout) -> BTreeMap<String, Vec<usize>> {
    let p = layout.prefix();
    let (e, inner) = (cfg.n_embd, cfg.inner_dim());
    let mut keys = BTreeMap::new();
    let mut add = |name: String, shape: Vec<usize>| {
        keys.insert(format!("{p}{name}"), shape);
    };
    add("wte.weight".into(), vec![cfg.vocab_size, e]);
    add("wpe.weight".into(), vec![cfg.n_positions, e]);
    add("ln_f.weight".into(), vec![e]);
    add("ln_f.bias".into(), vec![e]);
    for i in 0..cfg.n_layer {
        let h = format!("h.{i}");
        for ln in ["ln_1", "ln_2"] {
            add(format!("{h}.{ln}.weight"), vec![e]);
            add(format!("{h}.{ln}.bias"), vec![e]);
        }
        for (name, d_in, d_out) in [
            ("attn.c_attn", e, 3 * e),
            ("attn.c_proj", e, e),
            ("mlp.c_fc", e, inner),
            ("mlp.c_proj", inner, e),
        ] {
            add(format!("{h}.{name}.weight"), vec![d_in, d_out]);
            add(format!("{h}.{name}.bias"), vec![d_out]);
        }
    }
    keys
}

/// Buffers and optional tensors that may sit in a GPT-2 checkpoint without being weights we load.
fn ignorable(name: &str) -> bool {
    name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias") || name == "lm_head.weight"
}

/// Checks a checkpoint's keys and shapes against the config and tells which layout it uses.
pub fn check_checkpoint(path: &Path, cfg: &Config) -> Result<KeyLayout> {
    let header = tensor_file::header(path)?;
    let layout = if header.tensors.contains_key("transformer.wte.weight") {
        KeyLayout::SavePretrained
    } else {
        KeyLayout::Hub
    };
    check_keys(path, &header, &expected_keys(cfg, layout), ignorable)?;
    if let Some(head) = header.tensors.get("lm_head.weight") {
        if head.shape != [cfg.vocab_size, cfg.n_embd] {
            return Err(Error::Checkpoint {
                path: path.to_path_buf(),
                reason: format!(
                    "tensor 'lm_head.weight' has shape {:?} but the config expects {:?}",
                    head.shape,
                    [cfg.vocab_size, cfg.n_embd]
                ),
            });
        }
    }
    Ok(layout)
}
