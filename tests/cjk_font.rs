//! Chinese text in the studio draws with real glyphs: egui's bundled fonts have none, and the
//! system CJK font found at start-up (fontique, through egui's system font provider) has them
//! all, for both text styles. Ignored by a plain `cargo test`, whose machine may have no CJK
//! font; `.ci/run` installs fonts-wqy-microhei and runs it by name, where a missing font fails.

use egui::{FontId, RawInput};
use storybook_studio::app::cjk_font;

const POEM: &str = "床前明月光，疑是地上霜。举头望明月，低头思故乡。";

/// One frame, its font atlas updates dropped (no renderer here).
fn frame(ctx: &egui::Context) {
    let mut output = ctx.run_ui(RawInput::default(), |_ui| {});
    output.textures_delta.clear();
}

#[test]
#[ignore = "needs a system CJK font; .ci/run installs one and runs this by name"]
fn the_system_cjk_font_draws_a_chinese_poem() {
    let font = cjk_font::find('月')
        .expect("no system font draws Chinese; install fonts-wqy-microhei or fonts-noto-cjk");
    eprintln!("found {}", font.name);
    let ctx = egui::Context::default();
    frame(&ctx);
    for id in [FontId::proportional(16.0), FontId::monospace(16.0)] {
        assert!(
            !ctx.fonts_mut(|f| f.has_glyphs(&id, POEM)),
            "egui's own fonts were expected to lack Chinese"
        );
    }
    ctx.add_font(font);
    frame(&ctx);
    for id in [FontId::proportional(16.0), FontId::monospace(16.0)] {
        assert!(ctx.fonts_mut(|f| f.has_glyphs(&id, POEM)), "{id:?}");
        // Real glyphs have ink of their own width, not one shared replacement box.
        let widths: Vec<f32> =
            ctx.fonts_mut(|f| POEM.chars().map(|c| f.glyph_width(&id, c)).collect());
        assert!(widths.iter().all(|w| *w > 0.0), "{widths:?}");
    }
}
