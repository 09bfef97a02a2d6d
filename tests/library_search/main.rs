//! Searching the library as a user does: `book --text` books found by meaning with the real
//! MiniLM (a named extra test), words, meaning and hybrid modes on the tiny model, back-fill of
//! old libraries, vectors dropped when a sentence or picture changes, and `library similar`.

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use common::cli::{json_of, sentence_of, studio};
use common::minilm::write_tiny_minilm;
use common::{fixture, shared_fixture};
use storybook_studio::store::{Library, NewPage, VectorKind};

fn drawing_args() -> Vec<String> {
    let mut v: Vec<String> = ["--size", "32x32", "--iterations", "2", "--cutn", "2"]
        .map(String::from)
        .to_vec();
    for (flag, rel) in [("--clip", "clip-tiny"), ("--vqgan", "vqgan-tiny")] {
        v.push(flag.into());
        v.push(fixture(rel).to_string_lossy().into_owned());
    }
    v
}

/// A tiny random MiniLM (the real tokenizer) in `cwd/minilm-tiny`, as a user's folder.
fn tiny_minilm(cwd: &Path) -> PathBuf {
    let dir = cwd.join("minilm-tiny");
    std::fs::create_dir_all(&dir).unwrap();
    write_tiny_minilm(&dir);
    dir
}

/// `book --text FILE` into `library`; returns the book id.
fn book_from_text(cwd: &Path, library: &Path, name: &str, text: &str) -> i64 {
    let file = cwd.join(name);
    std::fs::write(&file, text).unwrap();
    let mut a: Vec<String> = vec![
        "book".into(),
        "--text".into(),
        file.to_string_lossy().into(),
    ];
    a.extend(drawing_args());
    a.extend([
        "--library".into(),
        library.to_string_lossy().into(),
        "--create".into(),
        "--json".into(),
    ]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let report = json_of(&studio(&a, cwd));
    report["book_id"].as_i64().unwrap()
}

fn search(cwd: &Path, library: &Path, query: &str, mode: &str, minilm: &Path) -> serde_json::Value {
    json_of(&studio(
        &[
            "library",
            "search",
            query,
            "--mode",
            mode,
            "--minilm",
            minilm.to_str().unwrap(),
            "--library",
            library.to_str().unwrap(),
            "--json",
        ],
        cwd,
    ))
}

#[test]
#[ignore = "needs ../shared/fixtures/minilm; .ci/run runs it by name"]
fn books_are_found_by_meaning_when_they_share_no_word_with_the_query() {
    let tmp = tempfile::tempdir().unwrap();
    let (cwd, library) = (tmp.path(), tmp.path().join("lib.sqlite"));
    let minilm = shared_fixture("minilm", "model.safetensors");
    let cases = [
        (
            "A sailor lost in a storm, waves over the boat.",
            "a ship in rough seas",
        ),
        (
            "A girl baked bread; the kitchen smelled of cinnamon.",
            "pastry in the oven",
        ),
        ("A dragon slept under the bridge.", "a sleeping monster"),
    ];
    let ids: Vec<i64> = cases
        .iter()
        .enumerate()
        .map(|(i, (text, _))| book_from_text(cwd, &library, &format!("{i}.txt"), text))
        .collect();
    for ((text, query), id) in cases.iter().zip(&ids) {
        let found = search(cwd, &library, query, "meaning", &minilm);
        let results = found["results"].as_array().unwrap();
        assert_eq!(results.len(), 3, "{found}");
        assert_eq!(
            results[0]["book_id"], *id,
            "{query:?} should find {text:?}: {found}"
        );
        let (best, second) = (
            results[0]["score"].as_f64().unwrap(),
            results[1]["score"].as_f64().unwrap(),
        );
        eprintln!("{query:?} → {text:?}: cosine {best:.3} (next {second:.3})");
        let words = search(cwd, &library, query, "words", &minilm);
        assert!(
            words["results"].as_array().unwrap().is_empty(),
            "FTS alone found {words}"
        );
        let hybrid = search(cwd, &library, query, "hybrid", &minilm);
        assert_eq!(hybrid["results"][0]["book_id"], *id, "{hybrid}");
    }
}

#[test]
fn every_mode_answers_in_one_shape_and_old_libraries_are_embedded_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let minilm = tiny_minilm(cwd);
    for (name, pages) in [("library-v1.sqlite", 2), ("library-v2.sqlite", 6)] {
        let library = cwd.join(name);
        std::fs::copy(fixture(name), &library).unwrap();
        let total: usize = {
            let lib = Library::open(&library).unwrap();
            lib.list(0, 1000)
                .unwrap()
                .iter()
                .map(|b| b.page_count)
                .sum()
        };
        assert_eq!(total, pages, "{name}");
        let found = search(cwd, &library, "a fox by the river", "meaning", &minilm);
        let results = found["results"].as_array().unwrap();
        assert_eq!(
            results.len(),
            total.min(20),
            "{name}: every page is embedded: {found}"
        );
        for r in results {
            for key in ["book_id", "page", "title", "sentence", "score"] {
                assert!(r.get(key).is_some(), "{key} missing in {r}");
            }
        }
        let scores: Vec<f64> = results
            .iter()
            .map(|r| r["score"].as_f64().unwrap())
            .collect();
        assert!(
            scores.windows(2).all(|w| w[0] >= w[1]),
            "best first: {scores:?}"
        );
        let lib = Library::open(&library).unwrap();
        assert_eq!(
            lib.count_without_vector(VectorKind::Text, "minilm:minilm-tiny")
                .unwrap(),
            0
        );
        assert_eq!(
            lib.schema_version().unwrap(),
            storybook_studio::store::SCHEMA_VERSION
        );
    }
}

