//! Where each model lives on the Hugging Face hub: repository, pinned revision, paths, and the
//! sha256 and size where published. VQGAN has several to choose from.

use super::kinds::{ModelFile, ModelKind, HF_PICKLED, HF_TRIO, MINILM_FILES};

/// GPT-2 124M at its pinned commit: the weights' published sha256 and size.
const GPT2_FILES: [ModelFile; 3] = [
    HF_TRIO[0],
    ModelFile {
        sha256: Some("248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707"),
        size: Some(548_105_171),
        ..HF_TRIO[1]
    },
    HF_TRIO[2],
];

/// A taming checkpoint pair as a hub repository keeps it: `remote` paths, our local names.
const fn vq(
    remote: &'static str,
    local: &'static str,
    group: &'static str,
    sha256: Option<&'static str>,
) -> ModelFile {
    ModelFile {
        local,
        remote,
        group,
        sha256,
        size: None,
    }
}

/// Where a model lives on the Hugging Face hub, and the files to fetch from there.
#[derive(Debug, Clone, Copy)]
pub struct HubSource {
    /// The name a user chooses it by (`--vqgan-model wikiart`); the model's own name otherwise.
    pub name: &'static str,
    /// What it is, for lists and messages.
    pub about: &'static str,
    pub repo: &'static str,
    /// A 40-hex commit where one is known, so the same bytes come every time.
    pub revision: &'static str,
    /// Older repo ids under which Python users may have it cached.
    pub aliases: &'static [&'static str],
    pub files: &'static [ModelFile],
}

impl HubSource {
    /// Whether the revision is a commit: then a file without a published hash is still fixed.
    pub fn pinned_by_commit(&self) -> bool {
        super::hf_cache::is_commit(self.revision)
    }
}

/// `Somnai/pytti-vqgan-checkpoints`, each model in a folder of its own at this commit.
const PYTTI_REPO: &str = "Somnai/pytti-vqgan-checkpoints";
const PYTTI_REVISION: &str = "debc22c8f285c7734980c464ff992d335dde6e9a";

macro_rules! pytti {
    ($name:literal, $about:literal, $ckpt:literal, $yaml:literal) => {
        HubSource {
            name: $name,
            about: $about,
            repo: PYTTI_REPO,
            revision: PYTTI_REVISION,
            aliases: &[],
            // The checkpoint first: a cut or refused download is most likely there, and
            // each file is verified and kept on its own, so the order costs nothing else.
            files: &[
                vq(
                    concat!($name, "/", $name, ".ckpt"),
                    "model.ckpt",
                    "weights",
                    Some($ckpt),
                ),
                vq(
                    concat!($name, "/", $name, ".yaml"),
                    "model.yaml",
                    "config",
                    Some($yaml),
                ),
            ],
        }
    };
}

/// The VQGAN illustrators a user can choose; the first is the default.
pub static VQGAN_SOURCES: [HubSource; 6] = [
    pytti!(
        "imagenet",
        "ImageNet f16-16384, the all-round default",
        "845a68805098cb666420d5db93df53f3a3b6dd443e6dd85c05759c5b998cd663",
        "00e2c6189926f1d89ecfef73e9598db77981c1982f0555fbade963ffd16143c7"
    ),
    pytti!(
        "wikiart",
        "WikiArt f16-16384, painterly",
        "bd08bb46301f98be1712bb2be9f8868cea30b53137cd985d4d6e8da8b3e02c36",
        "6e78241d2828ff35b8381839ce249c24a6c468ed429760d33a25e98e7f24499a"
    ),
    pytti!(
        "coco",
        "COCO (a Net2Net checkpoint; its first-stage VQGAN is used)",
        "106cc20fde571df14afc4349d62218d8213cf47177c682ecaa78a8c28b12f9de",
        "17d0c2d9fda59eccade2a6070d833804b759dc817da42c2268be8cf1eb047676"
    ),
    pytti!(
        "sflickr",
        "S-FLICKR landscapes (a Net2Net checkpoint; its first-stage VQGAN is used)",
        "8a8adea3da8dab412675772831370dd948e0aa97bb11a9488a2f328b58dbc929",
        "c27f012996f3f1f02580f063be47fd60bdd8528efb04d7318b2cbe8a86505b1b"
    ),
    pytti!(
        "faceshq",
        "FacesHQ faces (a Net2Net checkpoint; its first-stage VQGAN is used)",
        "3274bba51bd565c90990bbcf7bb5dad0b9b95a6a77011980afc4c3cfc4d1cad1",
        "726ca97fb266c3c744f26e5aba2e579a51e310eee711a15f22224031dfdd57e2"
    ),
    HubSource {
        name: "imagenet-cc",
        about:
            "f16-16384 fine-tuned on CC3M and YFCC (boris); pinned by revision, no published hash",
        repo: "boris/vqgan_f16_16384",
        revision: "79adffafbf70392d3b968e6a65382999274f8af2",
        aliases: &[],
        files: &[
            vq("config.yaml", "model.yaml", "config", None),
            vq("model.ckpt", "model.ckpt", "weights", None),
        ],
    },
];

