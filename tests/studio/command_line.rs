//! The studio from the command line: `library show` says how to open a book in it, and
//! `gui --tab` refuses an unknown tab with a sentence before any window opens.

use std::process::Command;

use super::harness::saved_book;

fn studio(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn library_show_names_the_gui_command_that_opens_the_book() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("library.sqlite");
    let id = saved_book(&library, "The Lighthouse Fox", &["The fox lit the lamp."]);
    let lib = library.to_str().unwrap();
    let out = studio(&["library", "show", &id.to_string(), "--library", lib]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("storybook-studio gui --open-book {id}")),
        "{text}"
    );
}

#[test]
fn an_unknown_tab_is_refused_with_the_names_that_exist() {
    let out = studio(&["gui", "--open-book", "1", "--tab", "kitchen"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("there is no tab \"kitchen\""), "{err}");
    assert!(
        err.contains("write, illustrate, read, words, library, models, settings"),
        "{err}"
    );
}