#[test]
fn an_edited_sentence_is_embedded_again_and_words_search_finds_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let (cwd, library) = (tmp.path(), tmp.path().join("lib.sqlite"));
    let minilm = tiny_minilm(cwd);
    let id = book_from_text(
        cwd,
        &library,
        "t.txt",
        "The fox ran home. The owl sang at night.",
    );
    search(cwd, &library, "fox", "meaning", &minilm);
    let name = "minilm:minilm-tiny";
    let mut lib = Library::open(&library).unwrap();
    assert_eq!(lib.count_without_vector(VectorKind::Text, name).unwrap(), 0);
    let page = lib.book(id).unwrap().pages[1].clone();
    lib.update_page_text(
        id,
        1,
        &NewPage {
            sentence: "The owl slept through the storm.".into(),
            settings: page.settings.clone(),
            ..NewPage::default()
        },
    )
    .unwrap();
    assert_eq!(
        lib.count_without_vector(VectorKind::Text, name).unwrap(),
        1,
        "the old vector is dropped"
    );
    let words = search(cwd, &library, "owl storm", "words", &minilm);
    let results = words["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{words}");
    assert_eq!(results[0]["page"], 2);
    assert_eq!(results[0]["sentence"], "The owl slept through the storm.");
    // The hybrid search embeds the edited page again before it ranks.
    let hybrid = search(cwd, &library, "owl storm", "hybrid", &minilm);
    assert_eq!(hybrid["results"][0]["page"], 2, "{hybrid}");
    assert_eq!(lib.count_without_vector(VectorKind::Text, name).unwrap(), 0);
}

#[test]
fn hybrid_without_minilm_searches_words_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (cwd, library) = (tmp.path(), tmp.path().join("lib.sqlite"));
    book_from_text(cwd, &library, "t.txt", "The fox ran home.");
    let out = studio(
        &[
            "library",
            "search",
            "fox",
            "--library",
            library.to_str().unwrap(),
            "--offline",
            "--json",
        ],
        cwd,
    );
    let found = json_of(&out);
    assert_eq!(
        found["results"][0]["sentence"], "The fox ran home.",
        "{found}"
    );
    assert!(
        found["warnings"][0]
            .as_str()
            .unwrap()
            .contains("words only"),
        "{found}"
    );
    let out = studio(
        &[
            "library",
            "search",
            "fox",
            "--mode",
            "meaning",
            "--library",
            library.to_str().unwrap(),
            "--offline",
        ],
        cwd,
    );
    let err = sentence_of(&out);
    assert!(err.to_lowercase().contains("minilm"), "{err}");
}

#[test]
fn similar_finds_the_page_whose_picture_was_given() {
    let tmp = tempfile::tempdir().unwrap();
    let (cwd, library) = (tmp.path(), tmp.path().join("lib.sqlite"));
    let id = book_from_text(
        cwd,
        &library,
        "t.txt",
        "A red barn. A blue lake. A green hill.",
    );
    let book = Library::open(&library).unwrap().book(id).unwrap();
    let picked = cwd.join("page2.png");
    std::fs::write(&picked, book.pages[1].png.as_ref().unwrap()).unwrap();
    let clip = fixture("clip-tiny");
    let run = || {
        json_of(&studio(
            &[
                "library",
                "similar",
                picked.to_str().unwrap(),
                "--clip",
                clip.to_str().unwrap(),
                "--library",
                library.to_str().unwrap(),
                "--json",
            ],
            cwd,
        ))
    };
    let found = run();
    assert_eq!(found["results"].as_array().unwrap().len(), 3, "{found}");
    assert_eq!(found["results"][0]["page"], 2, "{found}");
    assert!(
        (found["results"][0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-4,
        "{found}"
    );
    // Embedded once: the second search finds nothing left to embed and answers the same.
    assert_eq!(run()["results"], found["results"]);
    let out = studio(
        &[
            "library",
            "similar",
            "/no/such.png",
            "--clip",
            clip.to_str().unwrap(),
            "--library",
            library.to_str().unwrap(),
        ],
        cwd,
    );
    let err = sentence_of(&out);
    assert!(err.contains("/no/such.png"), "{err}");
}
