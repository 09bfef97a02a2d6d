//! Building the studio on the tiny fixtures, and waiting for the worker without blocking frames.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use storybook_studio::app::file_picker::ScriptedPicker;
use storybook_studio::app::{StudioApp, StudioConfig};
use storybook_studio::worker::EngineSettings;

use super::common::fixture;

pub fn engine(dir: &Path) -> EngineSettings {
    EngineSettings {
        models_dir: Some(dir.join("no-models-here")),
        gpt2: Some(fixture("gpt2-tiny")),
        clip: Some(fixture("clip-tiny")),
        vqgan: Some(fixture("vqgan-tiny")),
        minilm: None,
        blip: None,
        cn_clip: Some(fixture("chinese-clip-tiny")),
        gpt2_zh: Some(fixture("gpt2-chinese-tiny")),
        offline: true,
        vqgan_model: String::new(),
        hub_mirror: None,
        hub_cache: Some(dir.join("hub-cache")),
        device: "cpu".into(),
        gpt2_weights: String::new(),
        library: Some(dir.join("library.sqlite")),
        label_cache: Some(dir.join("labels")),
    }
}

pub fn studio(config: StudioConfig) -> Harness<'static, StudioApp> {
    studio_sized(config, [1100.0, 760.0])
}

pub fn studio_sized(config: StudioConfig, size: [f32; 2]) -> Harness<'static, StudioApp> {
    Harness::builder()
        .with_size(size)
        // GPT-2's random output on the tiny models includes scripts the default fonts lack;
        // the real app draws those as boxes too.
        .allow_missing_glyphs()
        .build_eframe(move |cc| StudioApp::new(cc, config))
}

/// What eframe keeps between runs (its RON file), in memory.
#[derive(Default, Clone)]
pub struct MemoryStorage(pub std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }

    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }

    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }

    fn flush(&mut self) {}
}

/// Closes the studio as eframe does: `save` into `storage`, then the app is dropped, which
/// finishes the worker threads' queued work (the draft is written by then).
pub fn close(mut harness: Harness<'static, StudioApp>) -> MemoryStorage {
    let mut storage = MemoryStorage::default();
    eframe::App::save(harness.state_mut(), &mut storage);
    drop(harness);
    storage
}

/// Starts the studio again from what `close` kept, like the next run of the program.
pub fn reopen(storage: MemoryStorage, mut config: StudioConfig) -> Harness<'static, StudioApp> {
    config.fresh_state = false;
    let storage: &'static MemoryStorage = Box::leak(Box::new(storage));
    Harness::builder()
        .with_size([1100.0, 760.0])
        .allow_missing_glyphs()
        .build_eframe(move |cc| {
            cc.storage = Some(storage);
            StudioApp::new(cc, config)
        })
}

/// A small PNG with a gradient, different for each `seed`.
pub fn png(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(32, 32, |x, y| {
        image::Rgb([x as u8 * 8, y as u8 * 8, seed.wrapping_mul(40)])
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("a PNG encodes in memory");
    out
}

/// A library book with one illustrated page per sentence; returns its id.
pub fn saved_book(library: &Path, title: &str, sentences: &[&str]) -> i64 {
    use storybook_studio::store::{Library, NewBook, NewPage};
    let mut lib = Library::open(library).expect("the test library opens");
    let book = NewBook {
        title: title.into(),
        prompt: format!("a book called {title}"),
        planned_pages: sentences.len(),
        ..NewBook::default()
    };
    let pages: Vec<NewPage> = sentences
        .iter()
        .enumerate()
        .map(|(i, s)| NewPage {
            sentence: s.to_string(),
            png: Some(png(i as u8)),
            seed: 10 + i as u64,
            iterations: 50,
            similarity: Some(0.25 + i as f64 / 100.0),
            ..NewPage::default()
        })
        .collect();
    lib.create_book(&book, &pages)
        .expect("the test book is saved")
}

pub fn config(engine: EngineSettings) -> StudioConfig {
    StudioConfig {
        engine: Some(engine),
        fresh_state: true,
        picker: Box::new(ScriptedPicker::default()),
        ..StudioConfig::default()
    }
}

/// Steps frames until `done` holds, failing after `limit`.
pub fn wait_for(
    harness: &mut Harness<'static, StudioApp>,
    what: &str,
    limit: Duration,
    done: impl Fn(&StudioApp) -> bool,
) {
    let start = Instant::now();
    while !done(harness.state()) {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}; notices: {:?}",
            harness.state().notices.items
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.step();
}

/// A dropped file as the window system hands it over.
#[derive(Debug)]
pub struct DroppedPath(pub PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Clicks `label` once its place has settled: a dialog whose contents changed is re-centred
/// over a few frames, and kittest clicks where the widget was last drawn.
pub fn click_settled(harness: &mut Harness<'static, StudioApp>, label: &str) {
    use egui_kittest::kittest::Queryable;
    let mut last = harness.get_by_label(label).rect();
    for _ in 0..20 {
        harness.step();
        let now = harness.get_by_label(label).rect();
        if now == last {
            break;
        }
        last = now;
    }
    click(harness, label);
}

/// Clicks the widget labelled `label` and runs the two frames that apply and then show it.
pub fn click(harness: &mut Harness<'static, StudioApp>, label: &str) {
    use egui_kittest::kittest::Queryable;
    harness.get_by_label(label).click();
    harness.step();
    harness.step();
}
