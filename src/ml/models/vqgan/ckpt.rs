//! taming's `.ckpt`, read through the safe pickle walk, and its conversion to safetensors.

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;

use crate::ml::weights::torch_pickle::{self, Entry};
use crate::ml::{Error, Result};

/// Every tensor of a Lightning checkpoint's `state_dict`, after the safety walk.
pub fn read_state_dict(path: &Path) -> Result<HashMap<String, Tensor>> {
    torch_pickle::read_state_dict(path, Entry::StateDict)
}

/// Writes the inference tensors (no `loss.*`) of a checked checkpoint as safetensors.
/// Returns how many tensors were written.
pub fn convert_to_safetensors(ckpt: &Path, cfg: &super::Config, out: &Path) -> Result<usize> {
    let kept = super::inference_tensors(ckpt, read_state_dict(ckpt)?, cfg)?;
    let count = kept.len();
    // Written beside the target, then renamed, so a crash never leaves half a file under its name.
    let tmp = out.with_extension("safetensors.partial");
    candle_core::safetensors::save(&kept, &tmp)?;
    std::fs::rename(&tmp, out).map_err(|source| Error::Io {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(count)
}
