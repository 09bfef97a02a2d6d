//! Reads PyTorch's zip-format files safely: a PyTorch Lightning `.ckpt` (taming's VQGAN), whose
//! tensors sit under `state_dict`, and a transformers `pytorch_model.bin`, which is the state
//! dict itself.
//!
//! The pickle is interpreted by candle's reader, which builds a description of objects and never
//! runs code. Before any tensor is read we walk that description: the state dict must hold
//! tensors only (plus PyTorch's plain-data `_metadata`), so a file carrying any other object is
//! refused by name rather than half-loaded.

mod guard;
mod scan;

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use candle_core::pickle::{Object, PthTensors, Stack, TensorInfo};
use candle_core::Tensor;

use crate::ml::weights::safetensors_check::{Header, TensorInfo as SafetensorsInfo};
use crate::ml::{Error, Result};

fn fail(path: &Path, reason: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Data a pickle may hold without naming any class: numbers, strings, containers of them.
fn is_plain_data(obj: &Object) -> bool {
    match obj {
        Object::Int(_)
        | Object::Long(_)
        | Object::Float(_)
        | Object::Unicode(_)
        | Object::Bool(_)
        | Object::None => true,
        Object::Tuple(items) | Object::List(items) => items.iter().all(is_plain_data),
        Object::Dict(pairs) => pairs
            .iter()
            .all(|(k, v)| is_plain_data(k) && is_plain_data(v)),
        _ => false,
    }
}

fn describe(obj: &Object) -> String {
    match obj {
        Object::Class {
            module_name,
            class_name,
        } => format!("{module_name}.{class_name}"),
        Object::Reduce { callable, .. } | Object::Build { callable, .. } => describe(callable),
        Object::PersistentLoad(_) => "a storage reference".into(),
        other => format!("{other:?}").chars().take(60).collect(),
    }
}

/// Reads the pickled object of a zip-format PyTorch file.
fn read_pickle(path: &Path) -> Result<(Object, PathBuf)> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| {
        fail(
            path,
            format!(
                "it is not a zip-format PyTorch checkpoint ({e}); it may be truncated or still \
                 downloading, or need re-saving with torch.save"
            ),
        )
    })?;
    let pkl_name = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .find(|n| n.ends_with("data.pkl"))
        .ok_or_else(|| fail(path, "it holds no data.pkl"))?;
    let dir = PathBuf::from(pkl_name.trim_end_matches(".pkl"));
    let entry = zip
        .by_name(&pkl_name)
        .map_err(|e| fail(path, format!("cannot read data.pkl: {e}")))?;
    // A real data.pkl is kilobytes to a few megabytes; the tensors are stored beside it.
    const MAX_PICKLE_BYTES: u64 = 256 << 20;
    let mut pickle = Vec::new();
    entry
        .take(MAX_PICKLE_BYTES + 1)
        .read_to_end(&mut pickle)
        .map_err(|e| fail(path, format!("cannot read data.pkl: {e}")))?;
    if pickle.len() as u64 > MAX_PICKLE_BYTES {
        return Err(fail(path, "its data.pkl is larger than any checkpoint's"));
    }
    scan::check(&pickle).map_err(|reason| fail(path, reason))?;
    let mut reader = std::io::Cursor::new(pickle);
    let read = guard::catch(|| {
        let mut stack = Stack::empty();
        stack
            .read_loop(&mut reader)
            .map_err(|e| fail(path, format!("the pickle cannot be read: {e}")))?;
        stack
            .finalize()
            .map_err(|e| fail(path, format!("the pickle is empty: {e}")))
    });
    let obj = read.unwrap_or_else(|| Err(malformed(path)))?;
    Ok((obj, dir))
}

/// The error for a pickle that made candle's reader panic.
fn malformed(path: &Path) -> Error {
    fail(
        path,
        "its pickle is malformed (it may be damaged, or not written by torch.save)",
    )
}

/// Where a file keeps its tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Under the top-level dict's `state_dict` (PyTorch Lightning, taming).
    StateDict,
    /// The top-level dict itself (`torch.save(model.state_dict())`, transformers' `.bin`).
    Top,
}

