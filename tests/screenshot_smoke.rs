//! The real studio in a real window: `storybook-studio gui --screenshot` under the display that
//! `.ci/run` starts (Xvfb, with lavapipe for Vulkan). Ignored by a plain `cargo test`, which may
//! have no display; `.ci/run` runs it by name, where a missing display fails.

use std::path::Path;
use std::process::Command;

fn assert_display() {
    assert!(
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some(),
        "no display: run this test under xvfb-run"
    );
}

/// Runs the studio with `args` in `home` (its own data, cache and library) and returns the
/// screenshot it took.
fn studio_shot(home: &Path, name: &str, args: &[&str]) -> image::RgbaImage {
    let shot = home.join(name);
    let out = Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .arg("gui")
        .args(args)
        .args(["--frames", "30", "--offline", "--screenshot"])
        .arg(&shot)
        .arg("--library")
        .arg(home.join("library.sqlite"))
        .arg("--models")
        .arg(home.join("models"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the studio failed: {stderr}");
    image::open(&shot)
        .unwrap_or_else(|e| panic!("no screenshot ({e}); stderr: {stderr}"))
        .to_rgba8()
}

/// Pixels of a pure magenta, which nothing in the studio's own look uses.
fn magenta(img: &image::RgbaImage) -> usize {
    img.pixels()
        .filter(|p| p[0] > 230 && p[1] < 30 && p[2] > 230)
        .count()
}

#[test]
#[ignore = "needs a display; .ci/run runs it under xvfb-run"]
fn a_saved_book_is_drawn_again_after_a_restart() {
    assert_display();
    let home = tempfile::tempdir().unwrap();
    let png = {
        let img = image::RgbImage::from_pixel(64, 64, image::Rgb([255, 0, 255]));
        let mut out = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let id = {
        use storybook_studio::store::{Library, NewBook, NewPage};
        let mut lib = Library::open(&home.path().join("library.sqlite")).unwrap();
        let book = NewBook {
            title: "The Magenta Fox".into(),
            prompt: "a magenta fox".into(),
            planned_pages: 1,
            ..NewBook::default()
        };
        let page = NewPage {
            sentence: "The fox was magenta.".into(),
            png: Some(png),
            ..NewPage::default()
        };
        lib.create_book(&book, &[page]).unwrap()
    };
    let id = id.to_string();
    let first = studio_shot(
        home.path(),
        "opened.png",
        &["--open-book", &id, "--tab", "read"],
    );
    let opened = magenta(&first);
    assert!(
        opened > 50_000,
        "the opened book's picture is drawn ({opened} magenta pixels)"
    );
    // The next run opens nothing: the book in progress and its picture come back by themselves.
    let second = studio_shot(home.path(), "restarted.png", &[]);
    let restarted = magenta(&second);
    if let Ok(keep) = std::env::var("STORYBOOK_SCREENSHOT_OUT") {
        let keep = Path::new(&keep).with_file_name("studio-restarted.png");
        second.save(keep).unwrap();
    }
    assert!(
        restarted > 50_000,
        "after a restart the page picture is drawn again ({restarted} magenta pixels, {opened} before)"
    );
}

#[test]
#[ignore = "needs a display; .ci/run runs it under xvfb-run"]
fn the_studio_window_renders_and_is_not_blank() {
    assert_display();
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("studio.png");
    let out = Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .args([
            "gui",
            "--fresh",
            "--frames",
            "30",
            "--offline",
            "--screenshot",
        ])
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

/// A classical Chinese poem as a book page in the real window: the system CJK font is found
/// and added, every character of the poem has a glyph in it (no boxes), and the page is drawn.
/// `.ci/run` installs fonts-wqy-microhei for this.
#[test]
#[ignore = "needs a display and a CJK font; .ci/run runs it under xvfb-run"]
fn a_chinese_poem_page_is_drawn_with_real_glyphs() {
    assert_display();
    let home = tempfile::tempdir().unwrap();
    let poem = "床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。";
    let id = {
        use storybook_studio::store::{Library, NewBook, NewPage};
        let mut lib = Library::open(&home.path().join("library.sqlite")).unwrap();
        let book = NewBook {
            title: "静夜思".into(),
            prompt: "明月 故乡".into(),
            planned_pages: 1,
            ..NewBook::default()
        };
        let page = NewPage {
            sentence: poem.into(),
            ..NewPage::default()
        };
        lib.create_book(&book, &[page]).unwrap()
    };
    let shot = home.path().join("poem.png");
    let out = Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .args(["gui", "--open-book", &id.to_string(), "--tab", "read"])
        .args(["--frames", "30", "--offline", "--screenshot"])
        .arg(&shot)
        .arg("--library")
        .arg(home.path().join("library.sqlite"))
        .arg("--models")
        .arg(home.path().join("models"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the studio failed: {stderr}");
    let report = stderr
        .lines()
        .find(|l| l.starts_with("fonts: "))
        .unwrap_or_else(|| panic!("no font report; stderr: {stderr}"));
    assert!(
        report.contains("Chinese font system:"),
        "no system CJK font was added: {report}"
    );
    assert!(
        report.ends_with("no font draws: none"),
        "some characters show as boxes: {report}"
    );
    let img = image::open(&shot).unwrap().to_rgba8();
    // The page's text is light on the dark theme: the four lines put plenty of ink down.
    let ink = img
        .pixels()
        .filter(|p| p[0] > 180 && p[1] > 180 && p[2] > 180)
        .count();
    assert!(ink > 500, "hardly any text drawn ({ink} light pixels)");
    if let Ok(keep) = std::env::var("STORYBOOK_SCREENSHOT_OUT") {
        let keep = Path::new(&keep).with_file_name("studio-chinese-poem.png");
        img.save(keep).unwrap();
    }
}
