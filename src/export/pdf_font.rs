//! The fonts a PDF embeds so every script prints as itself: installed font files are searched
//! for the characters a book uses, much as fontconfig would, without linking it. Well-known
//! complete fonts are tried first (DejaVu Sans, Noto Sans, Liberation Sans for Latin, Greek and
//! Cyrillic; WenQuanYi Micro Hei, Noto Sans CJK for Chinese), then every other installed font,
//! until each character has one. A font is only taken when it has outlines the PDF can embed
//! (TrueType or CFF, not colour bitmaps) and its licence bits allow embedding.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ttf_parser::{Face, Permissions};

/// One embeddable font face and the book's characters it draws.
pub struct FoundFont {
    /// The whole font file (a collection for .ttc); the subset is cut from it when written.
    pub data: Vec<u8>,
    /// The face's index inside a collection; 0 for a single font.
    pub index: u32,
    /// Its PostScript name (or the file name), ASCII only, for the PDF's /BaseFont.
    pub name: String,
    /// Glyph id and advance (thousandths of an em) of each character this font is chosen for.
    pub glyphs: BTreeMap<char, (u16, f32)>,
}

/// Where fonts are installed on Linux, macOS and Windows, and in the user's home.
pub fn system_font_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = [
        "/usr/share/fonts",
        "/usr/local/share/fonts",
        "/System/Library/Fonts",
        "/Library/Fonts",
        "C:\\Windows\\Fonts",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        dirs.push(home.join(".local/share/fonts"));
        dirs.push(home.join(".fonts"));
        dirs.push(home.join("Library/Fonts"));
    }
    dirs
}

/// Font files by preference, best first: file names of complete, well-hinted text fonts.
const PREFERRED: [&str; 9] = [
    "dejavusans.ttf",
    "notosans-regular.ttf",
    "liberationsans-regular.ttf",
    "arial.ttf",
    "wqy-microhei.ttc",
    "notosanscjk-regular.ttc",
    "notosanscjksc-regular.otf",
    "wqy-zenhei.ttc",
    "msyh.ttc",
];

/// Words in a file name that mark a style; plain faces are tried before these.
const STYLED: [&str; 10] = [
    "bold",
    "italic",
    "oblique",
    "light",
    "mono",
    "thin",
    "black",
    "condensed",
    "math",
    "serif",
];

fn rank(path: &Path) -> (usize, PathBuf) {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let rank = match PREFERRED.iter().position(|p| *p == name) {
        Some(i) => i,
        None if STYLED.iter().any(|s| name.contains(s)) => 200,
        None => 100,
    };
    (rank, path.to_path_buf())
}

/// Every font file under `dirs`, in the order they are tried.
fn font_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in dirs {
        collect(dir, 0, &mut found);
    }
    found.sort_by_key(|p| rank(p));
    found.dedup();
    found
}

fn collect(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) {
    // Font folders are shallow; the limit only guards against symlink loops.
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if depth < 6 {
                collect(&path, depth + 1, found);
            }
        } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            ["ttf", "otf", "ttc", "otc"].contains(&e.to_ascii_lowercase().as_str())
        }) {
            found.push(path);
        }
    }
}

/// A face whose outlines and licence let it be embedded, or None.
fn embeddable(data: &[u8], index: u32) -> Option<Face<'_>> {
    let face = Face::parse(data, index).ok()?;
    let tables = face.tables();
    // subsetter cuts TrueType (glyf) and CFF outlines; colour bitmap fonts draw nothing in a PDF.
    let outlines = tables.glyf.is_some() || tables.cff.is_some();
    let allowed =
        face.permissions() != Some(Permissions::Restricted) && face.is_subsetting_allowed();
    (outlines && allowed && face.units_per_em() > 0).then_some(face)
}

/// Which glyph draws `c`, if the face has a real one (not .notdef).
fn glyph(face: &Face, c: char) -> Option<(u16, f32)> {
    let id = face.glyph_index(c).filter(|g| g.0 != 0)?;
    let advance = face.glyph_hor_advance(id).unwrap_or(0) as f32;
    Some((id.0, advance * 1000.0 / face.units_per_em() as f32))
}

fn postscript_name(face: &Face, path: &Path) -> String {
    let name = face
        .names()
        .into_iter()
        .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
        .find_map(|n| n.to_string())
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(60)
        .collect();
    if clean.is_empty() {
        "Font".into()
    } else {
        clean
    }
}

