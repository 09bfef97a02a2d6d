//! VQGAN, the illustrator's image model.
//!
//! Paper: Esser, Rombach and Ommer 2021, "Taming Transformers for High-Resolution Image
//! Synthesis". Reference implementation: CompVis/taming-transformers `taming.models.vqgan.VQModel`
//! with `VectorQuantizer2` (legacy). Checkpoint: the ImageNet f16-16384 `.ckpt` + `.yaml`
//! (mirrored in `Somnai/pytti-vqgan-checkpoints`). Key names follow the checkpoint's state_dict.

mod blocks;
pub mod ckpt;
mod coder;
mod resnet_op;
mod upsample;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::VarBuilder;
use serde::Deserialize;

use crate::ml::weights::safetensors_check::{check_keys, read_header, Header, TensorInfo};
use crate::ml::{Error, Result};
pub use blocks::upsample_nearest_x2;
use coder::{Decoder, Encoder};

/// taming's `ddconfig`: the encoder/decoder shape.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DdConfig {
    #[serde(default)]
    pub double_z: bool,
    pub z_channels: usize,
    pub resolution: usize,
    #[serde(default = "three")]
    pub in_channels: usize,
    #[serde(default = "three")]
    pub out_ch: usize,
    pub ch: usize,
    pub ch_mult: Vec<usize>,
    pub num_res_blocks: usize,
    #[serde(default)]
    pub attn_resolutions: Vec<usize>,
}

fn three() -> usize {
    3
}

/// `model.params` of a taming YAML config (of its `first_stage_config` for a Net2NetTransformer).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Config {
    pub embed_dim: usize,
    pub n_embed: usize,
    pub ddconfig: DdConfig,
    /// Where the VQModel's tensors are named in the checkpoint: empty for a plain VQModel,
    /// `first_stage_model.` inside a Net2NetTransformer (the COCO, S-FLICKR and FacesHQ
    /// checkpoints), whose transformer weights are then ignored.
    #[serde(skip)]
    pub key_prefix: String,
}

/// The prefix of the first-stage VQGAN's keys in a Net2NetTransformer checkpoint.
const NET2NET_PREFIX: &str = "first_stage_model.";

impl Config {
    /// The ImageNet f16-16384 model.
    pub fn imagenet_f16_16384() -> Self {
        Self {
            embed_dim: 256,
            n_embed: 16384,
            ddconfig: DdConfig {
                double_z: false,
                z_channels: 256,
                resolution: 256,
                in_channels: 3,
                out_ch: 3,
                ch: 128,
                ch_mult: vec![1, 1, 2, 2, 4],
                num_res_blocks: 2,
                attn_resolutions: vec![16],
            },
            key_prefix: String::new(),
        }
    }

    /// Reads taming's `configs/*.yaml`: `model.params.{embed_dim, n_embed, ddconfig}` of a
    /// VQModel, or the same under `first_stage_config` of a Net2NetTransformer. A Gumbel VQGAN
    /// (the Open Images f8 model) is refused with a sentence.
    pub fn from_yaml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |reason: String| Error::Config {
            path: path.to_path_buf(),
            reason,
        };
        let root: serde_yaml::Value =
            serde_yaml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let model = &root["model"];
        let target = model["target"].as_str().unwrap_or("");
        if target.contains("GumbelVQ") {
            return Err(bad(
                "it describes a Gumbel-quantized VQGAN (such as the Open Images f8 model), which \
                 this studio cannot load; choose imagenet, wikiart, coco, sflickr or faceshq"
                    .into(),
            ));
        }
        let (params, key_prefix) = if model["params"]["first_stage_config"].is_mapping() {
            (
                &model["params"]["first_stage_config"]["params"],
                NET2NET_PREFIX,
            )
        } else {
            (&model["params"], "")
        };
        if !params.is_mapping() {
            return Err(bad("it has no model.params section".into()));
        }
        let mut cfg: Config =
            serde_yaml::from_value(params.clone()).map_err(|e| bad(e.to_string()))?;
        cfg.key_prefix = key_prefix.into();
        let d = &cfg.ddconfig;
        if d.ch_mult.is_empty() || d.ch == 0 || d.z_channels == 0 || cfg.n_embed == 0 {
            return Err(bad(
                "ch, ch_mult, z_channels and n_embed must be non-empty".into()
            ));
        }
        use crate::ml::weights::config_file::{check_sizes, most};
        let mut sizes = vec![
            ("ch", d.ch, most::CHANNELS),
            ("levels of ch_mult", d.ch_mult.len(), 8),
            ("num_res_blocks", d.num_res_blocks.max(1), 64),
            ("z_channels", d.z_channels, most::CHANNELS),
            ("embed_dim", cfg.embed_dim, most::CHANNELS),
            ("n_embed", cfg.n_embed, most::VOCAB),
            ("resolution", d.resolution.max(1), most::IMAGE_SIDE),
            ("in_channels", d.in_channels, 64),
            ("out_ch", d.out_ch, 64),
        ];
        sizes.extend(d.ch_mult.iter().map(|&m| ("each ch_mult", m, 64)));
        check_sizes(&sizes).map_err(bad)?;
        if !(d.ch * d.ch_mult.iter().min().copied().unwrap_or(0)).is_multiple_of(32) {
            return Err(bad(
                "every level's channels must be a multiple of 32 (GroupNorm)".into(),
            ));
        }
        Ok(cfg)
    }

    /// Pixels per latent cell along each side.
    pub fn downscale(&self) -> usize {
        1 << (self.ddconfig.ch_mult.len() - 1)
    }
}

