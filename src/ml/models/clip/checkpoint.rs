//! CLIP's checkpoint keys and shapes, named as in the published file, and the check that a
//! safetensors file matches its config before any weight is read.

use std::collections::BTreeMap;
use std::path::Path;

use super::{encoder, Config};
use crate::ml::weights::safetensors_check::{check_keys, read_header};
use crate::ml::Result;

/// Every weight the model reads, with its shape, named as in the published file.
pub fn expected_keys(cfg: &Config) -> BTreeMap<String, Vec<usize>> {
    let (t, v, p) = (&cfg.text_config, &cfg.vision_config, cfg.projection_dim);
    let mut keys = BTreeMap::new();
    keys.insert("logit_scale".to_string(), vec![]);
    keys.insert("text_projection.weight".into(), vec![p, t.hidden_size]);
    let te = "text_model.embeddings";
    keys.insert(
        format!("{te}.token_embedding.weight"),
        vec![t.vocab_size, t.hidden_size],
    );
    keys.insert(
        format!("{te}.position_embedding.weight"),
        vec![t.max_position_embeddings, t.hidden_size],
    );
    for s in ["weight", "bias"] {
        keys.insert(
            format!("text_model.final_layer_norm.{s}"),
            vec![t.hidden_size],
        );
    }
    encoder::expected_keys(
        &mut keys,
        "text_model.encoder",
        t.num_hidden_layers,
        t.hidden_size,
        t.intermediate_size,
    );
    super::vision::expected_keys(&mut keys, v, p);
    keys
}

fn ignorable(name: &str) -> bool {
    name.ends_with("embeddings.position_ids")
}

/// Checks a CLIP checkpoint's keys and shapes against its config.
pub fn check_checkpoint(path: &Path, cfg: &Config) -> Result<()> {
    let header = read_header(path)?;
    check_keys(path, &header, &expected_keys(cfg), ignorable)
}
