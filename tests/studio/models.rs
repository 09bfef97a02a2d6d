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
