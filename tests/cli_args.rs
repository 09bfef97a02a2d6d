//! Command lines that do not parse: under `--json` they still give one JSON document on stdout,
//! the message stays on stderr and clap's exit code is kept; `--help` and `--version` are as
//! usual; and an error's cause is printed once, not twice.

use std::path::Path;
use std::process::{Command, Output};

fn studio(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .args(args)
        .current_dir(cwd)
        .env("HF_HOME", cwd.join("hf-home"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("STORYBOOK_MODELS")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn argument_errors_under_json_print_a_json_error_and_keep_the_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (&["story", "--json", "--bogus"][..], "--bogus"),
        (&["--json", "story", "--max-tokens", "abc"][..], "abc"),
        (&["--json", "frobnicate"][..], "frobnicate"),
        (&["library", "--json"][..], "subcommand"),
        // The missing arguments are named, not only the first line of clap's message.
        (&["--json", "illustrate"][..], "--out"),
    ] {
        let out = studio(args, tmp.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{args:?}: stdout is not JSON ({e}): {}", text(&out.stdout))
        });
        let message = doc["error"].as_str().unwrap();
        assert!(message.contains(needle), "{args:?}: {message}");
        assert!(!message.starts_with("error:"), "{message}");
        let err = text(&out.stderr);
        assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
    }
}

#[test]
fn without_json_argument_errors_and_help_are_clap_s_own() {
    let tmp = tempfile::tempdir().unwrap();
    let out = studio(&["story", "--bogus"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("Usage:"));

    for args in [&["--help"][..], &["story", "--help", "--json"][..]] {
        let out = studio(args, tmp.path());
        assert!(out.status.success(), "{args:?}");
        let help = text(&out.stdout);
        assert!(
            help.contains("Usage:") && !help.contains("\"error\""),
            "{help}"
        );
    }
    let out = studio(&["--version", "--json"], tmp.path());
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("storybook-studio "));
}

#[test]
fn an_error_s_cause_is_printed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let out = studio(&["prompt", "no-such-picture.png", "--json"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("no-such-picture.png"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["error"].as_str().unwrap().matches("os error 2").count(),
        1
    );
}

#[cfg(target_os = "linux")]
#[test]
fn the_studio_without_a_display_points_to_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .current_dir(tmp.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .env("XDG_CONFIG_HOME", tmp.path())
        .env("XDG_DATA_HOME", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(
            "error: no display found; the CLI commands work without one: storybook-studio --help"
        ),
        "{err}"
    );
    assert!(err.contains("DISPLAY"), "{err}");
    assert!(
        !err.contains(".cargo") && !err.contains("registry"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[cfg(unix)]
#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    // `storybook-studio models sources | true`: the reader is gone before the first line, as
    // when `head` has read enough.
    let mut child = Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .args(["models", "sources"])
        .current_dir(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");
}
