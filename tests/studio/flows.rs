//! Write → pick → split; illustrate with a changing preview and cancel; drop an image → prompt →
//! use as story prompt; a missing model leads to the Models panel.

use std::sync::Arc;
use std::time::Duration;

use egui_kittest::kittest::Queryable;
use storybook_studio::app::draft::{PageStatus, PageView};
use storybook_studio::app::state::Tab;

use super::common::fixture;
use super::harness::{click, config, engine, studio, wait_for, DroppedPath};

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn write_generate_pick_and_split_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = studio(config(engine(dir.path())));
    {
        let s = &mut h.state_mut().state.sampling;
        s.max_new_tokens = 12;
        s.min_new_tokens = 4;
        s.num_sequences = 2;
    }
    h.step();
    click(&mut h, "Story prompt");
    h.get_by_label("Story prompt")
        .type_text("Once upon a time a small fox");
    h.step();
    assert_eq!(h.state().state.prompt, "Once upon a time a small fox");
    click(&mut h, "Generate");
    wait_for(&mut h, "the candidates", LIMIT, |a| {
        !a.story.generating && a.story.candidates.len() == 2
    });
    assert!(h.state().story.candidates[0].starts_with("Once upon a time a small fox"));
    click(&mut h, "Use story 1");
    let before = h.state().pages.len();
    assert!(before >= 1);
    assert!(h.query_by_label(&format!("Pages ({before})")).is_some());
    // Split the first page that has more than one word.
    let i = h
        .state()
        .pages
        .iter()
        .position(|p| p.sentence.split_whitespace().count() > 1)
        .unwrap();
    h.get_all_by_label("Split").nth(i).unwrap().click();
    h.step();
    h.step();
    assert_eq!(h.state().pages.len(), before + 1);
    assert!(h
        .query_by_label(&format!("Pages ({})", before + 1))
        .is_some());
}

#[test]
fn illustrate_shows_changing_previews_and_cancels_mid_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = studio(config(engine(dir.path())));
    {
        let app = h.state_mut();
        app.pages = vec![PageView::new("a red circle on a blue sea")];
        let o = &mut app.state.illustration;
        (o.width, o.height, o.cutn, o.iterations, o.preview_every) = (64, 48, 2, 5000, 1);
    }
    h.step();
    click(&mut h, "Illustrate");
    click(&mut h, "Illustrate page 1");
    wait_for(&mut h, "a first preview", LIMIT, |a| {
        a.illustrate.preview_count >= 1
    });
    let first = h.state().illustrate.preview_hash;
    wait_for(&mut h, "a different preview", LIMIT, |a| {
        a.illustrate.preview_count >= 5 && a.illustrate.preview_hash != first
    });
    assert!(
        h.query_by_label_contains("step").is_some(),
        "the progress bar shows the step"
    );
    click(&mut h, "Cancel");
    wait_for(&mut h, "the cancel", LIMIT, |a| {
        a.pages[0].status == PageStatus::Cancelled
    });
    let app = h.state();
    assert!(
        app.illustrate.step < 5000,
        "stopped at step {}",
        app.illustrate.step
    );
    assert!(app.pages[0].png.is_none());
    assert!(
        app.notices.items.iter().all(|n| !n.is_error),
        "a cancel is not an error: {:?}",
        app.notices.items
    );
}

/// bf16, then f32, on the models the engine keeps: a model switched to bf16 (CLIP's image tower
/// and the decoder free their f32 weights) is loaded again for f32, and each page records the
/// precision that ran: bf16 where a bf16 kernel runs, else f32.
#[test]
fn a_bf16_drawing_then_an_f32_one_both_finish() {
    use storybook_studio::worker::Precision;
    let dir = tempfile::tempdir().unwrap();
    let mut h = studio(config(engine(dir.path())));
    {
        let app = h.state_mut();
        app.pages = vec![PageView::new("a red circle on a blue sea")];
        let o = &mut app.state.illustration;
        (o.width, o.height, o.cutn, o.iterations) = (64, 48, 2, 3);
        o.precision = Precision::Bf16;
    }
    h.step();
    click(&mut h, "Illustrate");
    click(&mut h, "Illustrate page 1");
    let ran = |a: &storybook_studio::app::StudioApp| {
        (a.pages[0].status == PageStatus::Done)
            .then(|| a.pages[0].options.as_ref().map(|o| o.precision))
            .flatten()
    };
    wait_for(&mut h, "the bf16 picture", LIMIT, |a| ran(a).is_some());
    let bf16 = storybook_studio::ml::kernels::bf16_gemm::available();
    let first = h.state().pages[0].picture_id;
    assert_eq!(
        ran(h.state()),
        Some(if bf16 {
            Precision::Bf16
        } else {
            Precision::F32
        })
    );
    h.state_mut().state.illustration.precision = Precision::F32;
    h.step();
    click(&mut h, "Illustrate page 1");
    wait_for(&mut h, "the f32 picture", LIMIT, |a| {
        a.pages[0].picture_id != first && ran(a).is_some()
    });
    assert_eq!(ran(h.state()), Some(Precision::F32));
    let app = h.state();
    assert!(
        app.notices.items.iter().all(|n| !n.is_error),
        "{:?}",
        app.notices.items
    );
}

