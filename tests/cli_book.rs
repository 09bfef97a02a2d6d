//! `book` and `library` end to end on the tiny fixture models: a book is written, illustrated,
//! saved page by page, interrupted by SIGKILL, resumed, exported (HTML, PDF, GIF) and redrawn.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::fixture;
use storybook_studio::store::Library;

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

fn ok(out: Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A prompt and seed with which the tiny random GPT-2 writes three sentences.
fn book_args<'a>(gpt2: &'a str, clip: &'a str, vqgan: &'a str, library: &'a str) -> Vec<&'a str> {
    vec![
        "book",
        "It was late. The moon rose.",
        "--gpt2",
        gpt2,
        "--clip",
        clip,
        "--vqgan",
        vqgan,
        "--library",
        library,
        "--pages",
        "3",
        "--seed",
        "3",
        "--top-k",
        "0",
        "--top-p",
        "1",
        "--temperature",
        "1",
        "--max-tokens",
        "250",
        "--size",
        "32x32",
        "--cutn",
        "2",
    ]
}

#[test]
fn a_book_is_made_interrupted_resumed_exported_and_redrawn() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let (gpt2, clip, vqgan) = (
        fixture("gpt2-tiny"),
        fixture("clip-tiny"),
        fixture("vqgan-tiny"),
    );
    let library = cwd.join("lib.sqlite");
    let lib_s = library.to_str().unwrap();
    let base = book_args(
        gpt2.to_str().unwrap(),
        clip.to_str().unwrap(),
        vqgan.to_str().unwrap(),
        lib_s,
    );

    // Start a slow book and kill it once its first page is in the library.
    let mut args = base.clone();
    args.extend(["--iterations", "12", "--keep-frames", "--json"]);
    let mut child = studio(&args, cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let saved_pages = loop {
        let pages = library
            .exists()
            .then(|| {
                Library::open(&library)
                    .ok()?
                    .book(1)
                    .ok()
                    .map(|b| b.pages.len())
            })
            .flatten()
            .unwrap_or(0);
        if pages >= 1 || started.elapsed() > Duration::from_secs(120) {
            break pages;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(saved_pages >= 1, "no page was saved within two minutes");
    let interrupted = Library::open(&library).unwrap().book(1).unwrap();
    assert_eq!(interrupted.planned_pages, 3);
    assert!(
        interrupted.pages.len() < 3,
        "the kill came too late to test resuming"
    );
    let kept: Vec<Vec<u8>> = interrupted
        .pages
        .iter()
        .map(|p| p.png.clone().unwrap())
        .collect();

    let list = ok(
        studio(&["library", "list", "--library", lib_s, "--json"], cwd)
            .output()
            .unwrap(),
    );
    assert_eq!(
        list[0]["page_count"].as_u64().unwrap() as usize,
        interrupted.pages.len()
    );

    // Resume: the saved pages are kept as they were, the rest are added.
    let html = cwd.join("book.html");
    let report = ok(studio(
        &[
            "book",
            "--resume",
            "1",
            "--gpt2",
            gpt2.to_str().unwrap(),
            "--clip",
            clip.to_str().unwrap(),
            "--vqgan",
            vqgan.to_str().unwrap(),
            "--library",
            lib_s,
            "--out",
            html.to_str().unwrap(),
            "--json",
        ],
        cwd,
    )
    .output()
    .unwrap());
    assert_eq!(report["book_id"], 1);
    assert_eq!(report["pages"].as_array().unwrap().len(), 3);
    assert!(report["pages"][2]["similarity"].is_number());
    let book = Library::open(&library).unwrap().book(1).unwrap();
    assert!(book.is_complete());
    for (i, png) in kept.iter().enumerate() {
        assert_eq!(
            book.pages[i].png.as_ref().unwrap(),
            png,
            "resuming changed page {i}"
        );
    }
    let html_text = std::fs::read_to_string(&html).unwrap();
    let dom = tl::parse(&html_text, tl::ParserOptions::default()).unwrap();
    assert_eq!(dom.query_selector("p.sentence").unwrap().count(), 3);

    // PDF and GIF exports of the saved book.
    let pdf = cwd.join("book.pdf");
    ok(studio(
        &[
            "library",
            "export",
            "1",
            "--out",
            pdf.to_str().unwrap(),
            "--library",
            lib_s,
            "--json",
        ],
        cwd,
    )
    .output()
    .unwrap());
    assert_eq!(lopdf::Document::load(&pdf).unwrap().get_pages().len(), 4);
    let gif = cwd.join("page1.gif");
    ok(studio(
        &[
            "library",
            "export",
            "1",
            "--page",
            "1",
            "--out",
            gif.to_str().unwrap(),
            "--library",
            lib_s,
            "--json",
        ],
        cwd,
    )
    .output()
    .unwrap());
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(
        std::fs::File::open(&gif).unwrap(),
    ))
    .unwrap();
    assert!(!image::AnimationDecoder::into_frames(decoder)
        .collect_frames()
        .unwrap()
        .is_empty());

    // Redraw page 2 with a new seed: only that page changes, and its seed is recorded.
    let before = Library::open(&library).unwrap().book(1).unwrap();
    ok(studio(
        &[
            "library",
            "regenerate",
            "1",
            "2",
            "--seed",
            "99",
            "--clip",
            clip.to_str().unwrap(),
            "--vqgan",
            vqgan.to_str().unwrap(),
            "--library",
            lib_s,
            "--json",
        ],
        cwd,
    )
    .output()
    .unwrap());
    let after = Library::open(&library).unwrap().book(1).unwrap();
    assert_eq!(after.pages[1].seed, 99);
    assert_eq!(after.pages[1].settings["seed"], 99);
    assert_ne!(after.pages[1].png, before.pages[1].png);
    assert_eq!(after.pages[0].png, before.pages[0].png);

    // Search, show, and a page out of range.
    let hits = ok(studio(
        &["library", "search", "moon", "--library", lib_s, "--json"],
        cwd,
    )
    .output()
    .unwrap());
    assert_eq!(hits["results"][0]["book_id"], 1, "{hits}");
    let shown = ok(
        studio(&["library", "show", "1", "--library", lib_s, "--json"], cwd)
            .output()
            .unwrap(),
    );
    assert_eq!(shown["pages"].as_array().unwrap().len(), 3);
    let out = studio(
        &[
            "library",
            "regenerate",
            "1",
            "9",
            "--clip",
            clip.to_str().unwrap(),
            "--vqgan",
            vqgan.to_str().unwrap(),
            "--library",
            lib_s,
        ],
        cwd,
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has 3 pages") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn a_library_that_is_not_sqlite_is_refused_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("library.sqlite");
    std::fs::write(&path, "not a database at all").unwrap();
    let out = studio(
        &["library", "list", "--library", path.to_str().unwrap()],
        tmp.path(),
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a Storybook library") && err.contains("left untouched"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "not a database at all"
    );
}

/// `book --precision bf16` from the user's text: each page records the precision that ran
/// (bf16 where a bf16 kernel runs, f32 elsewhere, said on stderr), the recipe the one asked; a
/// redraw where bf16 cannot run (`STORYBOOK_BF16_KERNEL=none`) says so and records f32.
#[test]
fn a_bf16_book_records_what_ran_and_a_redraw_says_when_it_cannot() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let (clip, vqgan) = (fixture("clip-tiny"), fixture("vqgan-tiny/model.ckpt"));
    let (clip, vqgan) = (clip.to_str().unwrap(), vqgan.to_str().unwrap());
    let library = cwd.join("lib.sqlite");
    let lib_s = library.to_str().unwrap();
    std::fs::write(cwd.join("story.txt"), "A fox ran home. The moon rose.\n").unwrap();
    let out = studio(
        &[
            "book",
            "--text",
            "story.txt",
            "--clip",
            clip,
            "--vqgan",
            vqgan,
            "--library",
            lib_s,
            "--create",
            "--size",
            "32x32",
            "--iterations",
            "2",
            "--cutn",
            "2",
            "--precision",
            "bf16",
            "--json",
        ],
        cwd,
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(out);
    let why = storybook_studio::ml::kernels::bf16_gemm::unavailable_reason();
    let bf16 = why.is_none();
    assert_eq!(stderr.contains("drawing in f32 instead"), !bf16, "{stderr}");
    if let Some(why) = &why {
        // Up to the first colon: what follows may quote a speed the CLI measured afresh.
        assert!(stderr.contains(why.split(':').next().unwrap()), "{stderr}");
    }
    let ran = if bf16 { "bf16" } else { "f32" };
    let book = Library::open(&library).unwrap().book(1).unwrap();
    assert_eq!(book.pages.len(), 2);
    assert_eq!(book.story_settings["illustration"]["precision"], "bf16");
    for page in &book.pages {
        assert_eq!(page.settings["precision"], ran, "{}", page.settings);
    }

    let redraw = studio(
        &[
            "library",
            "regenerate",
            "1",
            "1",
            "--clip",
            clip,
            "--vqgan",
            vqgan,
            "--library",
            lib_s,
            "--json",
        ],
        cwd,
    )
    .env("STORYBOOK_BF16_KERNEL", "none")
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&redraw.stderr).into_owned();
    ok(redraw);
    // Only a page drawn in bf16 has a precision this run cannot give it.
    assert_eq!(
        stderr.contains("STORYBOOK_BF16_KERNEL=none turns bf16 off; drawing in f32 instead"),
        bf16,
        "{stderr}"
    );
    let book = Library::open(&library).unwrap().book(1).unwrap();
    assert_eq!(book.pages[0].settings["precision"], "f32");
    assert_eq!(book.pages[1].settings["precision"], ran);
}
