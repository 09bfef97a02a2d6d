//! At 800×600 every tab fits: no widget reaches past the window's right edge, the tab bar
//! keeps every tab, and the page rows keep their Delete buttons in view.

use std::time::Duration;

use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use storybook_studio::app::draft::PageView;
use storybook_studio::app::state::Tab;
use storybook_studio::app::StudioApp;

use super::harness::{config, engine, saved_book, studio_sized, wait_for};

const W: f32 = 800.0;
const H: f32 = 600.0;

/// Every node's rect, with its label, that reaches outside the window sideways or above it.
/// (Below the window is the central panel's scrolled-away part.)
fn outside(h: &Harness<'static, StudioApp>) -> Vec<String> {
    h.root()
        .children_recursive()
        .filter_map(|n| {
            // Nodes without bounds (containers) have nothing to place.
            n.accesskit_node().bounding_box()?;
            let r = n.rect();
            let bad = r.min.x < -0.5 || r.max.x > W + 0.5 || r.min.y < -0.5;
            bad.then(|| {
                format!(
                    "{:?} {:?} at {r:?}",
                    n.accesskit_node().role(),
                    n.accesskit_node().label()
                )
            })
        })
        .collect()
}

#[test]
fn no_widget_extends_past_the_window_at_800_by_600() {
    let dir = tempfile::tempdir().unwrap();
    let settings = engine(dir.path());
    saved_book(
        settings.library.as_ref().unwrap(),
        "A book whose title is rather long for a card in the library grid",
        &["The fox lit the lamp.", "Ships came home."],
    );
    let mut h = studio_sized(config(settings), [W, H]);
    wait_for(&mut h, "the library", Duration::from_secs(60), |a| {
        a.library.loaded && !a.models.rows.is_empty()
    });
    {
        let app = h.state_mut();
        app.story.candidates = vec!["Once upon a time a fox found a lantern in the snow and carried it home through the long winter night.".into(); 2];
        app.pages = vec![
            PageView::new("Once upon a time a fox found a lantern in the snow, and it was very bright indeed."),
            PageView::new(""),
        ];
        app.notices
            .error(format!("A long error: {}", "with many words ".repeat(40)));
        app.notices.info("Saved to the library as book 1.");
        app.state.engine.gpt2 = Some(
            dir.path()
                .join("a/very/long/folder/name/that/goes/on/and/on/for/a/while/gpt2"),
        );
    }
    for tab in Tab::ALL {
        h.state_mut().state.tab = tab;
        h.step();
        h.step();
        let bad = outside(&h);
        assert!(
            bad.is_empty(),
            "{tab:?} at 800×600 reaches outside: {bad:#?}"
        );
        for t in Tab::ALL {
            // The tab's button (a panel's heading may share its label).
            let rects: Vec<_> = h.query_all_by_label(t.label()).map(|n| n.rect()).collect();
            assert!(!rects.is_empty(), "tab {t:?} is there");
            assert!(
                rects.iter().all(|r| r.max.y < H && r.max.x <= W),
                "tab {t:?} is visible: {rects:?}"
            );
        }
    }
    // The empty new page's Delete button is in view too.
    h.state_mut().state.tab = Tab::Write;
    h.step();
    let deletes: Vec<_> = h.query_all_by_label("Delete").map(|n| n.rect()).collect();
    assert_eq!(deletes.len(), 2);
    assert!(deletes.iter().all(|r| r.max.x <= W), "{deletes:?}");
}

#[test]
fn a_narrow_window_wraps_the_tab_bar_instead_of_dropping_tabs() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = studio_sized(config(engine(dir.path())), [420.0, 600.0]);
    h.step();
    h.step();
    for t in Tab::ALL {
        for r in h.query_all_by_label(t.label()).map(|n| n.rect()) {
            assert!(r.max.x <= 420.0 && r.min.x >= 0.0, "tab {t:?} at {r:?}");
        }
        assert!(
            h.query_all_by_label(t.label()).count() >= 1,
            "tab {t:?} is there"
        );
    }
}
