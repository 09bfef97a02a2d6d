//! The VQGAN decoder with `--precision bf16`: its F(2×2) layers (256 and 512 channels in
//! f16-16384; the tiny oracle model has none, so this builds a decoder of the real widths with
//! random weights) multiply in bf16, and decodes and the gradient with respect to z stay close
//! to f32's. Where no bf16 kernel runs, the switch says no and the decoder stays f32.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
use storybook_studio::bench::random_weights;
use storybook_studio::ml::models::vqgan::{expected_keys, Config, DdConfig, VqModel};

/// f16-16384's channel widths (128, 256, 512) at one resnet block a level and a small picture.
fn config() -> Config {
    let mut cfg = Config::imagenet_f16_16384();
    cfg.ddconfig = DdConfig {
        double_z: false,
        z_channels: 256,
        resolution: 32,
        in_channels: 3,
        out_ch: 3,
        ch: 128,
        ch_mult: vec![1, 2, 4],
        num_res_blocks: 1,
        attn_resolutions: vec![8],
    };
    cfg
}

fn model(cfg: &Config) -> VqModel {
    let weights = random_weights(&expected_keys(cfg), 7, &Device::Cpu).unwrap();
    let mut vq = VqModel::load(
        VarBuilder::from_tensors(weights, DType::F32, &Device::Cpu),
        cfg,
    )
    .unwrap();
    vq.free_encoder();
    vq
}

/// The decode of `z` and the gradient of `Σ image · r` with respect to `z`.
fn decode_and_grad(vq: &VqModel, z: &Tensor, r: &Tensor) -> (Vec<f32>, Vec<f32>) {
    let z = Var::from_tensor(z).unwrap();
    let image = vq.decode(z.as_tensor()).unwrap();
    let grads = (&image * r).unwrap().sum_all().unwrap().backward().unwrap();
    let grad = grads.get(z.as_tensor()).unwrap();
    let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    (flat(&image), flat(grad))
}

/// Largest difference relative to the largest value of `want`.
fn relative(want: &[f32], got: &[f32]) -> f32 {
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let err = want
        .iter()
        .zip(got)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    err / scale
}

#[test]
fn a_bf16_decoder_stays_near_f32_and_repeats_itself() {
    let cfg = config();
    let f32_vq = model(&cfg);
    let mut vq = model(&cfg);
    let z = Tensor::randn(0f32, 1.0, (1, 256, 8, 8), &Device::Cpu).unwrap();
    let r = Tensor::randn(0f32, 1.0, (1, 3, 32, 32), &Device::Cpu).unwrap();
    let (want_image, want_grad) = decode_and_grad(&f32_vq, &z, &r);
    let bf16 = storybook_studio::ml::kernels::bf16_gemm::available();
    assert_eq!(vq.decoder_to_bf16().unwrap(), bf16);
    assert_eq!(vq.decoder_is_bf16(), bf16);
    let (image, grad) = decode_and_grad(&vq, &z, &r);
    if !bf16 {
        assert_eq!((&image, &grad), (&want_image, &want_grad));
        return;
    }
    assert_ne!(image, want_image, "bf16 did not change the decode");
    let (e_image, e_grad) = (relative(&want_image, &image), relative(&want_grad, &grad));
    eprintln!("bf16 decoder against f32: image {e_image:.2e}, gradient {e_grad:.2e}");
    assert!(e_image < 4e-2, "decode differs by {e_image}");
    assert!(e_grad < 6e-2, "gradient differs by {e_grad}");
    // The same input gives the same bits.
    assert_eq!(decode_and_grad(&vq, &z, &r), (image, grad));
}
