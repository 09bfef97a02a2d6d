//! Text set in the PDF's fonts: which font draws each character, how wide text is, and where
//! lines break. Slot 0 is the built-in Helvetica (WinAnsi bytes), which draws what no embedded
//! font does as long as Windows-1252 has it, and '?' otherwise; slots 1.. are the fonts found
//! on the system (two-byte glyph ids of their subsets). Widths are the fonts' own advances, so
//! wrapping matches what is drawn. Chinese and Japanese put no spaces between words, so a line
//! may also break between two of their characters.

use std::collections::BTreeSet;
use std::path::PathBuf;

use subsetter::GlyphRemapper;

use super::helvetica::byte_width;
use super::pdf_font::{find_fonts, FoundFont};

/// The fonts one PDF uses.
pub struct Fonts {
    /// Embedded fonts (slot i + 1) and the old-to-new glyph ids of their subsets.
    pub embedded: Vec<(FoundFont, GlyphRemapper)>,
    /// Characters that print as '?': no installed font has them, nor Helvetica.
    pub missing: Vec<char>,
}

/// A stretch of a line drawn with one font: `codes` are what the PDF's show operator takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub slot: usize,
    pub codes: Vec<u8>,
}

impl Fonts {
    /// Fonts under `dirs` for `chars`, Helvetica for the rest.
    pub fn find(chars: &BTreeSet<char>, dirs: &[PathBuf]) -> Self {
        let (found, unfound) = find_fonts(chars, dirs);
        let embedded = found
            .into_iter()
            .map(|font| {
                let gids: Vec<u16> = font.glyphs.values().map(|g| g.0).collect();
                let remapper = GlyphRemapper::new_from_glyphs_sorted(&gids);
                (font, remapper)
            })
            .collect();
        let missing = unfound
            .into_iter()
            .filter(|&c| c != '?' && win_ansi_byte(c) == b'?')
            .collect();
        Self { embedded, missing }
    }

    /// Helvetica alone, as when no font is installed.
    #[cfg(test)]
    pub fn builtin(chars: &BTreeSet<char>) -> Self {
        Self::find(chars, &[])
    }

    /// The slot that draws `c`, its code, and its advance in thousandths of an em.
    fn glyph(&self, c: char) -> (usize, Code, f32) {
        for (i, (font, remapper)) in self.embedded.iter().enumerate() {
            if let Some(&(gid, width)) = font.glyphs.get(&c) {
                if let Some(new) = remapper.get(gid) {
                    return (i + 1, Code::Glyph(new), width);
                }
            }
        }
        let byte = win_ansi_byte(c);
        (0, Code::Byte(byte), byte_width(byte) as f32)
    }

