//! Tests of the VQGAN model's loading, kept apart so `mod.rs` stays short.

use super::*;

#[test]
fn a_state_dicts_first_stage_tensors_lose_their_prefix_and_the_rest_is_dropped() {
    let mut cfg = Config::imagenet_f16_16384();
    cfg.ddconfig = DdConfig {
        double_z: false,
        z_channels: 4,
        resolution: 8,
        in_channels: 3,
        out_ch: 3,
        ch: 32,
        ch_mult: vec![1],
        num_res_blocks: 1,
        attn_resolutions: vec![],
    };
    cfg.embed_dim = 4;
    cfg.n_embed = 8;
    cfg.key_prefix = NET2NET_PREFIX.into();
    let zeros = |shape: &[usize]| Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap();
    let expected = expected_keys(&cfg);
    let mut dict: HashMap<String, Tensor> = expected
        .iter()
        .map(|(k, shape)| (format!("{NET2NET_PREFIX}{k}"), zeros(shape)))
        .collect();
    dict.insert("transformer.tok_emb.weight".into(), zeros(&[8, 4]));
    dict.insert(format!("{NET2NET_PREFIX}loss.logvar"), zeros(&[]));
    let out = inference_tensors(Path::new("net2net.ckpt"), dict.clone(), &cfg).unwrap();
    let mut names: Vec<&String> = out.keys().collect();
    names.sort();
    assert_eq!(names, expected.keys().collect::<Vec<_>>());

    // Without the prefix in the config, the same dictionary is the wrong checkpoint.
    cfg.key_prefix.clear();
    let err = inference_tensors(Path::new("net2net.ckpt"), dict, &cfg).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}
