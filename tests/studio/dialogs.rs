//! No silent dead ends: replacing unsaved edits asks first, a file dialog that cannot open
//! leads to the in-app browser, and notices stay readable and dismissable.

use std::time::Duration;

use egui_kittest::kittest::Queryable;
use storybook_studio::app::draft::PageView;
use storybook_studio::app::file_picker::ScriptedPicker;
use storybook_studio::app::state::Tab;
use storybook_studio::store::Library;

use super::common::fixture;
use super::harness::{
    click, click_settled, close, config, engine, reopen, saved_book, studio, studio_sized, wait_for,
};

const LIMIT: Duration = Duration::from_secs(60);
const QUESTION: &str = "Save the book in progress?";

fn sentences(app: &storybook_studio::app::StudioApp) -> Vec<String> {
    app.pages.iter().map(|p| p.sentence.clone()).collect()
}

#[test]
fn open_and_new_book_ask_first_when_there_are_unsaved_edits() {
    let dir = tempfile::tempdir().unwrap();
    let library = engine(dir.path()).library.unwrap();
    let id = saved_book(&library, "The Lighthouse Fox", &["The fox lit the lamp."]);
    let mut h = studio(config(engine(dir.path())));
    h.state_mut().pages = vec![PageView::new("My own first page.")];
    h.step();
    assert!(h.state().has_unsaved_edits());
    click(&mut h, "Library");
    wait_for(&mut h, "the books", LIMIT, |a| !a.library.books.is_empty());

    click(&mut h, "Open");
    h.run_steps(2); // a modal is sized in an invisible first frame
    assert!(h.query_by_label(QUESTION).is_some(), "Open asks first");
    assert_eq!(sentences(h.state()), ["My own first page."]);
    click(&mut h, "Cancel");
    assert!(h.query_by_label(QUESTION).is_none());
    h.run_steps(5);
    assert_eq!(
        sentences(h.state()),
        ["My own first page."],
        "Cancel keeps the edits"
    );

    click(&mut h, "Open");
    h.run_steps(2);
    click(&mut h, "Discard");
    wait_for(&mut h, "the opened book", LIMIT, |a| {
        a.state.book_id == Some(id) && a.pages.len() == 1
    });
    assert_eq!(sentences(h.state()), ["The fox lit the lamp."]);

    // An edit to the opened book, then New book: Save keeps it in the library first.
    h.state_mut().pages[0].sentence = "The fox lit the big lamp.".into();
    h.state_mut().state.tab = Tab::Write;
    h.step();
    click(&mut h, "New book");
    h.run_steps(2);
    assert!(h.query_by_label(QUESTION).is_some(), "New book asks first");
    click(&mut h, "Save");
    wait_for(&mut h, "the save, then the new book", LIMIT, |a| {
        a.pages.is_empty()
    });
    let book = Library::open(&library).unwrap().book(id).unwrap();
    assert_eq!(book.pages[0].sentence, "The fox lit the big lamp.");
    assert!(book.pages[0].png.is_some(), "its picture stayed");
    // Nothing to lose now: New book goes ahead without a question.
    h.state_mut().pages = vec![];
    click(&mut h, "New book");
    h.run_steps(2);
    assert!(h.query_by_label(QUESTION).is_none());
}

#[test]
fn open_book_on_the_command_line_asks_when_the_kept_book_has_unsaved_edits() {
    let dir = tempfile::tempdir().unwrap();
    let library = engine(dir.path()).library.unwrap();
    let id = saved_book(&library, "The Lighthouse Fox", &["The fox lit the lamp."]);
    let mut h = studio(config(engine(dir.path())));
    wait_for(&mut h, "the draft", LIMIT, |a| a.keeping.draft_ready);
    h.state_mut().pages = vec![PageView::new("Words not saved anywhere else.")];
    h.step();
    let storage = close(h);

    let mut cfg = config(engine(dir.path()));
    cfg.open_book = Some(id);
    cfg.tab = Some(Tab::Illustrate);
    let mut h = reopen(storage, cfg);
    wait_for(&mut h, "the question", LIMIT, |a| {
        a.keeping.asking.is_some()
    });
    h.step();
    assert!(h.query_by_label(QUESTION).is_some());
    assert_eq!(sentences(h.state()), ["Words not saved anywhere else."]);
    click(&mut h, "Discard");
    wait_for(&mut h, "the opened book", LIMIT, |a| {
        a.state.book_id == Some(id)
    });
    assert_eq!(h.state().state.tab, Tab::Illustrate, "on the tab asked for");
}

