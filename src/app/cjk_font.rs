//! Chinese text needs a CJK font, and egui bundles none. At start-up a background thread asks
//! the system's font discovery (fontique, through egui's system font provider: fontconfig on
//! Linux, DirectWrite, Core Text) for a font that draws 月 in simplified Chinese — Noto Sans
//! CJK, WenQuanYi, Microsoft YaHei, PingFang… — and the studio adds it behind its own fonts for
//! both text styles. It is added explicitly, not only left to on-demand fallback, so every frame
//! and every test draws Chinese the same way. When none exists, the first switch to 中文 says so.

use std::sync::mpsc::{channel, Receiver};

use egui::{FallbackRequest, FontFamily, FontInsert, FontPriority, FontProvider, InsertFontFamily};

/// Where the search stands.
pub enum CjkFont {
    Searching(Receiver<Option<FontInsert>>),
    Found(String),
    Missing { told: bool },
}

impl Default for CjkFont {
    fn default() -> Self {
        Self::start()
    }
}

/// A system font that draws `c` in simplified Chinese, if there is one.
pub fn find(c: char) -> Option<FontInsert> {
    let provider = egui_system_font_provider::SystemFontProvider::new().with_locale(Some("zh-CN"));
    let cluster = c.to_string();
    let request = FallbackRequest {
        cluster: &cluster,
        family: &FontFamily::Proportional,
    };
    let mut font = provider.font_for(&request)?;
    font.families = [FontFamily::Proportional, FontFamily::Monospace]
        .into_iter()
        .map(|family| InsertFontFamily {
            family,
            priority: FontPriority::Lowest,
        })
        .collect();
    Some(font)
}

/// What the user is told when no font draws Chinese.
pub const MISSING: &str = "No Chinese font was found on this system, so Chinese poems show as \
    boxes. Install one (Noto Sans CJK: fonts-noto-cjk; or WenQuanYi) and restart the studio.";

impl CjkFont {
    pub fn start() -> Self {
        let (tx, rx) = channel();
        let spawned = std::thread::Builder::new()
            .name("cjk-font".into())
            .spawn(move || {
                let _ = tx.send(find('月'));
            });
        match spawned {
            Ok(_) => Self::Searching(rx),
            Err(_) => Self::Missing { told: false },
        }
    }

    /// Adds the font once found; returns the notice to show, once, when Chinese is wanted and
    /// no font can draw it.
    pub fn poll(&mut self, ctx: &egui::Context, chinese_wanted: bool) -> Option<&'static str> {
        if let Self::Searching(rx) = self {
            match rx.try_recv() {
                Ok(Some(font)) => {
                    let name = font.name.clone();
                    ctx.add_font(font);
                    *self = Self::Found(name);
                }
                Ok(None) | Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    *self = Self::Missing { told: false };
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    ctx.request_repaint_after(std::time::Duration::from_millis(100));
                }
            }
        }
        match self {
            Self::Missing { told } if chinese_wanted && !*told => {
                *told = true;
                Some(MISSING)
            }
            _ => None,
        }
    }

    /// The font's name once found (`system:Noto Sans CJK SC:…`).
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Found(name) => Some(name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_font_is_told_once_and_only_when_chinese_is_wanted() {
        let ctx = egui::Context::default();
        let mut font = CjkFont::Missing { told: false };
        assert_eq!(
            font.poll(&ctx, false),
            None,
            "English users are not bothered"
        );
        assert_eq!(font.poll(&ctx, true), Some(MISSING));
        assert_eq!(font.poll(&ctx, true), None, "said once");
        let (tx, rx) = channel();
        let mut searching = CjkFont::Searching(rx);
        drop(tx);
        assert_eq!(
            searching.poll(&ctx, true),
            Some(MISSING),
            "a failed search is no font"
        );
        assert!(searching.name().is_none());
    }
}
