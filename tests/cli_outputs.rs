//! What the CLI writes and prints, under hostile input: `illustrate --out` checked before work
//! and rescued after a late failure, real JPEG files, weight-0 prompts, `story` with an
//! impossible length, control characters, and `library` page numbers, titles and counts.

mod common;

use std::io::Cursor;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::fixture;
use storybook_studio::store::{Library, NewBook, NewPage};

fn studio(args: &[&str], cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_storybook-studio"));
    cmd.args(args)
        .current_dir(cwd)
        .env("HF_HOME", cwd.join("hf-home"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("XDG_DATA_HOME", cwd.join("data"))
        .env_remove("STORYBOOK_MODELS")
        .env_remove("STORYBOOK_LIBRARY");
    cmd
}

fn failure(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected a failure: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

fn illustrate<'a>(text: &'a str, out: &'a str, clip: &'a str, vqgan: &'a str) -> Vec<&'a str> {
    vec![
        "illustrate",
        text,
        "--clip",
        clip,
        "--vqgan",
        vqgan,
        "--out",
        out,
        "--size",
        "32x32",
        "--cutn",
        "2",
        "--iterations",
        "2",
    ]
}

#[test]
fn illustrate_checks_where_the_picture_goes_before_drawing() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    // No models at all: a check made after loading them would complain about those instead.
    let (clip, vqgan) = ("no-clip", "no-vqgan");
    let missing = cwd.join("no-such-folder").join("x.png");
    let err = failure(
        &studio(
            &illustrate("a fox", missing.to_str().unwrap(), clip, vqgan),
            cwd,
        )
        .output()
        .unwrap(),
    );
    assert!(
        err.contains("the folder") && err.contains("does not exist"),
        "{err}"
    );
    assert_eq!(err.matches("No such file").count(), 0, "{err}");
    let err = failure(
        &studio(&illustrate("a fox", ".", clip, vqgan), cwd)
            .output()
            .unwrap(),
    );
    assert!(err.contains("is a folder"), "{err}");
    let err = failure(
        &studio(&illustrate("a fox", "x.gif", clip, vqgan), cwd)
            .output()
            .unwrap(),
    );
    assert!(err.contains("should end in .png"), "{err}");
    assert_eq!(
        std::fs::read_dir(cwd).unwrap().count(),
        0,
        "something was written"
    );
}

#[test]
fn a_jpeg_is_a_jpeg_and_a_weight_of_zero_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let (clip, vqgan) = (fixture("clip-tiny"), fixture("vqgan-tiny"));
    let (clip, vqgan) = (clip.to_str().unwrap(), vqgan.to_str().unwrap());
    let out = studio(&illustrate("a fox", "fox.jpg", clip, vqgan), cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(cwd.join("fox.jpg")).unwrap();
    assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "not JPEG bytes");
    let format = image::ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .unwrap()
        .format();
    assert_eq!(format, Some(image::ImageFormat::Jpeg));
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 32);

    let err = failure(
        &studio(&illustrate("a fox:0", "zero.png", clip, vqgan), cwd)
            .output()
            .unwrap(),
    );
    assert!(err.contains("'a fox' has weight 0"), "{err}");
    assert!(!cwd.join("zero.png").exists());
}

#[test]
fn a_picture_whose_folder_vanished_is_saved_elsewhere_and_said_where() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let (clip, vqgan) = (fixture("clip-tiny"), fixture("vqgan-tiny"));
    let out_dir = cwd.join("pictures");
    std::fs::create_dir(&out_dir).unwrap();
    let out_path = out_dir.join("fox.png");
    let frames = cwd.join("frames");
    let mut args = illustrate(
        "a fox",
        out_path.to_str().unwrap(),
        clip.to_str().unwrap(),
        vqgan.to_str().unwrap(),
    );
    args.truncate(args.len() - 2);
    args.extend([
        "--iterations",
        "30",
        "--save-every",
        "1",
        "--frames-dir",
        "frames",
    ]);
    let child = studio(&args, cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first frame proves the run is past its checks; then its folder goes away.
    let started = Instant::now();
    while !frames.join("frame_00001.png").exists() && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::remove_dir_all(&out_dir).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = failure(&out);
    assert_eq!(
        err.matches("No such file").count(),
        1,
        "the cause once: {err}"
    );
    assert!(
        err.contains(&format!("cannot write {}", out_path.display())),
        "{err}"
    );
    let rescued = err
        .split("the picture was saved to ")
        .nth(1)
        .and_then(|rest| rest.split(" instead").next())
        .unwrap_or_else(|| panic!("no rescue path in: {err}"));
    assert!(
        rescued.starts_with(cwd.join("data").to_str().unwrap()),
        "{rescued}"
    );
    let text = storybook_studio::ml::image_io::read_png_text(Path::new(rescued)).unwrap();
    assert!(
        text.iter().any(|(k, _)| k == "storybook-recipe"),
        "{text:?}"
    );
}

