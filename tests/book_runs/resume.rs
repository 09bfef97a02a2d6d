//! Resuming: two resumes of one book at once, settings refused before any write, corrected
//! settings taken and reported, and pages saved without a picture drawn.

use std::process::{Output, Stdio};

use crate::helpers::*;
use storybook_studio::ml::illustrate::IllustrateOptions;
use storybook_studio::store::Library;

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

    // A bad value typed now is named as the one given, not blamed on the book.
    let mut typo = base.to_vec();
    typo.extend(["--cutn", "999"]);
    let err = failure(&studio(&args(&typo, &m), cwd).output().unwrap());
    assert!(
        err.contains("given now: cutn 0 → 999") && !err.contains("saved settings"),
        "{err}"
    );

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
