//! VQGAN against the oracle computed by taming-transformers (`tests/fixtures/vqgan-tiny`):
//! encoder, code indices, decodes and the gradient with respect to z, from both the
//! safetensors copy and the original `.ckpt`; plus key checks against the real f16-16384.

mod common;

use candle_core::{DType, Device, Var};
use common::{fixture, load_tensors, max_abs_diff, read_json};
use storybook_studio::ml::kernels::force_composed_on_this_thread;
use storybook_studio::ml::models::vqgan::{expected_keys, Config, VqModel};

const TOL: f32 = 1e-4;

fn config() -> Config {
    Config::from_yaml_file(&fixture("vqgan-tiny/model.yaml")).unwrap()
}

fn model(file: &str) -> VqModel {
    VqModel::from_file(
        &fixture(&format!("vqgan-tiny/{file}")),
        &config(),
        &Device::Cpu,
    )
    .unwrap()
}

#[test]
fn encoder_codes_and_decodes_match_taming_for_both_file_formats() {
    encoder_codes_and_decodes_match_taming_for_both_file_formats_with(false);
}

/// The same check on the composed candle ops that CUDA and Metal run.
#[test]
fn encoder_codes_and_decodes_match_taming_for_both_file_formats_composed() {
    encoder_codes_and_decodes_match_taming_for_both_file_formats_with(true);
}

fn encoder_codes_and_decodes_match_taming_for_both_file_formats_with(composed: bool) {
    force_composed_on_this_thread(composed);
    let r = load_tensors("vqgan-tiny/reference.safetensors");
    for file in ["model.safetensors", "model.ckpt"] {
        let vq = model(file);
        let enc = vq.encoder_out(&r["x"]).unwrap();
        let d = max_abs_diff(&enc, &r["encoder_out"]);
        assert!(d <= TOL, "{file}: encoder_out {d}");

        let h = vq.encode_unquantized(&r["x"]).unwrap();
        let d = max_abs_diff(&h, &r["quant_conv_out"]);
        assert!(d <= TOL, "{file}: quant_conv_out {d}");

        let idx = vq.code_indices(&h).unwrap().to_dtype(DType::I64).unwrap();
        let want = r["indices"].to_dtype(DType::I64).unwrap();
        assert_eq!(
            idx.flatten_all().unwrap().to_vec1::<i64>().unwrap(),
            want.flatten_all().unwrap().to_vec1::<i64>().unwrap(),
            "{file}: code indices"
        );

        let zq = vq.quantize(&h).unwrap();
        let d = max_abs_diff(&zq, &r["z_q"]);
        assert!(d <= TOL, "{file}: z_q {d}");
        let d = max_abs_diff(&vq.decode(&zq).unwrap(), &r["decode_z_q"]);
        assert!(d <= TOL, "{file}: decode(z_q) {d}");
        let d = max_abs_diff(&vq.decode(&r["z"]).unwrap(), &r["decode_z"]);
        assert!(d <= TOL, "{file}: decode(z) {d}");
    }
}

#[test]
fn gradient_with_respect_to_z_matches_autograd() {
    gradient_with_respect_to_z_matches_autograd_with(false);
}

/// The same check on the composed candle ops that CUDA and Metal run.
#[test]
fn gradient_with_respect_to_z_matches_autograd_composed() {
    gradient_with_respect_to_z_matches_autograd_with(true);
}

fn gradient_with_respect_to_z_matches_autograd_with(composed: bool) {
    force_composed_on_this_thread(composed);
    let r = load_tensors("vqgan-tiny/reference.safetensors");
    let vq = model("model.safetensors");
    let z = Var::from_tensor(&r["z"]).unwrap();
    let loss = (vq.decode(z.as_tensor()).unwrap() * &r["w"])
        .unwrap()
        .sum_all()
        .unwrap();
    let grads = loss.backward().unwrap();
    let grad = grads.get(z.as_tensor()).expect("a gradient reaches z");
    let d = max_abs_diff(grad, &r["grad_z"]);
    let scale = r["grad_z"]
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(d / scale <= TOL, "grad_z relative {}", d / scale);
}

#[test]
fn quantize_passes_the_gradient_straight_through() {
    let r = load_tensors("vqgan-tiny/reference.safetensors");
    let vq = model("model.safetensors");
    let h = Var::from_tensor(&vq.encode_unquantized(&r["x"]).unwrap()).unwrap();
    let loss = (vq.quantize(h.as_tensor()).unwrap() * 3.0)
        .unwrap()
        .sum_all()
        .unwrap();
    let grads = loss.backward().unwrap();
    let g = grads.get(h.as_tensor()).unwrap();
    let ones = (g.ones_like().unwrap() * 3.0).unwrap();
    assert_eq!(max_abs_diff(g, &ones), 0.0);
}