/// The default VQGAN's second source, tried when the mirror cannot be reached.
pub const VQGAN_FALLBACK: &str = "imagenet-cc";

/// The VQGAN source called `name`, or a sentence naming the choices.
pub fn vqgan_source(name: &str) -> Result<&'static HubSource, String> {
    if let Some(source) = VQGAN_SOURCES
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name.trim()))
    {
        return Ok(source);
    }
    let names: Vec<&str> = VQGAN_SOURCES.iter().map(|s| s.name).collect();
    if name.trim().eq_ignore_ascii_case("openimages") {
        return Err(format!(
            "openimages is a Gumbel-quantized f8 VQGAN, which this studio cannot load; choose one \
             of {}",
            names.join(", ")
        ));
    }
    Err(format!(
        "unknown VQGAN model '{name}'; choose one of {}",
        names.join(", ")
    ))
}

static GPT2_SOURCE: HubSource = HubSource {
    name: "gpt2",
    about: "GPT-2 124M",
    repo: "openai-community/gpt2",
    // The commit `main` has pointed at since the safetensors upload; the weights'
    // hash is the one published with it (config and tokenizer: pinned by commit).
    revision: "607a30d783dfa663caf39e06633721c8d4cfcd7e",
    aliases: &["gpt2"],
    files: &GPT2_FILES,
};

static CLIP_SOURCE: HubSource = HubSource {
    name: "clip",
    about: "CLIP ViT-B/32",
    repo: "openai/clip-vit-base-patch32",
    // The pull request that added model.safetensors (main has only pickles). Not
    // pinned to a commit: none is known here; see README "Models".
    revision: "refs/pr/15",
    aliases: &[],
    files: &HF_TRIO,
};

static MINILM_SOURCE: HubSource = HubSource {
    name: "minilm",
    about: "all-MiniLM-L6-v2",
    repo: "sentence-transformers/all-MiniLM-L6-v2",
    revision: "c9745ed1d9f207416be6d2e6f8de32d1f16199bf",
    aliases: &[],
    files: &MINILM_FILES,
};

static BLIP_SOURCE: HubSource = HubSource {
    name: "blip",
    about: "BLIP large image captioning",
    repo: "Salesforce/blip-image-captioning-large",
    // The pull request that added model.safetensors, the revision candle's BLIP example
    // loads (main holds pickles). A ref, not a commit: see README "Models".
    revision: "refs/pr/18",
    aliases: &[],
    files: &HF_TRIO,
};

static CHINESE_CLIP_SOURCE: HubSource = HubSource {
    name: "chinese-clip",
    about: "Chinese CLIP ViT-B/16",
    repo: "OFA-Sys/chinese-clip-vit-base-patch16",
    // Published as a pickle and vocab.txt only; read through the tensors-only pickle walk.
    // A ref, not a commit: none is known here; see README "Models".
    revision: "main",
    aliases: &[],
    files: &HF_PICKLED,
};

static GPT2_CHINESE_SOURCE: HubSource = HubSource {
    name: "gpt2-chinese",
    about: "GPT-2 trained on classical Chinese poems (UER)",
    repo: "uer/gpt2-chinese-poem",
    revision: "main",
    aliases: &[],
    files: &HF_PICKLED,
};

impl ModelKind {
    /// Where the model comes from by default (for VQGAN, the ImageNet model of the mirror).
    pub fn hub(self) -> &'static HubSource {
        match self {
            Self::Gpt2 => &GPT2_SOURCE,
            Self::Clip => &CLIP_SOURCE,
            Self::Vqgan => &VQGAN_SOURCES[0],
            Self::Minilm => &MINILM_SOURCE,
            Self::Blip => &BLIP_SOURCE,
            Self::ChineseClip => &CHINESE_CLIP_SOURCE,
            Self::Gpt2Chinese => &GPT2_CHINESE_SOURCE,
        }
    }
}
