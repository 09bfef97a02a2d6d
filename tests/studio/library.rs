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