#[test]
fn expected_keys_equal_the_f16_16384_manifest() {
    let manifest = read_json("vqgan-f16-16384.manifest.json");
    let keys = common::manifest_keys(&manifest["keys"], &[]);
    assert_eq!(expected_keys(&Config::imagenet_f16_16384()), keys);
    let tiny = load_tensors("vqgan-tiny/model.safetensors");
    assert_eq!(expected_keys(&config()).len(), tiny.len());
}

/// A Net2NetTransformer YAML (as the COCO, S-FLICKR and FacesHQ checkpoints ship) around the
/// tiny VQGAN's params.
fn net2net_yaml() -> String {
    let tiny = std::fs::read_to_string(fixture("vqgan-tiny/model.yaml")).unwrap();
    let params: String = tiny
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("params:"))
        .skip(1)
        .map(|l| format!("      {l}\n"))
        .collect();
    format!(
        "model:\n  target: taming.models.cond_transformer.Net2NetTransformer\n  params:\n    \
         cond_stage_key: segmentation\n    transformer_config:\n      target: \
         taming.modules.transformer.mingpt.GPT\n      params: {{vocab_size: 64, n_layer: 1}}\n    \
         first_stage_config:\n      target: taming.models.vqgan.VQModel\n      params:\n{params}"
    )
}

#[test]
fn a_net2net_checkpoint_loads_its_first_stage_model_and_ignores_the_transformer() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("model.yaml");
    std::fs::write(&yaml, net2net_yaml()).unwrap();
    let cfg = Config::from_yaml_file(&yaml).unwrap();
    assert_eq!(cfg.key_prefix, "first_stage_model.");
    assert_eq!(
        (cfg.embed_dim, cfg.n_embed),
        (config().embed_dim, config().n_embed)
    );

    let tiny =
        candle_core::safetensors::load(fixture("vqgan-tiny/model.safetensors"), &Device::Cpu)
            .unwrap();
    let mut net: std::collections::HashMap<String, candle_core::Tensor> = tiny
        .into_iter()
        .map(|(k, t)| (format!("first_stage_model.{k}"), t))
        .collect();
    for (name, shape) in [
        ("transformer.tok_emb.weight", vec![64, 8]),
        ("transformer.blocks.0.attn.key.weight", vec![8, 8]),
        ("cond_stage_model.encoder.conv_in.weight", vec![8, 3, 3, 3]),
    ] {
        net.insert(
            name.into(),
            candle_core::Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap(),
        );
    }
    let weights = dir.path().join("model.safetensors");
    candle_core::safetensors::save(&net, &weights).unwrap();
    let vq = VqModel::from_file(&weights, &cfg, &Device::Cpu).unwrap();
    let r = load_tensors("vqgan-tiny/reference.safetensors");
    let d = max_abs_diff(&vq.decode(&r["z"]).unwrap(), &r["decode_z"]);
    assert!(d <= TOL, "decode(z) through the Net2Net layout {d}");

    // A first-stage tensor missing is named with its full key.
    net.remove("first_stage_model.quantize.embedding.weight");
    candle_core::safetensors::save(&net, &weights).unwrap();
    let err = VqModel::from_file(&weights, &cfg, &Device::Cpu)
        .expect_err("a checkpoint without its codebook is refused")
        .to_string();
    assert!(
        err.contains("first_stage_model.quantize.embedding.weight"),
        "{err}"
    );
}

#[test]
fn a_gumbel_vqgan_is_refused_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("openimages.yaml");
    std::fs::write(
        &yaml,
        "model:\n  target: taming.models.vqgan.GumbelVQ\n  params:\n    kl_weight: 1.0e-08\n    \
         embed_dim: 256\n    n_embed: 8192\n    ddconfig: {double_z: false, z_channels: 256, \
         resolution: 256, ch: 128, ch_mult: [1, 1, 2, 4], num_res_blocks: 2, \
         attn_resolutions: [32]}\n",
    )
    .unwrap();
    let err = Config::from_yaml_file(&yaml).unwrap_err().to_string();
    assert!(
        err.contains("Gumbel") && err.contains("openimages.yaml") && !err.contains('\n'),
        "{err}"
    );
}
