//! `book` as a hostile or unlucky user runs it, on the tiny fixture models: two resumes of one
//! book at once, bad settings, a resume with corrected settings, pages saved without a picture,
//! Ctrl-C, --pages, a Chinese story, and output paths that cannot be written.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::fixture;
use storybook_studio::book::BookRecipe;
use storybook_studio::ml::illustrate::IllustrateOptions;
use storybook_studio::ml::sampling::SamplingOptions;
use storybook_studio::store::{Library, NewBook, NewPage};

fn studio(args: &[&str], cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_storybook-studio"));
    cmd.args(args)
        .current_dir(cwd)
        .env("HF_HOME", cwd.join("hf-home"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("STORYBOOK_MODELS")
        .env_remove("STORYBOOK_LIBRARY");
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn failure(out: &Output) -> String {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "expected a failure: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn success(out: &Output) -> String {
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    err
}

/// The model arguments, as owned strings.
fn models() -> Vec<String> {
    let mut v = Vec::new();
    for (flag, rel) in [
        ("--gpt2", "gpt2-tiny"),
        ("--clip", "clip-tiny"),
        ("--vqgan", "vqgan-tiny"),
    ] {
        v.push(flag.to_string());
        v.push(fixture(rel).to_str().unwrap().to_string());
    }
    v
}

fn args<'a>(base: &'a [&'a str], extra: &'a [String]) -> Vec<&'a str> {
    base.iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .collect()
}

fn one_pixel_png(shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(32, 32, image::Rgb([shade, 60, 90]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A book as `book` saves it, with `planned` sentences, the first `drawn` of them saved with a
/// picture and the next `bare` saved without one; drawn with `illustration`.
fn resumable_book(
    library: &Path,
    planned: usize,
    drawn: usize,
    bare: usize,
    illustration: IllustrateOptions,
) -> i64 {
    let sentences: Vec<String> = (0..planned)
        .map(|i| format!("The fox saw lantern number {i}."))
        .collect();
    let recipe = BookRecipe {
        sampling: SamplingOptions::default(),
        illustration,
        planned_sentences: sentences.clone(),
        story_text: sentences.join(" "),
        keep_frames: false,
    };
    let book = NewBook {
        title: "Lanterns".into(),
        prompt: "The fox saw".into(),
        story_settings: serde_json::to_value(&recipe).unwrap(),
        planned_pages: planned,
        ..NewBook::default()
    };
    let pages: Vec<NewPage> = sentences
        .iter()
        .take(drawn + bare)
        .enumerate()
        .map(|(i, s)| NewPage {
            sentence: s.clone(),
            settings: serde_json::to_value(&recipe.illustration).unwrap(),
            png: (i < drawn).then(|| one_pixel_png(i as u8 * 40)),
            ..NewPage::default()
        })
        .collect();
    Library::open(library)
        .unwrap()
        .create_book(&book, &pages)
        .unwrap()
}

fn small(iterations: usize) -> IllustrateOptions {
    IllustrateOptions {
        width: 32,
        height: 32,
        iterations,
        cutn: 2,
        preview_every: 0,
        ..IllustrateOptions::default()
    }
}

#[test]
fn two_resumes_at_once_leave_exactly_the_planned_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let library = cwd.join("lib.sqlite");
    let id = resumable_book(&library, 4, 1, 0, small(6));
    let first_picture = Library::open(&library).unwrap().book(id).unwrap().pages[0]
        .png
        .clone();
    let lib_s = library.to_str().unwrap().to_string();
    let id_s = id.to_string();
    let m = models();
    let base = ["book", "--resume", &id_s, "--library", &lib_s];
    let spawn = || {
        studio(&args(&base, &m), cwd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let ok: Vec<&Output> = outs.iter().filter(|o| o.status.success()).collect();
    let refused: Vec<&Output> = outs.iter().filter(|o| !o.status.success()).collect();
    assert_eq!(ok.len(), 1, "exactly one run draws the book");
    let err = text(&refused[0].stderr);
    assert!(
        err.starts_with(&format!("error: book {id} is being written by another run")),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    let book = Library::open(&library).unwrap().book(id).unwrap();
    let positions: Vec<usize> = book.pages.iter().map(|p| p.position).collect();
    assert_eq!(positions, vec![0, 1, 2, 3]);
    assert!(book.is_complete());
    assert_eq!(
        book.pages[0].png, first_picture,
        "a saved picture was replaced"
    );
    let sentences: Vec<&str> = book.pages.iter().map(|p| p.sentence.as_str()).collect();
    assert_eq!(sentences[3], "The fox saw lantern number 3.");
}

#[test]
fn bad_settings_are_refused_before_the_library_is_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let library = cwd.join("lib.sqlite");
    let m = models();
    for (bad, needle) in [
        (
            vec!["--cutn", "0"],
            "cutn must be between 1 and 256 (got 0)",
        ),
        (vec!["--size", "0x0"], "has no pixels"),
        (vec!["--size", "99999x99999"], "too large"),
        (vec!["--pages", "0"], "at least one page"),
        (vec!["--iterations", "0"], "at least one step"),
        (vec!["--temperature", "NaN"], "temperature"),
    ] {
        let mut a = vec!["book", "A fox.", "--library", library.to_str().unwrap()];
        a.extend(bad.iter().copied());
        let out = studio(&args(&a, &m), cwd).output().unwrap();
        let err = failure(&out);
        assert!(err.contains(needle), "{bad:?}: {err}");
        assert!(!library.exists(), "{bad:?} touched the library");
    }
}

#[test]
fn a_resume_takes_corrected_settings_and_says_which() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let library = cwd.join("lib.sqlite");
    // A book saved by an older build with a setting that cannot be drawn.
    let id = resumable_book(
        &library,
        2,
        0,
        0,
        IllustrateOptions {
            cutn: 0,
            ..small(2)
        },
    );
    let (lib_s, id_s, m) = (library.to_str().unwrap(), id.to_string(), models());
    let base = ["book", "--resume", &id_s, "--library", lib_s, "--json"];
    let err = failure(&studio(&args(&base, &m), cwd).output().unwrap());
    assert!(
        err.contains("cannot be drawn with its saved settings: cutn must be between 1 and 256")
            && err.contains("--cutn"),
        "{err}"
    );
    assert!(Library::open(&library)
        .unwrap()
        .book(id)
        .unwrap()
        .pages
        .is_empty());

    let mut fixed = base.to_vec();
    fixed.extend(["--cutn", "2"]);
    let out = studio(&args(&fixed, &m), cwd).output().unwrap();
    success(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["changed"], serde_json::json!(["cutn 0 → 2"]));
    let book = Library::open(&library).unwrap().book(id).unwrap();
    assert!(book.is_complete());
    assert_eq!(book.pages[1].settings["cutn"], 2);
    assert_eq!(
        book.story_settings["illustration"]["cutn"], 2,
        "the fix is recorded"
    );

    // A complete book: nothing to draw, said plainly, exit 0.
    let plain = ["book", "--resume", &id_s, "--library", lib_s];
    let out = studio(&args(&plain, &m), cwd).output().unwrap();
    success(&out);
    assert!(
        text(&out.stdout).contains(&format!("Book {id} is already complete (2 pages)")),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_resume_draws_missing_pictures_and_keeps_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let library = cwd.join("lib.sqlite");
    // What a studio save can leave: three pages, the middle one without its picture.
    let id = resumable_book(&library, 3, 1, 2, small(2));
    let before = Library::open(&library).unwrap().book(id).unwrap();
    let shown = studio(
        &[
            "library",
            "show",
            &id.to_string(),
            "--library",
            library.to_str().unwrap(),
        ],
        cwd,
    )
    .output()
    .unwrap();
    let listing = text(&shown.stdout);
    assert!(listing.contains("2 pages without a picture"), "{listing}");
    assert!(!listing.contains("Interrupted"), "{listing}");

    let (lib_s, id_s, m) = (library.to_str().unwrap(), id.to_string(), models());
    let out = studio(
        &args(&["book", "--resume", &id_s, "--library", lib_s], &m),
        cwd,
    )
    .output()
    .unwrap();
    let err = success(&out);
    assert!(err.contains("2 pages to draw"), "{err}");
    let after = Library::open(&library).unwrap().book(id).unwrap();
    assert!(after.is_complete());
    assert_eq!(after.pages.len(), 3);
    assert_eq!(after.pages[0].png, before.pages[0].png);
    for p in &after.pages[1..] {
        assert!(p.png.is_some() && p.similarity.is_some());
    }
}

/// Waits until book 1 of `library` has `pages` pages, or two minutes pass.
fn wait_for_pages(library: &Path, pages: usize) -> usize {
    let started = Instant::now();
    loop {
        let n = library
            .exists()
            .then(|| {
                Library::open(library)
                    .ok()?
                    .book(1)
                    .ok()
                    .map(|b| b.pages.len())
            })
            .flatten()
            .unwrap_or(0);
        if n >= pages || started.elapsed() > Duration::from_secs(120) {
            return n;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly_and_says_how_to_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let library = cwd.join("lib.sqlite");
    let id = resumable_book(&library, 3, 0, 0, small(40));
    let (lib_s, m) = (library.to_str().unwrap(), models());
    let child = studio(
        &args(&["book", "--resume", "1", "--library", lib_s], &m),
        cwd,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    assert!(
        wait_for_pages(&library, 1) >= 1,
        "no page within two minutes"
    );
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("stopped by Ctrl-C")
            && err.contains(&format!("book --resume {id} --library {lib_s}")),
        "{err}"
    );
    // The run left its lease behind it in order: a resume starts at once and finishes.
    let mut lib = Library::open(&library).unwrap();
    assert!(lib.lease_holder(id).unwrap().is_none());
    drop(lib.lease_book(id).unwrap());
}

#[test]
fn progress_says_each_page_with_its_speed() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let library = cwd.join("lib.sqlite");
    let id = resumable_book(&library, 2, 0, 0, small(2));
    let (lib_s, m) = (library.to_str().unwrap(), models());
    let out = studio(
        &args(&["book", "--resume", "1", "--library", lib_s], &m),
        cwd,
    )
    .output()
    .unwrap();
    let err = success(&out);
    assert!(
        err.contains(&format!(
            "Book {id}: drawing 2 of its 2 pages, 2 steps each."
        )),
        "{err}"
    );
    assert!(
        err.contains("Page 1 of 2: The fox saw lantern number 0."),
        "{err}"
    );
    assert!(err.contains("Page 2 of 2 saved (similarity"), "{err}");
    assert!(err.contains("/step"), "{err}");
}

#[test]
fn pages_are_honoured_or_explained_and_a_long_prompt_is_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let library = cwd.join("lib.sqlite");
    let m = models();
    let lib_s = library.to_str().unwrap();
    // This seed's story has one sentence and no continuation adds another within 30 tokens.
    let base = [
        "book",
        "The fox ran.",
        "--library",
        lib_s,
        "--seed",
        "2",
        "--max-tokens",
        "30",
        "--pages",
        "3",
        "--size",
        "16x16",
        "--cutn",
        "1",
        "--iterations",
        "1",
        "--json",
    ];
    let out = studio(&args(&base, &m), cwd).output().unwrap();
    let err = success(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pages = report["pages"].as_array().unwrap().len();
    if pages < 3 {
        assert!(
            err.contains(&format!("so the book has {pages} page"))
                && err.contains("not 3")
                && err.contains("--max-tokens"),
            "{err}"
        );
    }
    // 250 new tokens leave room for only 6 of the prompt's tokens in the 256-token window.
    let long = [
        "book",
        "It was late. The moon rose.",
        "--library",
        lib_s,
        "--max-tokens",
        "250",
        "--pages",
        "1",
        "--size",
        "16x16",
        "--cutn",
        "1",
        "--iterations",
        "1",
    ];
    let err = success(&studio(&args(&long, &m), cwd).output().unwrap());
    assert!(
        err.contains("warning: the prompt is 8 tokens long"),
        "{err}"
    );
}

#[test]
fn a_chinese_story_has_a_page_per_sentence_and_is_found_by_a_word() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let library = cwd.join("lib.sqlite");
    let (lib_s, m) = (library.to_str().unwrap(), models());
    let a = [
        "book",
        "狐狸在雪地里找到了一盏灯笼。它很高兴。",
        "--library",
        lib_s,
        "--max-tokens",
        "8",
        "--pages",
        "2",
        "--size",
        "16x16",
        "--cutn",
        "1",
        "--iterations",
        "1",
    ];
    success(&studio(&args(&a, &m), cwd).output().unwrap());
    let book = Library::open(&library).unwrap().book(1).unwrap();
    assert_eq!(book.pages.len(), 2);
    assert_eq!(book.pages[0].sentence, "狐狸在雪地里找到了一盏灯笼。");
    assert_eq!(book.pages[1].sentence, "它很高兴。");
    let out = studio(
        &["library", "search", "灯笼", "--library", lib_s, "--json"],
        cwd,
    )
    .output()
    .unwrap();
    success(&out);
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hits[0]["id"], 1, "{hits}");
}

#[test]
fn output_paths_are_checked_first_and_a_library_is_made_only_where_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let m = models();
    let library = cwd.join("lib.sqlite");
    let lib_s = library.to_str().unwrap();
    let missing: PathBuf = cwd.join("no-such-folder").join("book.html");
    let a = [
        "book",
        "A fox.",
        "--library",
        lib_s,
        "--out",
        missing.to_str().unwrap(),
    ];
    let err = failure(&studio(&args(&a, &m), cwd).output().unwrap());
    assert!(
        err.contains("the folder") && err.contains("does not exist"),
        "{err}"
    );
    assert!(
        !library.exists(),
        "the library was touched before the check"
    );

    let typo = cwd.join("libary").join("lib.sqlite");
    let a = [
        "book",
        "A fox.",
        "--library",
        typo.to_str().unwrap(),
        "--pages",
        "1",
        "--size",
        "16x16",
        "--cutn",
        "1",
        "--iterations",
        "1",
    ];
    let err = failure(&studio(&args(&a, &m), cwd).output().unwrap());
    assert!(
        err.contains("there is no library at") && err.contains("--create"),
        "{err}"
    );
    assert!(!cwd.join("libary").exists());
    let mut created = a.to_vec();
    created.push("--create");
    success(&studio(&args(&created, &m), cwd).output().unwrap());
    assert!(typo.is_file());

    let err = failure(
        &studio(
            &[
                "library",
                "list",
                "--library",
                cwd.join("nope.sqlite").to_str().unwrap(),
            ],
            cwd,
        )
        .output()
        .unwrap(),
    );
    assert!(err.contains("there is no library at"), "{err}");
    assert!(!cwd.join("nope.sqlite").exists());
}
