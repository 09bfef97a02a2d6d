//! The layer rules, checked on the source tree: who may import whom.
//!
//! - `ml/` and `store/` import no UI toolkit; `app/` imports no candle;
//! - within `ml/`, kernels use only candle and each other; weights use neither models nor
//!   kernels nor tasks; models never use the tasks above them.
//!
//! Paths are read as text: every `crate::…` path in a file counts, whether in a `use` or inline.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn src(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(rel)
}

/// Every `crate::a::b` path in the files under `dir`, as `(file, "a::b")`; a path with one
/// segment (`crate::ml::{Error, Result}`) is kept as `"a"`.
fn crate_paths(dir: &str) -> Vec<(PathBuf, String)> {
    let files = rust_files(&src(dir));
    assert!(!files.is_empty(), "no Rust files under src/{dir}");
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            let segments: Vec<&str> = rest
                .split("::")
                .take(2)
                .map(|s| {
                    let end = s
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(s.len());
                    &s[..end]
                })
                .take_while(|s| !s.is_empty())
                .collect();
            out.push((file.clone(), segments.join("::")));
        }
    }
    out
}

fn mentions(dir: &str, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in rust_files(&src(dir)) {
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for needle in needles {
                if code.contains(needle) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    found
}

/// The `crate::` paths under `dir` that start with one of `forbidden`.
fn violations(dir: &str, forbidden: &[&str]) -> Vec<String> {
    crate_paths(dir)
        .into_iter()
        .filter(|(_, path)| {
            forbidden
                .iter()
                .any(|f| path == f || path.starts_with(&format!("{f}::")))
        })
        .map(|(file, path)| format!("{} uses crate::{path}", file.display()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

const TASKS: [&str; 6] = [
    "ml::generate",
    "ml::sampling",
    "ml::banned",
    "ml::illustrate",
    "ml::words",
    "ml::finetune",
];
/// What sits beside or above the engine. `story` (sentence splitting, no model) is a leaf that
/// the writing task may use.
const OUTSIDE_ML: [&str; 7] = ["app", "worker", "store", "cli", "book", "bench", "export"];

#[test]
fn the_engine_and_the_store_import_no_ui_and_the_ui_no_candle() {
    for dir in ["ml", "store"] {
        let found = mentions(dir, &["egui", "eframe"]);
        assert!(
            found.is_empty(),
            "src/{dir} uses the UI toolkit:\n{found:#?}"
        );
    }
    let found = mentions("app", &["candle"]);
    assert!(found.is_empty(), "src/app uses candle:\n{found:#?}");
}

#[test]
fn kernels_use_candle_and_each_other_only() {
    let mut forbidden = vec!["ml::models", "ml::weights"];
    forbidden.extend(TASKS);
    forbidden.extend(OUTSIDE_ML);
    let found = violations("ml/kernels", &forbidden);
    assert!(found.is_empty(), "kernels reach up:\n{found:#?}");
}

#[test]
fn weights_know_no_model_kernel_or_task() {
    let mut forbidden = vec!["ml::models", "ml::kernels"];
    forbidden.extend(TASKS);
    forbidden.extend(OUTSIDE_ML);
    let found = violations("ml/weights", &forbidden);
    assert!(found.is_empty(), "weights reach up:\n{found:#?}");
}

#[test]
fn models_never_use_the_tasks_above_them() {
    let mut forbidden = TASKS.to_vec();
    forbidden.extend(OUTSIDE_ML);
    let found = violations("ml/models", &forbidden);
    assert!(found.is_empty(), "models reach up:\n{found:#?}");
}

#[test]
fn the_store_knows_no_engine_and_the_engine_no_store() {
    let found = violations("store", &["ml", "app", "worker", "cli", "bench"]);
    assert!(found.is_empty(), "the store reaches out:\n{found:#?}");
    let found = violations("ml", &OUTSIDE_ML);
    assert!(
        found.is_empty(),
        "ml reaches outside the engine:\n{found:#?}"
    );
}

/// The scanner itself: it must see the imports that do exist, or every rule above passes
/// vacuously.
#[test]
fn the_scanner_sees_real_imports() {
    let models = crate_paths("ml/models");
    assert!(models.iter().any(|(_, p)| p == "ml::kernels"));
    assert!(models.iter().any(|(_, p)| p == "ml::weights"));
    assert!(!violations("ml/words", &["ml::models"]).is_empty());
    assert!(!mentions("app", &["egui"]).is_empty());
}

#[test]
fn benchmarks_live_in_src_bench_only() {
    for dir in ["ml", "store"] {
        let names: Vec<String> = rust_files(&src(dir))
            .iter()
            .filter(|p| p.to_string_lossy().contains("bench"))
            .map(|p| p.display().to_string())
            .collect();
        assert!(names.is_empty(), "benchmark files in src/{dir}: {names:?}");
    }
}