impl Entry {
    /// The entry for a file, by its extension: `.ckpt` is Lightning's, anything else a state dict.
    pub fn for_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("ckpt") => Self::StateDict,
            _ => Self::Top,
        }
    }

    fn key(self) -> Option<&'static str> {
        match self {
            Self::StateDict => Some("state_dict"),
            Self::Top => None,
        }
    }
}

/// The names, dtypes and shapes of the `state_dict`'s tensors, from the pickle alone (no tensor
/// data is read), after the same safety walk as [`read_state_dict`].
pub fn read_header(path: &Path, entry: Entry) -> Result<Header> {
    let tensors = walk(path, entry)?
        .into_iter()
        .map(|(name, info)| {
            let info = SafetensorsInfo {
                dtype: format!("{:?}", info.dtype).to_uppercase(),
                shape: info.layout.dims().to_vec(),
            };
            (name, info)
        })
        .collect();
    Ok(Header { tensors })
}

/// The safety walk: every state dict entry is a tensor (or PyTorch's plain `_metadata`).
fn walk(path: &Path, entry: Entry) -> Result<Vec<(String, TensorInfo)>> {
    let (obj, dir) = read_pickle(path)?;
    let Object::Dict(top) = obj else {
        let wanted = match entry {
            Entry::StateDict => "a dict with a state_dict",
            Entry::Top => "a dict of tensors",
        };
        return Err(fail(
            path,
            format!("its top-level object is {}, not {wanted}", describe(&obj)),
        ));
    };
    let state = match entry {
        Entry::StateDict => top
            .into_iter()
            .find(|(k, _)| *k == Object::Unicode("state_dict".into()))
            .map(|(_, v)| v)
            .ok_or_else(|| fail(path, "it has no 'state_dict' entry"))?,
        Entry::Top => Object::Dict(top),
    };
    let Object::Dict(entries) = state else {
        return Err(fail(
            path,
            format!(
                "its state_dict is {}, not a dict of tensors",
                describe(&state)
            ),
        ));
    };
    let mut names = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let Object::Unicode(name) = &key else {
            return Err(fail(path, "a state_dict key is not a string"));
        };
        if name == "_metadata" && is_plain_data(&value) {
            continue;
        }
        let what = describe(&value);
        let info = guard::catch(|| value.into_tensor_info(key.clone(), &dir));
        match info.ok_or_else(|| malformed(path))? {
            Ok(Some(info)) => names.push((name.clone(), info)),
            // A tensor whose storage candle cannot read (transformers 4.27-4.29 saved GPT-2's
            // causal mask as bools) is left out, not refused: a model that needs it then names
            // it as missing, and one that ignores it (the mask is rebuilt) loads.
            Err(e) if what.starts_with("torch._utils._rebuild_") => {
                tracing::debug!("{}: leaving out '{name}': {e}", path.display());
            }
            _ => {
                return Err(fail(
                    path,
                    format!(
                        "state_dict entry '{name}' is {what}, not a tensor; refusing to load it"
                    ),
                ))
            }
        }
    }
    Ok(names)
}

/// Every tensor of the file's state dict, after the safety walk above.
pub fn read_state_dict(path: &Path, entry: Entry) -> Result<HashMap<String, Tensor>> {
    let names: Vec<String> = walk(path, entry)?.into_iter().map(|(n, _)| n).collect();
    let pth = guard::catch(|| PthTensors::new(path, entry.key()))
        .ok_or_else(|| malformed(path))?
        .map_err(|e| fail(path, format!("cannot index its tensors: {e}")))?;
    let mut tensors = HashMap::with_capacity(names.len());
    for name in names {
        let tensor = guard::catch(|| pth.get(&name))
            .ok_or_else(|| malformed(path))?
            .map_err(|e| fail(path, format!("cannot read tensor '{name}': {e}")))?
            .ok_or_else(|| fail(path, format!("tensor '{name}' vanished while reading")))?;
        tensors.insert(name, tensor);
    }
    Ok(tensors)
}