/// Every weight of the inference model, with its shape; `loss.*` is not among them.
pub fn expected_keys(cfg: &Config) -> BTreeMap<String, Vec<usize>> {
    let mut keys = BTreeMap::new();
    Encoder::keys(&mut keys, &cfg.ddconfig);
    Decoder::keys(&mut keys, &cfg.ddconfig);
    let z = cfg.ddconfig.z_channels;
    blocks::conv_keys(&mut keys, "quant_conv", z, cfg.embed_dim, 1);
    blocks::conv_keys(&mut keys, "post_quant_conv", cfg.embed_dim, z, 1);
    keys.insert(
        "quantize.embedding.weight".into(),
        vec![cfg.n_embed, cfg.embed_dim],
    );
    keys
}

/// Training-only tensors that real checkpoints carry (LPIPS, discriminator).
pub fn ignorable(name: &str) -> bool {
    name.starts_with("loss.")
}

fn is_ckpt(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == "ckpt" || e == "pt" || e == "pth")
}

/// Checks a checkpoint's keys and shapes against `cfg` without reading its tensors: the
/// safetensors header, or the `.ckpt`'s pickle after the safety walk.
pub fn check_checkpoint(path: &Path, cfg: &Config) -> Result<()> {
    let header = if is_ckpt(path) {
        crate::ml::weights::torch_pickle::read_header(
            path,
            crate::ml::weights::torch_pickle::Entry::StateDict,
        )?
    } else {
        read_header(path)?
    };
    check_header(path, &header, cfg)
}

/// Checks a checkpoint's names and shapes against `cfg`, under its key prefix; tensors outside
/// the prefix (a Net2NetTransformer's transformer) are not the VQGAN's and are passed over.
fn check_header(path: &Path, header: &Header, cfg: &Config) -> Result<()> {
    let prefix = cfg.key_prefix.as_str();
    let expected = expected_keys(cfg)
        .into_iter()
        .map(|(k, shape)| (format!("{prefix}{k}"), shape))
        .collect();
    check_keys(path, header, &expected, |name| {
        name.strip_prefix(prefix).is_none_or(ignorable)
    })
}

/// The inference tensors of a checkpoint's `state_dict`, checked, in f32, named without the
/// key prefix.
pub(crate) fn inference_tensors(
    path: &Path,
    tensors: HashMap<String, Tensor>,
    cfg: &Config,
) -> Result<HashMap<String, Tensor>> {
    let header = Header {
        tensors: tensors
            .iter()
            .map(|(k, t)| {
                let info = TensorInfo {
                    dtype: format!("{:?}", t.dtype()).to_uppercase(),
                    shape: t.dims().to_vec(),
                };
                (k.clone(), info)
            })
            .collect(),
    };
    check_header(path, &header, cfg)?;
    let expected = expected_keys(cfg);
    tensors
        .into_iter()
        .filter_map(|(k, t)| {
            let name = k.strip_prefix(cfg.key_prefix.as_str())?.to_string();
            expected.contains_key(&name).then_some((name, t))
        })
        .map(|(k, t)| Ok((k, t.to_dtype(DType::F32)?.contiguous()?)))
        .collect()
}

/// The taming VQModel without its loss: encoder, quantizer and decoder.
#[derive(Debug, Clone)]
pub struct VqModel {
    /// `None` once [`VqModel::free_encoder`] ran.
    encoder: Option<Encoder>,
    decoder: Decoder,
    quant_conv: blocks::Conv,
    post_quant_conv: blocks::Conv,
    /// `[n_embed, embed_dim]`.
    pub codebook: Tensor,
    cfg: Config,
    /// Whether [`VqModel::decoder_to_bf16`] has run (even where it failed midway).
    decoder_bf16: bool,
}

impl VqModel {
    pub fn load(vb: VarBuilder, cfg: &Config) -> candle_core::Result<Self> {
        let z = cfg.ddconfig.z_channels;
        Ok(Self {
            encoder: Some(Encoder::load(vb.pp("encoder"), &cfg.ddconfig)?),
            decoder: Decoder::load(vb.pp("decoder"), &cfg.ddconfig)?,
            quant_conv: blocks::conv(vb.pp("quant_conv"), z, cfg.embed_dim, 1, 1)?,
            post_quant_conv: blocks::conv(vb.pp("post_quant_conv"), cfg.embed_dim, z, 1, 1)?,
            codebook: vb.get((cfg.n_embed, cfg.embed_dim), "quantize.embedding.weight")?,
            cfg: cfg.clone(),
            decoder_bf16: false,
        })
    }

