//! `--screenshot PATH --frames N`: render N frames in a real window, save the window as a PNG
//! and close, so CI and the README can look at the real studio. It waits (up to twenty times
//! N frames) for the work sent at start, such as opening a book, so the shot shows its result.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::StudioApp;

pub struct Plan {
    pub path: PathBuf,
    pub frames: u64,
    seen: u64,
    /// Frames in a row with no command still running.
    idle: u64,
    requested: bool,
    /// Filled by the screenshot callback: the outcome, as a sentence on failure.
    outcome: Arc<Mutex<Option<Result<(), String>>>>,
}

impl Plan {
    pub fn new(path: PathBuf, frames: u64) -> Self {
        Self {
            path,
            frames: frames.max(1),
            seen: 0,
            idle: 0,
            requested: false,
            outcome: Arc::new(Mutex::new(None)),
        }
    }
}

pub fn ui(app: &mut StudioApp, ctx: &egui::Context) {
    let Some(plan) = &mut app.screenshot else {
        return;
    };
    plan.seen += 1;
    plan.idle = if app.worker.is_busy() {
        0
    } else {
        plan.idle + 1
    };
    ctx.request_repaint();
    // The system CJK font is looked for at start-up; the shot waits for that answer too.
    let fonts_ready = !matches!(app.cjk_font, super::cjk_font::CjkFont::Searching(_));
    let settled = (plan.idle >= 3 && fonts_ready) || plan.seen >= plan.frames.saturating_mul(20);
    if plan.seen >= plan.frames && settled && !plan.requested {
        plan.requested = true;
        let path = plan.path.clone();
        let outcome = plan.outcome.clone();
        ctx.request_screenshot(move |image| {
            let result = save(&image, &path);
            if let Ok(mut o) = outcome.lock() {
                *o = Some(result);
            }
        });
    }
}

pub fn logic(app: &mut StudioApp, ctx: &egui::Context) {
    let Some(plan) = &app.screenshot else { return };
    let outcome = plan.outcome.lock().ok().and_then(|mut o| o.take());
    if let Some(result) = outcome {
        match result {
            Ok(()) => {
                eprintln!("screenshot saved to {}", plan.path.display());
                eprintln!("{}", glyph_report(app, ctx));
            }
            Err(e) => eprintln!("error: {e}"),
        }
        app.keeping.quitting = true;
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }
}

/// Which Chinese font was added, and which characters of the book's pages no font could draw
/// (they show as boxes): what a test of the real window reads besides the pixels.
fn glyph_report(app: &StudioApp, ctx: &egui::Context) -> String {
    let font = app.cjk_font.name().unwrap_or("none");
    let id = egui::FontId::proportional(14.0);
    let mut missing: Vec<char> = app
        .state
        .pages
        .iter()
        .flat_map(|p| p.sentence.chars())
        .filter(|c| !c.is_whitespace())
        .filter(|&c| !ctx.fonts_mut(|f| f.has_glyph(&id, c)))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    let missing: String = missing.into_iter().collect();
    let missing = if missing.is_empty() { "none" } else { &missing };
    format!("fonts: Chinese font {font}; characters of the pages no font draws: {missing}")
}

fn save(image: &egui::ColorImage, path: &std::path::Path) -> Result<(), String> {
    let [w, h] = image.size;
    let rgba: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let img = image::RgbaImage::from_raw(w as u32, h as u32, rgba)
        .ok_or("the screenshot has the wrong number of pixels")?;
    img.save(path).map_err(|e| {
        format!(
            "the screenshot could not be saved to {}: {e}",
            path.display()
        )
    })
}
