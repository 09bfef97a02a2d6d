//! Reads a safetensors header without loading tensors, so a checkpoint can be checked (keys,
//! shapes, truncation) before anything is allocated, and listed cheaply.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::ml::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub dtype: String,
    pub shape: Vec<usize>,
}

/// Tensor names to dtype and shape, in name order.
#[derive(Debug, Clone, Default)]
pub struct Header {
    pub tensors: BTreeMap<String, TensorInfo>,
}

#[derive(serde::Deserialize)]
struct RawEntry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [u64; 2],
}

/// Parses the header and checks that the file holds every byte the header promises.
pub fn read_header(path: &Path) -> Result<Header> {
    let bad = |reason: String| Error::Safetensors {
        path: path.to_path_buf(),
        reason,
    };
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut len_bytes = [0u8; 8];
    file.read_exact(&mut len_bytes)
        .map_err(|_| bad("the file is shorter than a safetensors header".into()))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > 100_000_000 || 8 + header_len > file_len {
        return Err(bad(format!(
            "the header claims {header_len} bytes but the file has {file_len}"
        )));
    }
    let mut json = vec![0u8; header_len as usize];
    file.read_exact(&mut json).map_err(io)?;
    let raw: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&json).map_err(|e| bad(format!("the header is not JSON: {e}")))?;
    let mut tensors = BTreeMap::new();
    let mut data_end = 0u64;
    for (name, value) in raw {
        if name == "__metadata__" {
            continue;
        }
        let entry: RawEntry = serde_json::from_value(value)
            .map_err(|e| bad(format!("entry '{name}' is malformed: {e}")))?;
        data_end = data_end.max(entry.data_offsets[1]);
        tensors.insert(
            name,
            TensorInfo {
                dtype: entry.dtype,
                shape: entry.shape,
            },
        );
    }
    let expected_len = 8 + header_len + data_end;
    if file_len < expected_len {
        return Err(bad(format!(
            "it holds {file_len} bytes but its header describes {expected_len}"
        )));
    }
    Ok(Header { tensors })
}

/// Compares a header with the tensors a model expects and names the first key that differs.
///
/// `ignore` returns true for names that may be present and are not weights (mask buffers).
pub fn check_keys(
    path: &Path,
    header: &Header,
    expected: &BTreeMap<String, Vec<usize>>,
    ignore: impl Fn(&str) -> bool,
) -> Result<()> {
    let fail = |reason: String| Error::Checkpoint {
        path: PathBuf::from(path),
        reason,
    };
    for (name, shape) in expected {
        match header.tensors.get(name) {
            None => return Err(fail(format!("tensor '{name}' is missing"))),
            Some(info) if &info.shape != shape => {
                return Err(fail(format!(
                    "tensor '{name}' has shape {:?} but the config expects {:?}",
                    info.shape, shape
                )))
            }
            Some(info) if !matches!(info.dtype.as_str(), "F32" | "F16" | "BF16" | "F64") => {
                return Err(fail(format!(
                    "tensor '{name}' has dtype {}, which is not a float type",
                    info.dtype
                )))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = header
        .tensors
        .keys()
        .find(|k| !expected.contains_key(*k) && !ignore(k))
    {
        return Err(fail(format!(
            "tensor '{extra}' is not part of this model; is this the right checkpoint?"
        )));
    }
    Ok(())
}