#[test]
fn a_failing_file_picker_shows_a_notice_and_the_path_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(engine(dir.path()));
    let mut picker = ScriptedPicker::default();
    picker
        .answers
        .push_back(Err("no desktop portal answered".into()));
    cfg.picker = Box::new(picker);
    let mut h = studio(cfg);
    h.state_mut().state.tab = Tab::Words;
    h.step();
    click(&mut h, "Open…");
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("no desktop portal answered")
            .is_some(),
        "a notice says why"
    );
    assert!(h.state().browser.is_some());
    let images = fixture("clip-tiny/images");
    // Type the folder and part of the name, complete it, and open.
    h.state_mut().browser.as_mut().unwrap().text = format!("{}/circle_256", images.display());
    click_settled(&mut h, "Complete");
    assert_eq!(
        h.state().browser.as_ref().unwrap().text,
        images.join("circle_256x256.png").display().to_string()
    );
    assert!(
        h.query_by_label("Path").is_some(),
        "the path field is there"
    );
    click(&mut h, "Open");
    wait_for(&mut h, "the chosen image", LIMIT, |a| {
        a.words.texture.is_some()
    });
    assert!(h.state().browser.is_none());
    assert_eq!(h.state().state.recent_folders.first(), Some(&images));
    assert!(h.query_by_label("Image: circle_256x256.png").is_some());
}

#[test]
fn the_file_browser_refuses_a_wrong_path_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(engine(dir.path()));
    let mut picker = ScriptedPicker::default();
    picker.answers.push_back(Err("no zenity".into()));
    cfg.picker = Box::new(picker);
    let mut h = studio(cfg);
    h.state_mut().state.tab = Tab::Models;
    // The rows first, so the button is not moved between finding it and clicking it.
    wait_for(&mut h, "the model rows", LIMIT, |a| {
        !a.models.rows.is_empty()
    });
    click(&mut h, "Choose models folder…");
    h.run_steps(2);
    h.state_mut().browser.as_mut().unwrap().text =
        dir.path().join("not-a-folder").display().to_string();
    click_settled(&mut h, "Use this folder");
    assert!(h.query_by_label_contains("There is no folder at").is_some());
    h.state_mut().browser.as_mut().unwrap().text = dir.path().display().to_string();
    click_settled(&mut h, "Use this folder");
    assert!(h.state().browser.is_none());
    assert_eq!(
        h.state().state.engine.models_dir.as_deref(),
        Some(dir.path())
    );
    assert!(
        h.query_by_label_contains("Settings applied: models folder set to")
            .is_some(),
        "Apply says what it applied"
    );
}

#[test]
fn a_long_notice_is_dismissable_at_800_px() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = studio_sized(config(engine(dir.path())), [800.0, 600.0]);
    let long = format!(
        "The library could not be opened: {}",
        "a very long reason ".repeat(80)
    );
    h.state_mut().notices.error(long.clone());
    h.step();
    h.step();
    let dismiss = h.get_by_label("Dismiss");
    let rect = dismiss.rect();
    assert!(
        rect.min.x >= 0.0 && rect.max.x <= 800.0 && rect.min.y >= 0.0 && rect.max.y <= 600.0,
        "Dismiss is in the window: {rect:?}"
    );
    let text = h
        .get_by_label_contains("The library could not be opened")
        .rect();
    assert!(
        text.max.x <= 800.0,
        "the text wraps inside the window: {text:?}"
    );
    assert!(
        text.height() < 150.0,
        "a long notice is cut short: {text:?}"
    );
    dismiss.click();
    h.step();
    h.step();
    assert!(h.state().notices.items.is_empty());

    for i in 1..=5 {
        h.state_mut().notices.error(format!("Problem number {i}."));
    }
    h.step();
    h.step();
    assert_eq!(h.query_all_by_label("Dismiss").count(), 3, "three at most");
    assert!(
        h.query_by_label("Problem number 5.").is_some(),
        "newest shown"
    );
    assert!(
        h.query_by_label("Problem number 1.").is_none(),
        "oldest folded"
    );
    click(&mut h, "2 more");
    assert_eq!(h.query_all_by_label("Dismiss").count(), 5);
}

