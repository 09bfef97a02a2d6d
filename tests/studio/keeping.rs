//! The studio keeps the user's work across a restart: the book in progress comes back with its
//! pictures, and saving it afterwards leaves the library's pictures exactly as they were.

use std::time::Duration;

use egui_kittest::kittest::Queryable;
use storybook_studio::app::state::Tab;
use storybook_studio::store::draft::DraftStore;
use storybook_studio::store::Library;

use super::harness::{click, close, config, engine, reopen, saved_book, studio, wait_for};

const LIMIT: Duration = Duration::from_secs(60);
const SENTENCES: [&str; 3] = [
    "The fox lit the lamp.",
    "Ships came home.",
    "The sea was calm.",
];

fn stored(library: &std::path::Path, id: i64) -> Vec<(String, Option<Vec<u8>>, Option<f64>)> {
    Library::open(library)
        .unwrap()
        .book(id)
        .unwrap()
        .pages
        .into_iter()
        .map(|p| (p.sentence, p.png, p.similarity))
        .collect()
}

/// Opens book `id` with `gui --open-book ID`'s path, waits for its pictures, and closes.
fn open_then_close(dir: &std::path::Path, id: i64) -> super::harness::MemoryStorage {
    let mut cfg = config(engine(dir));
    cfg.open_book = Some(id);
    let mut h = studio(cfg);
    wait_for(&mut h, "the opened book's pictures", LIMIT, |a| {
        a.pages.len() == 3 && a.pages.iter().all(|p| p.texture.is_some())
    });
    assert_eq!(h.state().state.tab, Tab::Read, "--open-book shows the book");
    assert!(
        !h.state().has_unsaved_edits(),
        "a book just opened has no edits"
    );
    close(h)
}

/// Starts the studio again from `storage`, waits for the kept pictures, saves from Read, and
/// waits for a notice containing `said`.
fn reopen_and_save(
    dir: &std::path::Path,
    storage: super::harness::MemoryStorage,
    said: &str,
) -> egui_kittest::Harness<'static, storybook_studio::app::StudioApp> {
    let mut h = reopen(storage, config(engine(dir)));
    wait_for(&mut h, "the kept pictures", LIMIT, |a| {
        a.pages.iter().all(|p| p.texture.is_some())
    });
    click(&mut h, "Read");
    click(&mut h, "Save to library");
    wait_for(&mut h, "the save", LIMIT, |a| {
        a.notices.items.iter().any(|n| n.text.contains(said))
    });
    h
}

#[test]
fn a_restart_brings_back_every_page_picture() {
    let dir = tempfile::tempdir().unwrap();
    let library = engine(dir.path()).library.unwrap();
    let id = saved_book(&library, "The Lighthouse Fox", &SENTENCES);
    let storage = open_then_close(dir.path(), id);
    assert!(
        DraftStore::path_for(&library).exists(),
        "the draft file is beside the library"
    );

    let mut h = reopen(storage, config(engine(dir.path())));
    wait_for(&mut h, "the kept pictures", LIMIT, |a| {
        a.pages.iter().all(|p| p.texture.is_some())
    });
    let app = h.state();
    assert_eq!(
        app.state.book_id,
        Some(id),
        "still tied to its library book"
    );
    let stored = stored(&library, id);
    for (page, (sentence, png, similarity)) in app.pages.iter().zip(&stored) {
        assert_eq!(&page.sentence, sentence);
        assert_eq!(&page.png, png, "the picture's bytes came back");
        assert_eq!(
            page.similarity.map(f64::from),
            similarity.map(|s| s as f32 as f64)
        );
        assert_eq!(page.status_label(), "done");
    }
    assert!(!app.has_unsaved_edits());
    // The Read panel draws it, and says nothing about a missing picture.
    click(&mut h, "Read");
    assert!(h.query_by_label("(not illustrated yet)").is_none());
    assert!(h.query_by_label("The fox lit the lamp.").is_some());
}

#[test]
fn save_after_a_restart_leaves_the_stored_pictures_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let library = engine(dir.path()).library.unwrap();
    let id = saved_book(&library, "The Lighthouse Fox", &SENTENCES);
    let before = stored(&library, id);
    let storage = open_then_close(dir.path(), id);

    let _studio = reopen_and_save(
        dir.path(),
        storage,
        &format!("Saved to the library as book {id}."),
    );
    assert_eq!(
        stored(&library, id),
        before,
        "same text, PNG bytes and similarity"
    );
    let book = Library::open(&library).unwrap().book(id).unwrap();
    assert!(book.is_complete(), "3 of 3 pages, all illustrated");
}

