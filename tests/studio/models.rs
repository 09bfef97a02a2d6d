//! The Models panel says what a job would use now: a wrong folder set in Settings is named in
//! its row with a way out, and the missing-model notice goes once the model is found.

use std::time::Duration;

use egui_kittest::kittest::Queryable;
use storybook_studio::app::notices::NoticeKey;
use storybook_studio::app::state::Tab;
use storybook_studio::worker::ModelKind;

use super::common::fixture;
use super::harness::{click, config, engine, studio, wait_for};

const LIMIT: Duration = Duration::from_secs(60);

#[cfg(unix)]
#[test]
fn a_wrong_folder_in_settings_is_named_and_its_notice_clears_once_found() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::os::unix::fs::symlink(fixture("gpt2-tiny"), models.join("gpt2")).unwrap();
    let mut settings = engine(dir.path());
    settings.models_dir = Some(models);
    settings.gpt2 = Some(dir.path().join("wrong-gpt2"));
    let mut h = studio(config(settings));
    h.state_mut().state.prompt = "A dragon".into();
    h.step();
    click(&mut h, "Generate");
    wait_for(&mut h, "the Models panel", LIMIT, |a| {
        a.state.tab == Tab::Models && !a.story.generating
    });
    let app = h.state();
    assert!(
        app.story.candidates.is_empty(),
        "no empty story cards are left"
    );
    let gpt2 = NoticeKey::Model(ModelKind::Gpt2);
    assert!(app.notices.items.iter().any(|n| n.key == Some(gpt2)));
    assert!(
        h.query_by_label("Dismiss").is_none(),
        "the Models panel does not repeat its own rows as a notice"
    );
    assert!(
        h.query_by_label_contains("wrong-gpt2 does not exist")
            .is_some()
            || h.query_by_label_contains("was not found at").is_some()
    );
    assert!(
        h.query_by_label("Download gpt2").is_none(),
        "a download would not be used"
    );

    click(&mut h, "Clear the gpt2 setting");
    wait_for(&mut h, "GPT-2 found in the models folder", LIMIT, |a| {
        a.models
            .rows
            .iter()
            .any(|r| r.kind == ModelKind::Gpt2 && r.found.is_some())
    });
    let app = h.state();
    assert!(app.state.engine.gpt2.is_none());
    assert!(
        app.models.message.is_none(),
        "the reason went with the cause"
    );
    assert!(
        app.notices.items.iter().all(|n| n.key != Some(gpt2)),
        "{:?}",
        app.notices.items
    );
    assert!(
        app.notices.items.iter().any(|n| n
            .text
            .contains("Settings applied: GPT-2 folder set to the default")),
        "{:?}",
        app.notices.items
    );
    h.state_mut().models.rows.clear();
    h.step();
    click(&mut h, "Look again");
    wait_for(&mut h, "the rows again", LIMIT, |a| {
        !a.models.rows.is_empty()
    });
    let gpt2_row = h
        .state()
        .models
        .rows
        .iter()
        .find(|r| r.kind == ModelKind::Gpt2)
        .cloned()
        .unwrap();
    assert!(gpt2_row.found.is_some(), "Look again agrees: {gpt2_row:?}");
}

/// A stalled VQGAN download, cancelled from its row: it stops at once, says so, and keeps the
/// part for the next try; the illustrator choice then names the other model's source.
#[test]
fn a_download_is_cancelled_from_its_row_and_the_illustrator_can_be_chosen() {
    use super::common::hub::{FakeHub, ServedFile, Trouble, COMMIT};
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..4_000_000).map(|i| (i % 253) as u8).collect();
    let served = vec![ServedFile::new(
        "Somnai/pytti-vqgan-checkpoints",
        COMMIT,
        "imagenet/imagenet.ckpt",
        big,
    )];
    let hub = FakeHub::start(served, Trouble::Stall);
    let mut settings = engine(dir.path());
    settings.vqgan = None;
    settings.offline = false;
    settings.hub_mirror = Some(hub.url.clone());
    let mut h = studio(config(settings));
    h.state_mut().state.tab = Tab::Models;
    wait_for(&mut h, "the rows", LIMIT, |a| !a.models.rows.is_empty());

    click(&mut h, "Download vqgan");
    wait_for(&mut h, "bytes arriving", LIMIT, |a| {
        a.models.downloading.as_ref().is_some_and(|d| d.2 > 0)
    });
    click(&mut h, "Cancel download");
    let asked = std::time::Instant::now();
    wait_for(&mut h, "the download to stop", LIMIT, |a| {
        a.models.downloading.is_none()
    });
    let stopped_in = asked.elapsed();
    assert!(stopped_in < Duration::from_millis(1500), "{stopped_in:?}");
    let app = h.state();
    assert!(
        app.notices
            .items
            .iter()
            .any(|n| n.text.contains("Download cancelled")),
        "{:?}",
        app.notices.items
    );
    let blobs = dir
        .path()
        .join("hub-cache/models--Somnai--pytti-vqgan-checkpoints/blobs");
    let parts: Vec<_> = std::fs::read_dir(&blobs)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".incomplete"))
        .collect();
    assert_eq!(parts.len(), 1, "the part is kept for the next try");

    h.get_by_label("Illustrator model").click();
    h.step();
    h.step();
    click(&mut h, "wikiart");
    wait_for(&mut h, "the VQGAN row to name wikiart", LIMIT, |a| {
        a.models
            .rows
            .iter()
            .any(|r| r.kind == ModelKind::Vqgan && r.note.contains("download wikiart"))
    });
    assert_eq!(h.state().state.engine.vqgan_model, "wikiart");
}

/// Story weights chosen on the Models tab reach the writer: q8 is kept in the settings and a
/// story is written with it.
#[test]
fn story_weights_chosen_in_models_write_a_story() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = studio(config(engine(dir.path())));
    h.state_mut().state.tab = Tab::Models;
    wait_for(&mut h, "the rows", LIMIT, |a| !a.models.rows.is_empty());
    h.get_by_label("Story weights").click();
    h.step();
    h.step();
    click(&mut h, "q8");
    assert_eq!(h.state().state.engine.gpt2_weights, "q8");
    {
        let state = &mut h.state_mut().state;
        let s = &mut state.sampling;
        (s.max_new_tokens, s.min_new_tokens, s.num_sequences) = (8, 8, 1);
        state.prompt = "Once upon a time".into();
        state.tab = Tab::Write;
    }
    h.step();
    click(&mut h, "Generate");
    wait_for(&mut h, "the story", LIMIT, |a| {
        !a.story.generating && a.story.candidates.len() == 1
    });
    let app = h.state();
    assert!(app.story.candidates[0].starts_with("Once upon a time"));
    assert_eq!(
        app.story.weights.as_deref(),
        Some("q8"),
        "written with the chosen weights"
    );
    assert!(h.query_by_label_contains("tokens/s, q8 weights").is_some());
    assert!(
        app.notices.items.iter().all(|n| !n.is_error),
        "{:?}",
        app.notices.items
    );
}