#[test]
fn story_prints_nothing_before_an_error_and_no_raw_control_characters() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let gpt2 = fixture("gpt2-tiny");
    let gpt2 = gpt2.to_str().unwrap();
    let out = studio(
        &[
            "story",
            "A fox ran.",
            "--gpt2",
            gpt2,
            "--num-sequences",
            "1",
            "--max-tokens",
            "100000",
        ],
        cwd,
    )
    .output()
    .unwrap();
    let err = failure(&out);
    assert!(
        out.stdout.is_empty(),
        "printed before the error: {:?}",
        out.stdout
    );
    assert_eq!(err.matches("max new tokens").count(), 1, "{err}");

    for n in ["1", "2"] {
        let out = studio(
            &[
                "story",
                "A fox\u{1b}[2J ran\u{7}.",
                "--gpt2",
                gpt2,
                "--num-sequences",
                n,
                "--max-tokens",
                "5",
            ],
            cwd,
        )
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
            "{stdout:?}"
        );
        assert!(stdout.contains("A fox\\u{1b}[2J ran\\u{7}."), "{stdout}");
    }
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]));
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A three-page book titled with control characters, plus a fourth page the plan does not
/// know about (what a version-2 studio save could leave).
fn odd_library(path: &Path) -> i64 {
    let mut lib = Library::open(path).unwrap();
    let pages: Vec<NewPage> = ["One.", "Two.", "Three.", "Four."]
        .iter()
        .map(|s| NewPage {
            sentence: s.to_string(),
            png: Some(png()),
            ..NewPage::default()
        })
        .collect();
    let book = NewBook {
        title: "Evil\u{1b}]0;pwned\u{7} title".into(),
        prompt: "p".into(),
        planned_pages: 3,
        ..NewBook::default()
    };
    let id = lib.create_book(&book, &pages).unwrap();
    drop(lib);
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute("UPDATE books SET planned_pages = 3", [])
        .unwrap();
    id
}

#[test]
fn library_counts_pages_from_one_and_never_prints_impossible_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let path = cwd.join("lib.sqlite");
    let id = odd_library(&path).to_string();
    let lib = path.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--library", lib]);
        studio(&a, cwd).output().unwrap()
    };
    for args in [vec!["library", "list"], vec!["library", "show", &id]] {
        let out = run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
            "{stdout:?}"
        );
        assert!(
            stdout.contains("Evil\\u{1b}]0;pwned\\u{7} title"),
            "{stdout}"
        );
        assert!(
            !stdout.contains("4 of 3") && !stdout.to_lowercase().contains("interrupted"),
            "{stdout}"
        );
    }
    let err = failure(&run(&[
        "library", "export", &id, "--page", "5", "--out", "p.gif",
    ]));
    assert!(err.contains("has 4 pages; there is no page 5"), "{err}");
    let err = failure(&run(&["library", "regenerate", &id, "5"]));
    assert!(err.contains("has 4 pages; there is no page 5"), "{err}");
    let err = failure(&run(&[
        "library", "export", &id, "--page", "1", "--out", "b.pdf",
    ]));
    assert!(err.contains("--page chooses the page of a .gif"), "{err}");
    assert!(!cwd.join("b.pdf").exists());
    let err = failure(&run(&["library", "rename", &id, ""]));
    assert!(err.contains("title cannot be empty"), "{err}");
    let title = Library::open(&path).unwrap().book(1).unwrap().title;
    assert!(title.starts_with("Evil"), "{title}");
}