/// The fonts under `dirs` that together draw as many of `chars` as can be drawn, each
/// character given to the first font (in preference order) that has it, and the characters
/// none of them draws. Whitespace and control characters need no glyph and are left out.
pub fn find_fonts(chars: &BTreeSet<char>, dirs: &[PathBuf]) -> (Vec<FoundFont>, Vec<char>) {
    let mut missing: BTreeSet<char> = chars
        .iter()
        .copied()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    let mut fonts = Vec::new();
    if missing.is_empty() {
        return (fonts, Vec::new());
    }
    for path in font_files(dirs) {
        let Ok(data) = std::fs::read(&path) else {
            continue;
        };
        let faces = ttf_parser::fonts_in_collection(&data).unwrap_or(1);
        for index in 0..faces.min(64) {
            let Some(face) = embeddable(&data, index) else {
                continue;
            };
            let glyphs: BTreeMap<char, (u16, f32)> = missing
                .iter()
                .filter_map(|&c| glyph(&face, c).map(|g| (c, g)))
                .collect();
            if glyphs.is_empty() {
                continue;
            }
            let mut glyphs = glyphs;
            // Spaces come from the font that draws the words around them.
            if let Some(space) = glyph(&face, ' ') {
                glyphs.insert(' ', space);
            }
            // A font the subsetter cannot cut would fail the whole export later: skip it now.
            let gids: Vec<u16> = glyphs.values().map(|g| g.0).collect();
            let remapper = subsetter::GlyphRemapper::new_from_glyphs_sorted(&gids);
            if subsetter::subset(&data, index, &remapper).is_err() {
                continue;
            }
            for c in glyphs.keys() {
                missing.remove(c);
            }
            let name = postscript_name(&face, &path);
            fonts.push(FoundFont {
                data: data.clone(),
                index,
                name,
                glyphs,
            });
            break;
        }
        if missing.is_empty() {
            break;
        }
    }
    (fonts, missing.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferred_fonts_come_first_and_styled_ones_last() {
        let mut files = [
            PathBuf::from("/f/DejaVuSans-Bold.ttf"),
            PathBuf::from("/f/Zed.ttf"),
            PathBuf::from("/f/wqy-microhei.ttc"),
            PathBuf::from("/f/DejaVuSans.ttf"),
        ];
        files.sort_by_key(|p| rank(p));
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "DejaVuSans.ttf",
                "wqy-microhei.ttc",
                "Zed.ttf",
                "DejaVuSans-Bold.ttf"
            ]
        );
    }

    #[test]
    fn no_folders_or_no_fonts_find_nothing_and_say_what_is_missing() {
        let chars: BTreeSet<char> = "é 月\n".chars().collect();
        let (fonts, missing) = find_fonts(&chars, &[]);
        assert!(fonts.is_empty());
        assert_eq!(missing, vec!['é', '月']);
        let dir = tempfile::tempdir().unwrap();
        // A file that only looks like a font is skipped, not a panic.
        std::fs::write(dir.path().join("broken.ttf"), b"not a font").unwrap();
        let (fonts, missing) = find_fonts(&chars, &[dir.path().to_path_buf()]);
        assert!(fonts.is_empty() && missing.len() == 2);
        let (fonts, missing) = find_fonts(&" \t".chars().collect(), &[dir.path().into()]);
        assert!(fonts.is_empty() && missing.is_empty());
    }

    /// Whatever this machine has installed: each character goes to one font, never two.
    #[test]
    fn each_character_is_drawn_by_exactly_one_found_font() {
        let chars: BTreeSet<char> = "Zoë Москва θάλασσα 明月 🦊".chars().collect();
        let (fonts, missing) = find_fonts(&chars, &system_font_dirs());
        for c in chars.iter().filter(|c| !c.is_whitespace()) {
            let owners = fonts.iter().filter(|f| f.glyphs.contains_key(c)).count();
            let lost = missing.contains(c) as usize;
            assert_eq!(owners + lost, 1, "{c} has {owners} fonts");
        }
        for f in &fonts {
            assert!(!f.name.is_empty() && f.name.is_ascii());
            assert!(f.glyphs.values().all(|&(g, w)| g > 0 && w >= 0.0));
        }
    }
}