    /// Width of `text` set at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.glyph(c).2).sum::<f32>() * size / 1000.0
    }

    /// `text` cut into runs of one font each, ready to draw.
    pub fn runs(&self, text: &str) -> Vec<Run> {
        let mut runs: Vec<Run> = Vec::new();
        for c in text.chars() {
            let (slot, code, _) = self.glyph(c);
            if runs.last().is_none_or(|r| r.slot != slot) {
                runs.push(Run {
                    slot,
                    codes: Vec::new(),
                });
            }
            let codes = &mut runs.last_mut().expect("pushed above").codes;
            match code {
                Code::Byte(b) => codes.push(b),
                Code::Glyph(g) => codes.extend_from_slice(&g.to_be_bytes()),
            }
        }
        runs
    }

    /// Greedy wrap of `text` into lines no wider than `width` at `size` points. Lines break at
    /// spaces, between CJK characters, and inside a word only when it alone is too wide.
    pub fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let space = self.width(" ", size);
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut line_w = 0.0;
        for word in text.split_whitespace() {
            for (k, piece) in pieces(word).into_iter().enumerate() {
                let gap = if k == 0 && !line.is_empty() {
                    space
                } else {
                    0.0
                };
                let piece_w = self.width(piece, size);
                if !line.is_empty() && line_w + gap + piece_w <= width {
                    if gap > 0.0 {
                        line.push(' ');
                    }
                    line.push_str(piece);
                    line_w += gap + piece_w;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                line_w = 0.0;
                // The piece alone: as many chunks as needed, each as long as fits (at least
                // one character), the last one left open for what follows.
                for c in piece.chars() {
                    let w = self.width(c.encode_utf8(&mut [0; 4]), size);
                    if !line.is_empty() && line_w + w > width {
                        lines.push(std::mem::take(&mut line));
                        line_w = 0.0;
                    }
                    line.push(c);
                    line_w += w;
                }
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }
}

enum Code {
    Byte(u8),
    Glyph(u16),
}

/// Windows-1252 byte for Helvetica's WinAnsiEncoding; anything else becomes '?'.
pub fn win_ansi_byte(c: char) -> u8 {
    match c as u32 {
        0x20..=0x7e | 0xa0..=0xff => c as u32 as u8,
        0x2018 => 0x91,
        0x2019 => 0x92,
        0x201c => 0x93,
        0x201d => 0x94,
        0x2013 => 0x96,
        0x2014 => 0x97,
        0x2026 => 0x85,
        _ => b'?',
    }
}

/// Han, kana, Hangul, and their punctuation and full-width forms.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFE30..=0xFE4F
        | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

/// Punctuation that must not start a line, and brackets that must not end one.
fn closing(c: char) -> bool {
    "，。、！？；：）」』》〉】〕…·～”’,.!?;:)".contains(c)
}
fn opening(c: char) -> bool {
    "（「『《〈【〔“‘(".contains(c)
}

/// A word cut where a line may break inside it: around each CJK character, keeping closing
/// punctuation with the character before it and opening brackets with the one after.
fn pieces(word: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<char> = None;
    for (i, c) in word.char_indices() {
        if let Some(p) = prev {
            if (is_cjk(c) || is_cjk(p)) && !closing(c) && !opening(p) {
                out.push(&word[start..i]);
                start = i;
            }
        }
        prev = Some(c);
    }
    out.push(&word[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin(text: &str) -> Fonts {
        Fonts::builtin(&text.chars().collect())
    }

    #[test]
    fn chinese_breaks_between_characters_but_not_before_its_commas() {
        assert_eq!(
            pieces("床前明月光，疑是"),
            ["床", "前", "明", "月", "光，", "疑", "是"]
        );
        assert_eq!(pieces("「月」好"), ["「月」", "好"]);
        assert_eq!(pieces("hello"), ["hello"]);
        assert_eq!(pieces("Zoë月"), ["Zoë", "月"]);
    }

    #[test]
    fn without_fonts_latin_1_is_kept_and_the_rest_is_missing() {
        let text = "café 月 🦊 ?";
        let fonts = builtin(text);
        assert_eq!(fonts.missing, ['月', '🦊']);
        let runs = fonts.runs("café 月");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].codes, b"caf\xe9 ?");
        assert!((fonts.width("Hi", 10.0) - 9.44).abs() < 1e-4);
    }

    #[test]
    fn wrapping_keeps_every_character_and_each_line_fits() {
        let fonts = builtin("x");
        let word = "x".repeat(300);
        let lines = fonts.wrap(&word, 15.0, 100.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| fonts.width(l, 15.0) <= 100.0));
        assert_eq!(lines.concat(), word);
        assert!(fonts.wrap("", 12.0, 100.0).is_empty());
        assert!(fonts.wrap("   \n\t ", 12.0, 100.0).is_empty());
        // A line narrower than one character still takes one character per line.
        assert_eq!(fonts.wrap("ab", 12.0, 0.5), ["a", "b"]);
        let poem = "床前明月光，疑是地上霜。";
        let lines = fonts.wrap(poem, 12.0, 40.0);
        assert_eq!(lines.concat(), poem);
        assert!(lines
            .iter()
            .all(|l| !l.starts_with('，') && !l.starts_with('。')));
    }
}