    /// Loads `model.safetensors` or the original Lightning `model.ckpt` (tensors only), after
    /// checking keys and shapes against `cfg`.
    pub fn from_file(path: &Path, cfg: &Config, device: &Device) -> Result<Self> {
        if is_ckpt(path) {
            let tensors = inference_tensors(path, ckpt::read_state_dict(path)?, cfg)?
                .into_iter()
                .map(|(k, t)| Ok((k, t.to_device(device)?)))
                .collect::<Result<HashMap<_, _>>>()?;
            let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
            return Ok(Self::load(vb, cfg)?);
        }
        check_checkpoint(path, cfg)?;
        // SAFETY: the file is memory-mapped read-only; candle copies tensors out of the map.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, device)? };
        let vb = match cfg.key_prefix.strip_suffix('.') {
            Some(prefix) => vb.pp(prefix),
            None => vb,
        };
        Ok(Self::load(vb, cfg)?)
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Frees the encoder's weights (about 117 MB for f16-16384): a run without an init image
    /// never encodes, and the CLI draws one picture per process.
    pub fn free_encoder(&mut self) {
        self.encoder = None;
    }

    fn encoder(&self) -> Result<&Encoder> {
        self.encoder.as_ref().ok_or_else(|| {
            crate::ml::Error::Input("this VQGAN's encoder was freed; load the model again".into())
        })
    }

    /// `encoder(x)` for images in [-1, 1], `[n, 3, h, w]`.
    pub fn encoder_out(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.encoder()?.forward(x)?)
    }

    /// The latent before quantization: `quant_conv(encoder(x))`.
    pub fn encode_unquantized(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.quant_conv.forward(&self.encoder()?.forward(x)?)?)
    }

    /// Nearest codebook index per position, `[n, h, w]`.
    pub fn code_indices(&self, z: &Tensor) -> Result<Tensor> {
        let (n, c, h, w) = z.dims4()?;
        let flat = z.permute((0, 2, 3, 1))?.reshape((n * h * w, c))?.detach();
        // |z|² + |e|² - 2 z·e, as taming computes it.
        let z2 = flat.sqr()?.sum_keepdim(1)?;
        let e2 = self.codebook.sqr()?.sum(1)?.unsqueeze(0)?;
        let d = z2
            .broadcast_add(&e2)?
            .broadcast_sub(&(flat.matmul(&self.codebook.t()?)? * 2.0)?)?;
        Ok(d.argmin(D::Minus1)?.reshape((n, h, w))?)
    }

    /// Codebook rows at `indices` `[n, h, w]`, as a latent `[n, embed_dim, h, w]`.
    pub fn lookup(&self, indices: &Tensor) -> Result<Tensor> {
        let (n, h, w) = indices.dims3()?;
        let rows = self.codebook.index_select(&indices.flatten_all()?, 0)?;
        Ok(rows
            .reshape((n, h, w, self.cfg.embed_dim))?
            .permute((0, 3, 1, 2))?
            .contiguous()?)
    }

    /// Vector quantization with a straight-through gradient: the forward value is the nearest
    /// codebook entry, and the gradient passes to `z` unchanged.
    pub fn quantize(&self, z: &Tensor) -> Result<Tensor> {
        let zq = self.lookup(&self.code_indices(z)?)?;
        Ok((z + (zq - z)?.detach())?)
    }

    /// Runs the decoder's 3×3 products in bf16 from now on (`--precision bf16`); its f32
    /// points are freed, so an f32 drawing needs the model loaded again. `false`, with the
    /// model unchanged, off the CPU or where no bf16 kernel runs.
    pub fn decoder_to_bf16(&mut self) -> Result<bool> {
        if self.decoder_bf16 {
            return Ok(true);
        }
        if !self.codebook.device().is_cpu()
            || crate::ml::kernels::composed_forced()
            || !crate::ml::kernels::bf16_gemm::available()
        {
            return Ok(false);
        }
        // Marked first: a failure midway leaves a decoder that is no longer all f32.
        self.decoder_bf16 = true;
        if !self.decoder.switch_to_bf16()? {
            return Err(crate::ml::Error::Input(
                "the VQGAN decoder could not be switched to bf16; load it again".into(),
            ));
        }
        Ok(true)
    }

    /// Whether the decoder's products run in bf16.
    pub fn decoder_is_bf16(&self) -> bool {
        self.decoder_bf16
    }

    /// `decoder(post_quant_conv(z))`, images roughly in [-1, 1].
    pub fn decode(&self, z: &Tensor) -> Result<Tensor> {
        Ok(self.decoder.forward(&self.post_quant_conv.forward(z)?)?)
    }

    /// Quantized latent of images in [-1, 1].
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        self.quantize(&self.encode_unquantized(x)?)
    }
}

#[cfg(test)]
mod tests;