#[test]
fn a_dropped_png_gives_ranked_terms_and_becomes_a_story_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = studio(config(engine(dir.path())));
    h.step();
    let png = fixture("clip-tiny/images/circle_256x256.png");
    h.input_mut().dropped_files.push(Arc::new(DroppedPath(png)));
    h.step();
    assert_eq!(h.state().state.tab, Tab::Words);
    wait_for(&mut h, "the dropped image", LIMIT, |a| {
        a.words.texture.is_some()
    });
    assert!(h.query_by_label("Image: circle_256x256.png").is_some());
    click(&mut h, "Prompt");
    wait_for(&mut h, "the prompt", LIMIT, |a| a.words.prompt.is_some());
    let result = h.state().words.prompt.clone().unwrap();
    assert!(!result.prompt.is_empty());
    let subjects = &result.terms["subjects"];
    assert!(subjects.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(h.query_by_label_contains("subjects: ").is_some());
    click(&mut h, "Use as story prompt");
    assert_eq!(h.state().state.tab, Tab::Write);
    assert_eq!(h.state().state.prompt, result.prompt);
    assert!(h.query_by_label("Story prompt").is_some());
}

#[test]
fn with_blip_the_caption_leads_the_prompt_and_can_become_the_story_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = engine(dir.path());
    settings.blip = Some(fixture("blip-tiny"));
    let mut h = studio(config(settings));
    h.step();
    let png = fixture("blip-tiny/images/gradient_300x200.png");
    h.input_mut().dropped_files.push(Arc::new(DroppedPath(png)));
    h.step();
    wait_for(&mut h, "the dropped image", LIMIT, |a| {
        a.words.texture.is_some()
    });
    click(&mut h, "Prompt");
    wait_for(&mut h, "the prompt", LIMIT, |a| a.words.prompt.is_some());
    let result = h.state().words.prompt.clone().unwrap();
    let caption = result.caption.clone().expect("BLIP captioned the picture");
    assert!(result.prompt.starts_with(&caption), "{}", result.prompt);
    assert!(h.query_by_label("Caption").is_some());
    assert!(h.query_by_label(&caption).is_some());
    click(&mut h, "Use caption as story prompt");
    assert_eq!(h.state().state.tab, Tab::Write);
    assert_eq!(h.state().state.prompt, caption);

    // Unticked, the next prompt has no caption, and the panel does not ask for BLIP.
    h.state_mut().state.tab = Tab::Words;
    h.state_mut().state.use_caption = false;
    h.step();
    // The result's heading is also "Prompt" now: click the button.
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Prompt")
        .click();
    h.step();
    wait_for(&mut h, "the second prompt", LIMIT, |a| {
        a.words.prompt.as_ref().is_some_and(|p| p.caption.is_none())
    });
    assert!(h.query_by_label_contains("No caption").is_none());
}

/// 中文: a dropped picture becomes a classical poem of four five-character lines, with Chinese
/// CLIP's keywords and ranked candidates, and can become the story prompt.
#[test]
fn chinese_switch_writes_a_classical_poem_from_a_dropped_picture() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = studio(config(engine(dir.path())));
    h.step();
    let png = fixture("chinese-clip-tiny/images/stripes_180x320.png");
    h.input_mut().dropped_files.push(Arc::new(DroppedPath(png)));
    h.step();
    wait_for(&mut h, "the dropped image", LIMIT, |a| {
        a.words.texture.is_some()
    });
    click(&mut h, "中文");
    assert!(h.state().state.words_chinese);
    assert!(
        h.query_by_label("Prompt").is_none(),
        "English prompts are hidden"
    );
    click(&mut h, "七言 (7)");
    click(&mut h, "写诗 Poem");
    wait_for(&mut h, "the poem", LIMIT, |a| a.words.zh_poem.is_some());
    let result = h.state().words.zh_poem.clone().unwrap();
    let lines: Vec<&str> = result.poem.lines().collect();
    assert_eq!(lines.len(), 4, "{}", result.poem);
    assert!(
        lines.iter().all(|l| l.chars().count() == 8),
        "{}",
        result.poem
    );
    assert!(h.query_by_label(&result.poem).is_some());
    assert!(h.query_by_label_contains("意象 keywords: ").is_some());
    click(&mut h, "Use as story prompt");
    assert_eq!(h.state().state.tab, Tab::Write);
    assert_eq!(h.state().state.prompt, result.poem);
}

#[test]
fn without_blip_the_prompt_says_captions_are_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = studio(config(engine(dir.path())));
    h.step();
    let png = fixture("clip-tiny/images/circle_256x256.png");
    h.input_mut().dropped_files.push(Arc::new(DroppedPath(png)));
    h.step();
    wait_for(&mut h, "the dropped image", LIMIT, |a| {
        a.words.texture.is_some()
    });
    click(&mut h, "Prompt");
    wait_for(&mut h, "the prompt", LIMIT, |a| a.words.prompt.is_some());
    assert!(h.state().words.prompt.as_ref().unwrap().caption.is_none());
    assert!(h
        .query_by_label_contains("No caption: no usable BLIP")
        .is_some());
    assert!(
        h.state().state.tab == Tab::Words,
        "no trip to the Models panel"
    );
}

#[test]
fn a_missing_model_opens_the_models_panel_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = engine(dir.path());
    settings.gpt2 = Some(dir.path().join("gpt2-that-is-not-there"));
    let mut h = studio(config(settings));
    h.state_mut().state.prompt = "A dragon".into();
    h.step();
    click(&mut h, "Generate");
    wait_for(&mut h, "the Models panel", LIMIT, |a| {
        a.state.tab == Tab::Models
    });
    let message = h.state().models.message.clone().unwrap();
    assert!(
        message.contains("GPT-2") && message.contains("not found"),
        "{message}"
    );
    let shown = h
        .query_all_by_label_contains("gpt2-that-is-not-there")
        .count();
    assert!(
        shown >= 1,
        "the panel and the notice name the missing folder"
    );
    assert!(
        !h.state().story.generating,
        "the Generate button is usable again"
    );
}