#[test]
fn save_without_the_kept_pictures_still_keeps_the_stored_ones() {
    // A book in progress whose pictures never reached the studio (an older studio kept only
    // the text): saving it must not erase the library's pictures of the same sentences.
    let dir = tempfile::tempdir().unwrap();
    let library = engine(dir.path()).library.unwrap();
    let id = saved_book(&library, "The Lighthouse Fox", &SENTENCES);
    let before = stored(&library, id);
    let storage = open_then_close(dir.path(), id);
    std::fs::remove_file(DraftStore::path_for(&library)).unwrap();

    let mut h = reopen(storage, config(engine(dir.path())));
    wait_for(&mut h, "the draft to be looked for", LIMIT, |a| {
        a.keeping.draft_ready
    });
    assert_eq!(
        h.state().pages.len(),
        3,
        "the text came back from eframe storage"
    );
    assert!(h.state().pages.iter().all(|p| p.png.is_none()));
    h.state_mut().state.tab = Tab::Read;
    h.step();
    click(&mut h, "Save to library");
    wait_for(&mut h, "the save", LIMIT, |a| {
        a.notices.items.iter().any(|n| n.text.starts_with("Saved"))
    });
    assert_eq!(stored(&library, id), before);
}

#[test]
fn an_edited_page_keeps_its_picture_marked_stale_through_save_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let library = engine(dir.path()).library.unwrap();
    let id = saved_book(&library, "The Lighthouse Fox", &SENTENCES);
    let before = stored(&library, id);
    let storage = open_then_close(dir.path(), id);
    let mut h = reopen(storage, config(engine(dir.path())));
    wait_for(&mut h, "the kept pictures", LIMIT, |a| {
        a.pages.iter().all(|p| p.texture.is_some())
    });
    h.state_mut().pages[1].sentence = "Ships came home at dawn.".into();
    h.state_mut().state.tab = Tab::Illustrate;
    h.step();
    h.step();
    assert!(h.state().has_unsaved_edits());
    assert!(h.state().pages[1].is_stale());
    assert!(
        h.query_by_label_contains("picture out of date").is_some(),
        "the page list says the picture no longer matches"
    );
    assert!(h.query_by_label("Redraw page 2").is_some());
    let storage = close(h);

    let mut h = reopen(storage, config(engine(dir.path())));
    wait_for(&mut h, "the kept pictures", LIMIT, |a| {
        a.pages.iter().all(|p| p.texture.is_some())
    });
    assert!(h.state().pages[1].is_stale(), "still stale after a restart");
    assert!(
        h.state().has_unsaved_edits(),
        "still unsaved after a restart"
    );
    h.state_mut().state.tab = Tab::Read;
    h.step();
    click(&mut h, "Save to library");
    wait_for(&mut h, "the save", LIMIT, |a| !a.has_unsaved_edits());
    let after = stored(&library, id);
    assert_eq!(after[1].0, "Ships came home at dawn.");
    assert_eq!(after[1].1, before[1].1, "the picture was kept, not erased");
}

#[test]
fn a_foreign_draft_file_is_one_notice_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let library = engine(dir.path()).library.unwrap();
    let draft = DraftStore::path_for(&library);
    std::fs::write(&draft, b"somebody else's notes").unwrap();
    let mut h = studio(config(engine(dir.path())));
    wait_for(&mut h, "the draft's answer", LIMIT, |a| {
        a.keeping.draft_read
    });
    assert!(
        h.state()
            .notices
            .items
            .iter()
            .any(|n| n.is_error && n.text.contains("is not the studio's draft file")),
        "{:?}",
        h.state().notices.items
    );
    h.state_mut().pages = vec![storybook_studio::app::draft::PageView::new("New words.")];
    h.run_steps(3);
    drop(close(h));
    assert_eq!(std::fs::read(&draft).unwrap(), b"somebody else's notes");
}

