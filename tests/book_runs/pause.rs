//! Ctrl-C in the middle of a page: the run saves the page's state, says where it paused and
//! exits with 130; `library show` reports the page paused at that step; `book --resume` goes on
//! from it, and the picture equals that of a run never interrupted, pixel for pixel.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::*;
use storybook_studio::ml::illustrate::IllustrateOptions;
use storybook_studio::store::Library;

fn long_page() -> IllustrateOptions {
    IllustrateOptions {
        width: 32,
        height: 32,
        iterations: 300,
        cutn: 2,
        preview_every: 0,
        ..IllustrateOptions::default()
    }
}

fn pixels(library: &std::path::Path) -> Vec<u8> {
    let book = Library::open(library).unwrap().book(1).unwrap();
    let png = book.pages[0]
        .png
        .as_ref()
        .expect("the page has its picture");
    image::load_from_memory(png).unwrap().to_rgb8().into_raw()
}

#[cfg(unix)]
#[test]
fn sigint_mid_page_pauses_and_the_resumed_page_equals_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let m = models();
    // The same one-page book twice: one is drawn straight through, the other interrupted.
    let (straight, paused) = (cwd.join("straight.sqlite"), cwd.join("paused.sqlite"));
    for lib in [&straight, &paused] {
        resumable_book(lib, 1, 0, 0, long_page());
    }
    let (paused_s, straight_s) = (paused.to_str().unwrap(), straight.to_str().unwrap());
    let mut child = studio(
        &args(&["book", "--resume", "1", "--library", paused_s], &m),
        cwd,
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Once the page has started, let it run a few steps, then press Ctrl-C.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("Page 1 of 1") {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("the run ended before its page started: {seen}");
        }
        seen.push_str(&line);
    }
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}{rest}");
    let step: usize = rest
        .split("paused at step ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no step said: {rest}"));
    assert!(step > 0 && step < 300, "paused at {step}: {rest}");
    assert!(
        rest.contains(&format!("book --resume 1 --library {paused_s}")),
        "{rest}"
    );

    let shown = studio(
        &["library", "show", "1", "--library", paused_s, "--json"],
        cwd,
    )
    .output()
    .unwrap();
    success(&shown);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["pages"][0]["status"], "paused", "{shown}");
    assert_eq!(shown["pages"][0]["step"], step, "{shown}");

    let resumed = studio(
        &args(&["book", "--resume", "1", "--library", paused_s], &m),
        cwd,
    )
    .output()
    .unwrap();
    let err = success(&resumed);
    assert!(err.contains(&format!("goes on from step {step}")), "{err}");
    let whole = studio(
        &args(&["book", "--resume", "1", "--library", straight_s], &m),
        cwd,
    )
    .output()
    .unwrap();
    success(&whole);
    assert!(
        pixels(&paused) == pixels(&straight),
        "the resumed page's pixels differ"
    );
    let shown = studio(
        &["library", "show", "1", "--library", paused_s, "--json"],
        cwd,
    )
    .output()
    .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["pages"][0]["status"], "done", "{shown}");
    assert!(Library::open(&paused)
        .unwrap()
        .checkpoint(1, 0)
        .unwrap()
        .is_none());
}