#[test]
fn the_empty_prompt_notice_goes_once_a_prompt_is_typed() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = studio(config(engine(dir.path())));
    h.step();
    click(&mut h, "Generate");
    assert!(h.query_by_label_contains("The prompt is empty").is_some());
    click(&mut h, "Story prompt");
    h.get_by_label("Story prompt").type_text("A fox");
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("The prompt is empty").is_none(),
        "{:?}",
        h.state().notices.items
    );
}

#[test]
fn closing_with_unsaved_edits_asks_and_discard_closes() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = studio(config(engine(dir.path())));
    h.state_mut().pages = vec![PageView::new("Not saved yet.")];
    h.step();
    let close_request = |h: &mut egui_kittest::Harness<'static, _>| {
        h.input_mut()
            .viewports
            .entry(egui::ViewportId::ROOT)
            .or_default()
            .events
            .push(egui::ViewportEvent::Close);
        h.step();
    };
    close_request(&mut h);
    let cancelled = h.output().viewport_output[&egui::ViewportId::ROOT]
        .commands
        .contains(&egui::ViewportCommand::CancelClose);
    assert!(cancelled, "the close waits for an answer");
    h.run_steps(2);
    assert!(h.query_by_label(QUESTION).is_some());
    click(&mut h, "Cancel");
    h.run_steps(2);
    assert!(h.query_by_label(QUESTION).is_none());
    assert_eq!(sentences(h.state()), ["Not saved yet."]);

    close_request(&mut h);
    h.run_steps(2);
    h.get_by_label("Discard").click();
    h.step();
    let closing = h.output().viewport_output[&egui::ViewportId::ROOT]
        .commands
        .contains(&egui::ViewportCommand::Close);
    assert!(closing, "Discard lets the window close");
    assert!(h.state().pages.is_empty(), "and the edits are dropped");
    assert!(h.state().keeping.quitting);
}

/// A file that is not an image is refused and forgotten: Prompt and Poem have nothing to run on.
#[test]
fn a_refused_image_is_not_kept_for_prompt_and_poem() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.png");
    std::fs::write(&fake, b"these are words, not pixels").unwrap();
    let mut cfg = config(engine(dir.path()));
    let mut picker = ScriptedPicker::default();
    picker.answers.push_back(Ok(Some(fake)));
    cfg.picker = Box::new(picker);
    let mut h = studio(cfg);
    h.state_mut().state.tab = Tab::Words;
    h.step();
    click(&mut h, "Open…");
    wait_for(&mut h, "the refusal", LIMIT, |a| !a.words.loading);
    let app = h.state();
    assert!(
        app.notices
            .items
            .iter()
            .any(|n| n.text.contains("fake.png")),
        "{:?}",
        app.notices.items
    );
    assert!(app.words.image.is_none() && app.words.image_name.is_none());
    assert!(h.query_by_label("Image: fake.png").is_none());
}

/// Export from Read writes the library's copy; with edits not saved it says so instead.
#[test]
fn export_with_unsaved_edits_asks_for_a_save_first() {
    let dir = tempfile::tempdir().unwrap();
    let library = engine(dir.path()).library.unwrap();
    let id = saved_book(&library, "The Lighthouse Fox", &["The fox lit the lamp."]);
    let mut cfg = config(engine(dir.path()));
    cfg.open_book = Some(id);
    let mut h = studio(cfg);
    wait_for(&mut h, "the opened book", LIMIT, |a| a.pages.len() == 1);
    h.state_mut().pages[0].sentence = "The fox lit the big lamp.".into();
    h.state_mut().state.tab = Tab::Read;
    h.step();
    click_settled(&mut h, "Export…");
    assert!(
        h.state()
            .notices
            .items
            .iter()
            .any(|n| n.text.contains("not yet saved")),
        "{:?}",
        h.state().notices.items
    );
    assert!(h.state().browser.is_none(), "no file was asked for");
}
