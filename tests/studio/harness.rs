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
        offline: true,
        device: "cpu".into(),
        library: Some(dir.join("library.sqlite")),
        label_cache: Some(dir.join("labels")),
    }
}

pub fn studio(config: StudioConfig) -> Harness<'static, StudioApp> {
    Harness::builder()
        .with_size([1100.0, 760.0])
        // GPT-2's random output on the tiny models includes scripts the default fonts lack;
        // the real app draws those as boxes too.
        .allow_missing_glyphs()
        .build_eframe(move |cc| StudioApp::new(cc, config))
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

/// Clicks the widget labelled `label` and runs the two frames that apply and then show it.
pub fn click(harness: &mut Harness<'static, StudioApp>, label: &str) {
    use egui_kittest::kittest::Queryable;
    harness.get_by_label(label).click();
    harness.step();
    harness.step();
}
