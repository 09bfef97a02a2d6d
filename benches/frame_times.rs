//! Frame times of the studio while it illustrates a page on the tiny fixture models: each frame
//! drains the worker's events (a preview every step), uploads textures and lays out the panels.
//! Prints p50/p99 of the whole frame and of `ui` alone, as JSON. Run: `cargo bench --bench
//! frame_times`. The goal is p99 < 16 ms.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use storybook_studio::app::draft::PageView;
use storybook_studio::app::file_picker::ScriptedPicker;
use storybook_studio::app::{StudioApp, StudioConfig};
use storybook_studio::worker::EngineSettings;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let engine = EngineSettings {
        gpt2: Some(fixture("gpt2-tiny")),
        clip: Some(fixture("clip-tiny")),
        vqgan: Some(fixture("vqgan-tiny")),
        minilm: None,
        blip: None,
        cn_clip: None,
        gpt2_zh: None,
        offline: true,
        vqgan_model: String::new(),
        hub_mirror: None,
        hub_cache: None,
        device: "cpu".into(),
        gpt2_weights: String::new(),
        library: Some(dir.path().join("library.sqlite")),
        label_cache: Some(dir.path().join("labels")),
        models_dir: Some(dir.path().join("models")),
    };
    let config = StudioConfig {
        engine: Some(engine),
        fresh_state: true,
        picker: Box::new(ScriptedPicker::default()),
        ..StudioConfig::default()
    };
    let mut h: Harness<'static, StudioApp> = Harness::builder()
        .with_size([1100.0, 760.0])
        .allow_missing_glyphs()
        .build_eframe(move |cc| StudioApp::new(cc, config));
    {
        let app = h.state_mut();
        app.pages = vec![PageView::new("a lighthouse in a storm")];
        let o = &mut app.state.illustration;
        (o.width, o.height, o.cutn, o.iterations, o.preview_every) = (64, 64, 4, 100, 1);
    }
    h.step();
    // A click is applied after the frame's layout, and shown by the next frame.
    h.get_by_label("Illustrate").click();
    h.run_steps(2);
    h.get_by_label("Illustrate page 1").click();
    h.run_steps(2);
    h.state_mut().frame_times.clear();
    let mut frames = Vec::new();
    let start = Instant::now();
    // About 60 frames a second, as a window would ask for while previews arrive.
    while h.state().pages[0].png.is_none() && start.elapsed() < Duration::from_secs(600) {
        let t = Instant::now();
        h.step();
        frames.push(t.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(16));
    }
    let mut ui: Vec<f64> = h
        .state()
        .frame_times
        .iter()
        .map(|t| *t as f64 * 1000.0)
        .collect();
    frames.sort_by(f64::total_cmp);
    ui.sort_by(f64::total_cmp);
    let report = serde_json::json!({
        "frames": frames.len(),
        "previews": h.state().illustrate.preview_count,
        "seconds": start.elapsed().as_secs_f64(),
        "frame_ms": {"p50": percentile(&frames, 0.5), "p99": percentile(&frames, 0.99), "max": frames.last()},
        "ui_ms": {"p50": percentile(&ui, 0.5), "p99": percentile(&ui, 0.99)},
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("json"));
}