/// The CLI redraws a page of the book the studio has open; the studio's Save then goes to a
/// new book, and the redrawn picture stays in the old one.
#[test]
fn save_over_a_book_changed_elsewhere_keeps_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let library = engine(dir.path()).library.unwrap();
    let id = saved_book(&library, "The Lighthouse Fox", &SENTENCES);
    let before = stored(&library, id);
    let storage = open_then_close(dir.path(), id);

    let redrawn = super::harness::png(9);
    let page = storybook_studio::store::NewPage {
        sentence: SENTENCES[0].into(),
        png: Some(redrawn.clone()),
        seed: 99,
        iterations: 50,
        similarity: Some(0.5),
        ..Default::default()
    };
    Library::open(&library)
        .unwrap()
        .update_page(id, 0, &page)
        .unwrap();

    let mut h = reopen_and_save(dir.path(), storage, "saved as a new book");
    let new_id = h.state().state.book_id.unwrap();
    assert_ne!(new_id, id);
    let old = stored(&library, id);
    assert_eq!(old[0].1.as_ref(), Some(&redrawn), "the redraw is kept");
    assert_eq!(old[1..], before[1..]);
    let new = stored(&library, new_id);
    assert_eq!(new[0].1, before[0].1, "the studio's picture is kept too");

    // Saved once more, the new book is its own: no third copy.
    click(&mut h, "Save to library");
    wait_for(&mut h, "the second save", LIMIT, |a| {
        a.notices
            .items
            .iter()
            .any(|n| n.text == format!("Saved to the library as book {new_id}."))
    });
    assert_eq!(
        Library::open(&library).unwrap().list(0, 10).unwrap().len(),
        2
    );
}

/// Pause keeps a page's progress through a restart, and Resume finishes it to the very
/// picture an uninterrupted run of the same page draws.
#[test]
fn a_paused_page_survives_a_restart_and_resumes_to_the_same_picture() {
    use storybook_studio::app::draft::{PageStatus, PageView};
    let setup = |h: &mut egui_kittest::Harness<'static, storybook_studio::app::StudioApp>| {
        let app = h.state_mut();
        app.pages = vec![PageView::new("a lighthouse at night")];
        app.state.illustration.width = 32;
        app.state.illustration.height = 32;
        app.state.illustration.cutn = 2;
        app.state.illustration.iterations = 120;
        app.state.illustration.preview_every = 0;
    };
    // The page drawn straight through, in a studio of its own.
    let straight = tempfile::tempdir().unwrap();
    let mut h = studio(config(engine(straight.path())));
    setup(&mut h);
    h.step();
    click(&mut h, "Illustrate");
    click(&mut h, "Illustrate page 1");
    wait_for(&mut h, "the whole page", LIMIT, |a| {
        a.pages[0].png.is_some()
    });
    let whole = h.state().pages[0].png.clone().unwrap();
    drop(h);

    let dir = tempfile::tempdir().unwrap();
    let mut h = studio(config(engine(dir.path())));
    setup(&mut h);
    h.step();
    click(&mut h, "Illustrate");
    click(&mut h, "Illustrate page 1");
    wait_for(&mut h, "a few steps", LIMIT, |a| a.illustrate.step >= 10);
    click(&mut h, "Pause page 1");
    wait_for(&mut h, "the pause", LIMIT, |a| {
        matches!(a.pages[0].status, PageStatus::Paused(_))
    });
    let PageStatus::Paused(step) = h.state().pages[0].status else {
        unreachable!()
    };
    assert!((10..120).contains(&step), "paused at {step}");
    assert!(h.state().pages[0].png.is_none());
    let storage = close(h);

    let mut h = reopen(storage, config(engine(dir.path())));
    wait_for(&mut h, "the kept paused page", LIMIT, |a| {
        a.pages
            .first()
            .is_some_and(|p| p.status == PageStatus::Paused(step))
    });
    // The tab it was on comes back with the window.
    assert_eq!(
        h.state().state.tab,
        storybook_studio::app::state::Tab::Illustrate
    );
    h.run_steps(2);
    assert!(h.query_by_label("Start page 1 over").is_some());
    click(&mut h, &format!("Resume page 1 from step {step}"));
    wait_for(&mut h, "the resumed page", LIMIT, |a| {
        a.pages[0].png.is_some()
    });
    assert!(
        h.state().pages[0].png.as_ref() == Some(&whole),
        "the resumed picture differs"
    );
    assert!(h.state().pages[0].checkpoint.is_none());
}
