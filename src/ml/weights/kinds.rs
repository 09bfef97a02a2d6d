//! The models the studio uses, the files each needs, and where each lives on the hub.

use std::fmt;
use std::str::FromStr;

/// The models the studio uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelKind {
    Gpt2,
    Clip,
    Vqgan,
    Minilm,
}

/// A file a model needs: its name inside our folder layout and its name on the hub.
#[derive(Debug, Clone, Copy)]
pub struct ModelFile {
    pub local: &'static str,
    pub remote: &'static str,
    /// Alternatives: a folder needs one file of each group (VQGAN takes `.ckpt` or `.safetensors`).
    pub group: &'static str,
}

const fn same(name: &'static str) -> ModelFile {
    ModelFile {
        local: name,
        remote: name,
        group: name,
    }
}

const HF_TRIO: [ModelFile; 3] = [
    same("config.json"),
    same("model.safetensors"),
    same("tokenizer.json"),
];

const VQGAN_FILES: [ModelFile; 3] = [
    ModelFile {
        local: "model.yaml",
        remote: "vqgan_imagenet_f16_16384.yaml",
        group: "config",
    },
    ModelFile {
        local: "model.ckpt",
        remote: "vqgan_imagenet_f16_16384.ckpt",
        group: "weights",
    },
    ModelFile {
        local: "model.safetensors",
        remote: "vqgan_imagenet_f16_16384.safetensors",
        group: "weights",
    },
];

/// Where a model lives on the Hugging Face hub.
#[derive(Debug, Clone, Copy)]
pub struct HubSource {
    pub repo: &'static str,
    pub revision: &'static str,
    /// Older repo ids under which Python users may have it cached.
    pub aliases: &'static [&'static str],
}

impl ModelKind {
    pub const ALL: [ModelKind; 4] = [Self::Gpt2, Self::Clip, Self::Vqgan, Self::Minilm];

    /// Subfolder name under `--models DIR`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Self::Gpt2 => "gpt2",
            Self::Clip => "clip",
            Self::Vqgan => "vqgan",
            Self::Minilm => "minilm",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Self::Gpt2 => "GPT-2 (story writer)",
            Self::Clip => "CLIP ViT-B/32 (image and text matcher)",
            Self::Vqgan => "VQGAN f16-16384 (illustrator)",
            Self::Minilm => "all-MiniLM-L6-v2 (prompt embeddings)",
        }
    }

    pub fn files(self) -> &'static [ModelFile] {
        match self {
            Self::Vqgan => &VQGAN_FILES,
            _ => &HF_TRIO,
        }
    }

    /// Files to fetch from the hub (VQGAN's hub mirror has no safetensors copy).
    pub fn download_files(self) -> Vec<ModelFile> {
        match self {
            Self::Vqgan => VQGAN_FILES[..2].to_vec(),
            _ => HF_TRIO.to_vec(),
        }
    }

    pub fn hub(self) -> HubSource {
        match self {
            Self::Gpt2 => HubSource {
                repo: "openai-community/gpt2",
                revision: "main",
                aliases: &["gpt2"],
            },
            Self::Clip => HubSource {
                repo: "openai/clip-vit-base-patch32",
                revision: "refs/pr/15",
                aliases: &[],
            },
            Self::Vqgan => HubSource {
                repo: "Somnai/pytti-vqgan-checkpoints",
                revision: "main",
                aliases: &[],
            },
            Self::Minilm => HubSource {
                repo: "sentence-transformers/all-MiniLM-L6-v2",
                revision: "main",
                aliases: &[],
            },
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dir_name())
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.dir_name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown model '{s}'; choose gpt2, clip, vqgan or minilm"))
    }
}

/// The files a folder needs, grouped where any one of a group will do, in declaration order.
pub(super) fn file_groups(kind: ModelKind) -> Vec<Vec<&'static str>> {
    let mut groups: Vec<(&str, Vec<&'static str>)> = Vec::new();
    for f in kind.files() {
        match groups.iter_mut().find(|(g, _)| *g == f.group) {
            Some((_, names)) => names.push(f.local),
            None => groups.push((f.group, vec![f.local])),
        }
    }
    groups.into_iter().map(|(_, names)| names).collect()
}
