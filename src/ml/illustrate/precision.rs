//! `--precision`: what CLIP's image tower and the VQGAN decoder compute their products in
//! during an illustration, and putting loaded models into it.

use serde::{Deserialize, Serialize};

use crate::ml::models::clip::Clip;
use crate::ml::models::vqgan::VqModel;
use crate::ml::Result;

/// The number format of the products of CLIP's image tower and of the VQGAN decoder's 3×3
/// convolutions (their Winograd products) during an illustration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Exact to the reference model, everywhere.
    #[default]
    F32,
    /// Weights and inputs rounded to bf16, sums kept in f32, on AMX or AVX512-BF16: several
    /// times faster products on CPUs that have AMX (Xeon Sapphire Rapids and later), up to
    /// about twice as fast on those whose AVX512-BF16 is fast (Zen 4 and later). The decoder's
    /// F(4×4) layers stay f32 (see `Winograd::switch_to_bf16`).
    Bf16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(Self::F32),
            "bf16" => Ok(Self::Bf16),
            _ => Err(format!("'{s}' is not a precision: choose f32 or bf16")),
        }
    }
}

/// Puts `clip`'s image tower and `vqgan`'s decoder in the precision asked, if this machine can
/// run it. Returns the precision that will really run, and a sentence for the user when that is
/// not the one asked. Models already in bf16 cannot go back: load them again for f32.
pub fn prepare(
    clip: &mut Clip,
    vqgan: &mut VqModel,
    asked: Precision,
) -> Result<(Precision, Option<String>)> {
    match asked {
        Precision::F32 if clip.image_tower_is_bf16() || vqgan.decoder_is_bf16() => {
            Err(crate::ml::Error::Input(
                "these models were switched to bf16; load them again to draw in f32".into(),
            ))
        }
        Precision::F32 => Ok((Precision::F32, None)),
        Precision::Bf16 if clip.image_tower_to_bf16()? => {
            if vqgan.decoder_to_bf16()? {
                Ok((Precision::Bf16, None))
            } else {
                Err(crate::ml::Error::Input(
                    "CLIP runs in bf16 but the VQGAN decoder cannot (is it on another device?); \
                     load both on the CPU"
                        .into(),
                ))
            }
        }
        Precision::Bf16 => {
            let why = if !clip.device().is_cpu() {
                "bf16 runs only on the CPU, not on a GPU".to_string()
            } else if let Some(why) = crate::ml::kernels::bf16_gemm::unavailable_reason() {
                why
            } else {
                "bf16 runs only on the CPU's fused ops, not with STORYBOOK_COMPOSED_OPS=1".into()
            };
            Ok((
                Precision::F32,
                Some(format!("{why}; drawing in f32 instead")),
            ))
        }
    }
}
