//! GPT-2 with its weights as trainable variables, loaded from either key layout and saved
//! atomically in save_pretrained's.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};

use crate::ml::models::gpt2::{check_checkpoint, Config, Gpt2};
use crate::ml::{Error, Result};

/// GPT-2 whose weights are variables, with the subset that training may change.
pub struct Trainable {
    pub model: Gpt2,
    varmap: VarMap,
    pub(super) trainable: Vec<Var>,
}

impl Trainable {
    /// Loads `weights` (either key layout) into trainable variables.
    pub fn load(weights: &Path, cfg: &Config, freeze: usize, device: &Device) -> Result<Self> {
        check_checkpoint(weights, cfg)?;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let model = Gpt2::load(vb, cfg)?;
        let tensors = candle_core::safetensors::load(weights, device)?;
        let mut data = varmap
            .data()
            .lock()
            .map_err(|_| Error::Input("the model's weights are locked".into()))?;
        for (name, var) in data.iter_mut() {
            let key = [name.clone(), format!("transformer.{name}")]
                .into_iter()
                .find(|k| tensors.contains_key(k))
                .ok_or_else(|| Error::Checkpoint {
                    path: weights.to_path_buf(),
                    reason: format!("tensor '{name}' is missing"),
                })?;
            var.set(&tensors[&key].to_dtype(DType::F32)?)?;
        }
        let frozen = |name: &str| {
            freeze > 0
                && (name.starts_with("wte.")
                    || name.starts_with("wpe.")
                    || (0..freeze).any(|i| name.starts_with(&format!("h.{i}."))))
        };
        let mut names: Vec<&String> = data.keys().filter(|n| !frozen(n)).collect();
        names.sort();
        let trainable = names.into_iter().map(|n| data[n].clone()).collect();
        drop(data);
        Ok(Self {
            model,
            varmap,
            trainable,
        })
    }

    /// Every weight of the model by name (`h.0.ln_1.weight`, …), frozen or not.
    pub fn all_variables(&self) -> Result<HashMap<String, Var>> {
        let data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| Error::Input("the model's weights are locked".into()))?;
        Ok(data.clone())
    }

    /// The weights training changes, in the order of their names.
    pub fn variables(&self) -> &[Var] {
        &self.trainable
    }

    pub fn trainable_parameters(&self) -> usize {
        self.trainable.iter().map(|v| v.elem_count()).sum()
    }

    /// Writes the weights as `model.safetensors` in save_pretrained layout, via a temporary
    /// file and a rename, so a crash leaves the previous checkpoint whole.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| Error::Input("the model's weights are locked".into()))?;
        let tensors: HashMap<String, Tensor> = data
            .iter()
            .map(|(k, v)| (format!("transformer.{k}"), v.as_tensor().clone()))
            .collect();
        drop(data);
        let tmp = dir.join("model.safetensors.partial");
        let io = |source| Error::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mode = new_file_permissions(dir).map_err(io)?;
        candle_core::safetensors::save(&tensors, &tmp)?;
        std::fs::set_permissions(&tmp, mode).map_err(io)?;
        std::fs::rename(&tmp, dir.join("model.safetensors")).map_err(io)
    }
}

/// The permissions a new file in `dir` gets (0666 less the umask on Unix). safetensors writes
/// through a private temporary file (0600), which would hide the model from other users and
/// from backups that run under another account.
fn new_file_permissions(dir: &Path) -> std::io::Result<std::fs::Permissions> {
    let probe = dir.join(".model.safetensors.mode");
    let mode = std::fs::File::create(&probe)?.metadata()?.permissions();
    std::fs::remove_file(&probe)?;
    Ok(mode)
}
