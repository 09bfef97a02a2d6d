//! The library panel: a saved book shows with its cover, opens into the Read panel, and is
//! deleted only after confirmation.

use std::time::Duration;

use egui_kittest::kittest::Queryable;
use storybook_studio::app::state::Tab;
use storybook_studio::store::{Library, NewBook, NewPage};

use super::harness::{click, config, engine, studio, wait_for};

const LIMIT: Duration = Duration::from_secs(60);

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(32, 32, |x, y| image::Rgb([x as u8 * 8, y as u8 * 8, 120]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn a_saved_book_shows_opens_and_is_deleted_after_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let settings = engine(dir.path());
    let path = settings.library.clone().unwrap();
    let id = {
        let mut lib = Library::open(&path).unwrap();
        let book = NewBook {
            title: "The Lighthouse Fox".into(),
            prompt: "a fox who kept a lighthouse".into(),
            planned_pages: 2,
            ..NewBook::default()
        };
        let pages = [
            NewPage {
                sentence: "The fox lit the lamp.".into(),
                png: Some(png()),
                ..NewPage::default()
            },
            NewPage {
                sentence: "Ships came home.".into(),
                png: Some(png()),
                ..NewPage::default()
            },
        ];
        lib.create_book(&book, &pages).unwrap()
    };
    let mut h = studio(config(settings));
    h.step();
    click(&mut h, "Library");
    wait_for(&mut h, "the books", LIMIT, |a| !a.library.books.is_empty());
    assert!(h.query_by_label("The Lighthouse Fox").is_some());
    assert!(
        h.state().library.books[0].1.is_some(),
        "the cover thumbnail is shown"
    );

    click(&mut h, "Open");
    wait_for(&mut h, "the opened book", LIMIT, |a| {
        a.state.tab == Tab::Read
    });
    assert_eq!(h.state().pages.len(), 2);
    assert!(h.query_by_label("The fox lit the lamp.").is_some());
    click(&mut h, "Next page");
    assert!(h.query_by_label("Ships came home.").is_some());

    click(&mut h, "Library");
    click(&mut h, "Delete");
    h.run_steps(3);
    assert!(h.state().library.confirm_delete.is_some());
    assert!(h.query_by_label("Delete this book?").is_some());
    click(&mut h, "Keep it");
    assert!(h.query_by_label("Delete this book?").is_none());
    assert_eq!(h.state().library.books.len(), 1);
    click(&mut h, "Delete");
    click(&mut h, "Delete for good");
    wait_for(&mut h, "the deletion", LIMIT, |a| {
        a.library.books.is_empty()
    });
    let lib = Library::open(&path).unwrap();
    assert!(lib.book(id).is_err(), "the book is gone from the file");
}

/// The Library's search: by words, by meaning (MiniLM found in Settings, the old pages
/// embedded on the first search), words only with a note when MiniLM is missing, and a
/// picture dropped on the panel finds the book whose page it is.
#[test]
fn search_by_words_meaning_and_a_dropped_picture() {
    let dir = tempfile::tempdir().unwrap();
    let minilm = dir.path().join("minilm-tiny");
    std::fs::create_dir_all(&minilm).unwrap();
    crate::common::minilm::write_tiny_minilm(&minilm);
    let settings = engine(dir.path());
    let path = settings.library.clone().unwrap();
    let fox = super::harness::saved_book(&path, "The Lighthouse Fox", &["The fox lit the lamp."]);
    let owl = super::harness::saved_book(
        &path,
        "The Owl",
        &["An owl sang to the moon.", "It flew home at dawn."],
    );
    // The owl's second picture is unlike every other (the first pages share one).
    let owl_picture = Library::open(&path).unwrap().book(owl).unwrap().pages[1]
        .png
        .clone()
        .unwrap();

    // Without MiniLM the default search finds by words and says why.
    let mut h = studio(config(settings.clone()));
    h.step();
    click(&mut h, "Library");
    wait_for(&mut h, "the books", LIMIT, |a| a.library.books.len() == 2);
    h.state_mut().library.query = "owl".into();
    // Choosing a mode searches again: Words, then back to Both (the default).
    click(&mut h, "Words");
    click(&mut h, "Both");
    wait_for(&mut h, "the note", LIMIT, |a| a.library.note.is_some());
    assert!(h
        .state()
        .library
        .note
        .as_deref()
        .unwrap()
        .contains("words only"));
    let ids: Vec<i64> = h.state().library.books.iter().map(|(c, _)| c.id).collect();
    assert_eq!(ids, vec![owl]);
    drop(h);

    let mut with_minilm = settings;
    with_minilm.minilm = Some(minilm);
    let mut h = studio(config(with_minilm));
    h.step();
    click(&mut h, "Library");
    wait_for(&mut h, "the books", LIMIT, |a| a.library.books.len() == 2);
    h.state_mut().library.query = "a bird at night".into();
    click(&mut h, "Meaning");
    wait_for(&mut h, "both books ranked", LIMIT, |a| {
        a.library.books.len() == 2 && a.library.books.iter().all(|(c, _)| c.matched.is_some())
    });
    let owl_card = &h
        .state()
        .library
        .books
        .iter()
        .find(|(c, _)| c.id == owl)
        .unwrap()
        .0;
    let matched = owl_card.matched.clone().unwrap();
    assert!(
        matched == "page 1: An owl sang to the moon." || matched == "page 2: It flew home at dawn.",
        "{matched}"
    );
    assert!(
        h.query_by_label(&matched).is_some(),
        "the matched page is shown"
    );
    assert_eq!(
        Library::open(&path)
            .unwrap()
            .count_without_vector(
                storybook_studio::store::VectorKind::Text,
                "minilm:minilm-tiny"
            )
            .unwrap(),
        0,
        "every page was embedded"
    );

    // A picture dropped on the Library finds its own page first.
    let picture = dir.path().join("owl.png");
    std::fs::write(&picture, &owl_picture).unwrap();
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(super::harness::DroppedPath(picture)));
    wait_for(&mut h, "the closest pictures", LIMIT, |a| {
        a.library
            .note
            .as_deref()
            .is_some_and(|n| n.contains("closest first"))
            && a.library.books.first().is_some_and(|(c, _)| c.id == owl)
    });
    assert_eq!(h.state().library.books.len(), 2);
    assert!(h.state().library.books.iter().any(|(c, _)| c.id == fox));
}
