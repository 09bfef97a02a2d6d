//! The real studio in a real window: `storybook-studio gui --screenshot` under the display that
//! `.ci/run` starts (Xvfb, with lavapipe for Vulkan). Ignored by a plain `cargo test`, which may
//! have no display; `.ci/run` runs it by name, where a missing display fails.

use std::process::Command;

#[test]
#[ignore = "needs a display; .ci/run runs it under xvfb-run"]
fn the_studio_window_renders_and_is_not_blank() {
    assert!(
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some(),
        "no display: run this test under xvfb-run"
    );
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("studio.png");
    let out = Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .args(["gui", "--frames", "30", "--offline", "--screenshot"])
        .arg(&shot)
        .arg("--library")
        .arg(dir.path().join("library.sqlite"))
        .arg("--models")
        .arg(dir.path().join("models"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the studio failed: {stderr}");
    let img = image::open(&shot)
        .unwrap_or_else(|e| panic!("no screenshot ({e}); stderr: {stderr}"))
        .to_rgba8();
    let [w, h] = storybook_studio::app::run::WINDOW_SIZE;
    assert_eq!(
        img.dimensions(),
        (w as u32, h as u32),
        "the window has the asked size"
    );
    // Not blank: many distinct colours (text, widgets, panels), not one flat fill.
    let mut colours: Vec<[u8; 4]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 20,
        "only {} distinct colours",
        colours.len()
    );
    if let Ok(keep) = std::env::var("STORYBOOK_SCREENSHOT_OUT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}
