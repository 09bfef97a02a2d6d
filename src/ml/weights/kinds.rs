//! The models the studio uses and the files each needs; where each lives is in `sources`.

use std::fmt;
use std::str::FromStr;

/// The models the studio uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelKind {
    Gpt2,
    Clip,
    Vqgan,
    Minilm,
    Blip,
    /// Chinese CLIP, which ranks classical-imagery keywords against a picture.
    ChineseClip,
    /// A GPT-2 trained on classical Chinese poems.
    Gpt2Chinese,
}

/// A file a model needs: its name inside our folder layout, its path in the hub repository,
/// and, where published, its sha256 and size (a download that differs is refused).
#[derive(Debug, Clone, Copy)]
pub struct ModelFile {
    pub local: &'static str,
    pub remote: &'static str,
    /// Alternatives: a folder needs one file of each group (VQGAN takes `.ckpt` or `.safetensors`).
    pub group: &'static str,
    pub sha256: Option<&'static str>,
    pub size: Option<u64>,
}

const fn same(name: &'static str) -> ModelFile {
    ModelFile {
        local: name,
        remote: name,
        group: name,
        sha256: None,
        size: None,
    }
}

const fn pinned(name: &'static str, sha256: &'static str, size: u64) -> ModelFile {
    ModelFile {
        local: name,
        remote: name,
        group: name,
        sha256: Some(sha256),
        size: Some(size),
    }
}

const fn in_group(name: &'static str, group: &'static str) -> ModelFile {
    ModelFile {
        local: name,
        remote: name,
        group,
        sha256: None,
        size: None,
    }
}

/// A transformers folder as a user may have it: weights as safetensors or as the older
/// `pytorch_model.bin`, the tokenizer as `tokenizer.json` or a WordPiece `vocab.txt`.
const HF_EITHER: [ModelFile; 5] = [
    same("config.json"),
    in_group("model.safetensors", "weights"),
    in_group("pytorch_model.bin", "weights"),
    in_group("tokenizer.json", "tokenizer"),
    in_group("vocab.txt", "tokenizer"),
];

/// What the Chinese models' hub repositories publish (no safetensors, no tokenizer.json).
pub(super) const HF_PICKLED: [ModelFile; 3] = [
    same("config.json"),
    in_group("pytorch_model.bin", "weights"),
    in_group("vocab.txt", "tokenizer"),
];

pub(super) const HF_TRIO: [ModelFile; 3] = [
    same("config.json"),
    same("model.safetensors"),
    same("tokenizer.json"),
];

/// The published all-MiniLM-L6-v2 files (their hashes are those of the oracle's unchanged copy).
pub(super) const MINILM_FILES: [ModelFile; 3] = [
    pinned(
        "config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        612,
    ),
    pinned(
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        90_868_376,
    ),
    pinned(
        "tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        466_247,
    ),
];

/// What a VQGAN folder holds: the taming YAML and its weights, as `.ckpt` or converted.
const VQGAN_FILES: [ModelFile; 3] = [
    ModelFile {
        local: "model.yaml",
        remote: "model.yaml",
        group: "config",
        sha256: None,
        size: None,
    },
    ModelFile {
        local: "model.ckpt",
        remote: "model.ckpt",
        group: "weights",
        sha256: None,
        size: None,
    },
    ModelFile {
        local: "model.safetensors",
        remote: "model.safetensors",
        group: "weights",
        sha256: None,
        size: None,
    },
];

impl ModelKind {
    pub const ALL: [ModelKind; 7] = [
        Self::Gpt2,
        Self::Clip,
        Self::Vqgan,
        Self::Minilm,
        Self::Blip,
        Self::ChineseClip,
        Self::Gpt2Chinese,
    ];

    /// Subfolder name under `--models DIR`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Self::Gpt2 => "gpt2",
            Self::Clip => "clip",
            Self::Vqgan => "vqgan",
            Self::Minilm => "minilm",
            Self::Blip => "blip",
            Self::ChineseClip => "chinese-clip",
            Self::Gpt2Chinese => "gpt2-chinese",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Self::Gpt2 => "GPT-2 (story writer)",
            Self::Clip => "CLIP ViT-B/32 (image and text matcher)",
            Self::Vqgan => "VQGAN f16-16384 (illustrator)",
            Self::Minilm => "all-MiniLM-L6-v2 (prompt embeddings)",
            Self::Blip => "BLIP large (captioner)",
            Self::ChineseClip => "Chinese CLIP ViT-B/16 (imagery keywords)",
            Self::Gpt2Chinese => "GPT-2 Chinese poems (classical verse)",
        }
    }

    /// The files a folder of ours holds for this model.
    pub fn files(self) -> &'static [ModelFile] {
        match self {
            Self::Vqgan => &VQGAN_FILES,
            Self::Minilm => &MINILM_FILES,
            Self::Gpt2 | Self::ChineseClip | Self::Gpt2Chinese => &HF_EITHER,
            Self::Clip | Self::Blip => &HF_TRIO,
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
            .ok_or_else(|| format!("unknown model '{s}'; choose gpt2, clip, vqgan, minilm, blip, chinese-clip or gpt2-chinese"))
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
