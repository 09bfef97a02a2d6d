//! One door to a weights file, whichever format it is: safetensors (memory-mapped), or a
//! PyTorch zip (`pytorch_model.bin`, read through the safe pickle walk, tensors only). Hub
//! repositories from before safetensors (uer/gpt2-chinese-poem, OFA-Sys' Chinese CLIP) publish
//! only the second.

use std::path::Path;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;

use super::safetensors_check::{self, Header};
use super::torch_pickle::{self, Entry};
use crate::ml::Result;

fn is_safetensors(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some("safetensors")
}

/// Names, dtypes and shapes of the file's tensors, read without loading them.
pub fn header(path: &Path) -> Result<Header> {
    if is_safetensors(path) {
        safetensors_check::read_header(path)
    } else {
        torch_pickle::read_header(path, Entry::for_path(path))
    }
}

/// The file's tensors as f32, ready for a model's `load`.
pub fn var_builder(path: &Path, device: &Device) -> Result<VarBuilder<'static>> {
    if is_safetensors(path) {
        // SAFETY: the file is memory-mapped read-only; candle copies tensors out of the map.
        return Ok(unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, device)? });
    }
    let tensors = torch_pickle::read_state_dict(path, Entry::for_path(path))?
        .into_iter()
        .map(|(k, t)| Ok((k, t.to_dtype(DType::F32)?.to_device(device)?)))
        .collect::<Result<std::collections::HashMap<_, _>>>()?;
    Ok(VarBuilder::from_tensors(tensors, DType::F32, device))
}
