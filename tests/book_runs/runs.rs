//! A run from start to end: Ctrl-C, progress, --pages, a Chinese story, and where outputs and
//! libraries may be written.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::helpers::*;
use storybook_studio::store::Library;

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
        err.contains("paused at step")
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
    assert_eq!(hits["results"][0]["book_id"], 1, "{hits}");
    assert_eq!(hits["results"][0]["page"], 1, "{hits}");
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

#[test]
fn a_book_whose_export_folder_vanished_is_kept_and_the_way_out_said() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let library = cwd.join("lib.sqlite");
    let id = resumable_book(&library, 2, 0, 0, small(20));
    let exports = cwd.join("exports");
    std::fs::create_dir(&exports).unwrap();
    let out_path = exports.join("book.html");
    let (lib_s, m) = (library.to_str().unwrap(), models());
    let a = [
        "book",
        "--resume",
        "1",
        "--library",
        lib_s,
        "--out",
        out_path.to_str().unwrap(),
    ];
    let child = studio(&args(&a, &m), cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for_pages(&library, 1) >= 1,
        "no page within two minutes"
    );
    std::fs::remove_dir_all(&exports).unwrap();
    let err = failure(&child.wait_with_output().unwrap());
    assert!(
        err.contains(&format!(
            "book {id} is saved in the library {lib_s}, but cannot write"
        )) && err.contains(&format!("library export {id} --out FILE")),
        "{err}"
    );
    assert_eq!(
        err.matches("No such file").count(),
        1,
        "the cause once: {err}"
    );
    assert!(Library::open(&library)
        .unwrap()
        .book(id)
        .unwrap()
        .is_complete());
}
