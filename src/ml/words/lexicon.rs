//! Term lists that CLIP ranks against an image. The curated lists ship inside the binary (from
//! `assets/lexicons/`); a user's folder of `.txt` files with the same names overrides them.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::ml::{Error, Result};

/// A named list of terms, in file order, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexicon {
    pub name: String,
    pub terms: Vec<String>,
}

/// The built-in lexicons: (name, file text).
const BUILTIN: [(&str, &str); 7] = [
    (
        "subjects",
        include_str!("../../../assets/lexicons/subjects.txt"),
    ),
    (
        "scenes",
        include_str!("../../../assets/lexicons/scenes.txt"),
    ),
    ("moods", include_str!("../../../assets/lexicons/moods.txt")),
    (
        "mediums",
        include_str!("../../../assets/lexicons/mediums.txt"),
    ),
    (
        "styles",
        include_str!("../../../assets/lexicons/styles.txt"),
    ),
    (
        "modifiers",
        include_str!("../../../assets/lexicons/modifiers.txt"),
    ),
    (
        "imagery",
        include_str!("../../../assets/lexicons/imagery.txt"),
    ),
];

/// The Chinese imagery keywords' lexicon name (its cache file is named after it).
pub const ZH_IMAGERY: &str = "zh-imagery";
/// A user's own keyword list (`--terms FILE`).
pub const ZH_CUSTOM: &str = "zh-custom";
const ZH_IMAGERY_TEXT: &str = include_str!("../../../assets/lexicons/zh/imagery.txt");

/// The names of the lexicons the studio uses, in display order.
pub const NAMES: [&str; 7] = [
    "subjects",
    "scenes",
    "moods",
    "mediums",
    "styles",
    "modifiers",
    "imagery",
];

impl Lexicon {
    /// One term per line; `#` starts a comment line; blank lines and repeats (ignoring case)
    /// are dropped so a hand-edited file cannot skew a ranking.
    pub fn parse(name: &str, text: &str) -> Self {
        let mut seen = std::collections::HashSet::new();
        let terms = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter(|l| seen.insert(l.to_lowercase()))
            .map(str::to_string)
            .collect();
        Self {
            name: name.to_string(),
            terms,
        }
    }

    pub fn builtin(name: &str) -> Option<Self> {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Self::parse(n, text))
    }

    /// Every built-in lexicon, in [`NAMES`] order.
    pub fn all_builtin() -> Vec<Self> {
        BUILTIN.iter().map(|(n, t)| Self::parse(n, t)).collect()
    }

    /// Built-ins, each replaced by `dir/NAME.txt` where that file exists.
    pub fn load_all(dir: Option<&Path>) -> Result<Vec<Self>> {
        let mut out = Vec::new();
        for (name, text) in BUILTIN {
            let custom = dir.map(|d| d.join(format!("{name}.txt")));
            let lexicon = match custom {
                Some(path) if path.exists() => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|source| Error::Io { path, source })?;
                    Self::parse(name, &text)
                }
                _ => Self::parse(name, text),
            };
            if lexicon.terms.is_empty() {
                return Err(Error::Input(format!("the {name} lexicon has no terms")));
            }
            out.push(lexicon);
        }
        Ok(out)
    }

    /// The classical-imagery keywords for Chinese poems: `file` where given, else
    /// `dir/zh/imagery.txt` where that exists (a `--lexicons` folder), else the built-in list.
    pub fn chinese_imagery(file: Option<&Path>, dir: Option<&Path>) -> Result<Self> {
        let custom = file.map(Path::to_path_buf).or_else(|| {
            dir.map(|d| d.join("zh").join("imagery.txt"))
                .filter(|p| p.exists())
        });
        let Some(path) = custom else {
            return Ok(Self::parse(ZH_IMAGERY, ZH_IMAGERY_TEXT));
        };
        let bytes = std::fs::read(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            Error::Input(format!(
                "{} is not UTF-8 text (byte {} is not); save the keyword list as UTF-8",
                path.display(),
                e.valid_up_to()
            ))
        })?;
        // Its own name, so its cached embeddings and the built-in list's do not replace each
        // other when a user switches between them.
        let lexicon = Self::parse(ZH_CUSTOM, text.trim_start_matches('\u{feff}'));
        if lexicon.terms.is_empty() {
            return Err(Error::Input(format!(
                "{} has no keywords; write one per line",
                path.display()
            )));
        }
        Ok(lexicon)
    }

    /// A hash of the terms, so a cache can tell an edited list from the one it embedded.
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        for t in &self.terms {
            h.update(t.as_bytes());
            h.update([0u8]);
        }
        hex(&h.finalize()[..8])
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
