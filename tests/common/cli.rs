//! Running the built binary as a user would, in a folder of its own, offline: its own Hugging
//! Face home and label cache, no STORYBOOK_MODELS from the environment, a hub that refuses.

use std::path::Path;
use std::process::{Command, Output};

pub fn studio(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .args(args)
        .current_dir(cwd)
        .env("HF_HOME", cwd.join("hf-home"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("STORYBOOK_CACHE", cwd.join("cache"))
        .env_remove("STORYBOOK_MODELS")
        .output()
        .expect("the binary runs")
}

/// The one JSON document a successful run printed.
pub fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

/// The error of a failed run: a sentence on stderr, never a panic.
pub fn sentence_of(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!err.contains("panicked"), "{err}");
    err
}
