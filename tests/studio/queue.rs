//! Illustrate all with a queue: Cancel page stops one page and the queue goes on; Cancel all
//! stops the rest and says which pages were not drawn; the progress stays with its outcome.

use std::time::Duration;

use egui_kittest::kittest::Queryable;
use storybook_studio::app::draft::{PageStatus, PageView};
use storybook_studio::app::views::RunOutcome;
use storybook_studio::worker::{Command, Event, Jobs, Outbox};

use super::harness::{click, config, engine, studio, wait_for};

const LIMIT: Duration = Duration::from_secs(30);

/// Each illustration step takes 30 ms until cancelled.
struct Steps;

impl Jobs for Steps {
    fn run(&mut self, command: Command, out: &Outbox) -> anyhow::Result<()> {
        if let Command::Illustrate { page, options, .. } = command {
            for step in 1..=options.iterations {
                if out.cancelled() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(30));
                out.send(Event::IllustrateStep {
                    page,
                    step,
                    iterations: options.iterations,
                    similarity: 0.1,
                    loss: 1.0,
                    seconds_per_step: 0.03,
                    seconds_left: None,
                    preview: None,
                });
            }
        }
        Ok(())
    }
}

#[test]
fn cancel_page_keeps_the_queue_and_cancel_all_says_what_was_left() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(engine(dir.path()));
    cfg.jobs = Some((
        std::sync::Arc::new(|| Box::new(Steps)),
        std::sync::Arc::new(|| Box::new(Steps)),
    ));
    let mut h = studio(cfg);
    {
        let app = h.state_mut();
        app.pages = ["One.", "Two.", "Three."].map(PageView::new).to_vec();
        app.state.illustration.iterations = 2000;
    }
    h.step();
    click(&mut h, "Illustrate");
    click(&mut h, "Illustrate all pages");
    wait_for(&mut h, "page 1 running", LIMIT, |a| {
        a.illustrate.running == Some(0)
    });
    assert!(h.query_by_label("queue: 0 of 3 pages finished").is_some());
    click(&mut h, "Cancel page 1");
    wait_for(&mut h, "page 2 running", LIMIT, |a| {
        a.illustrate.running == Some(1)
    });
    assert_eq!(h.state().pages[0].status, PageStatus::Cancelled);
    assert_eq!(h.state().pages[2].status, PageStatus::Queued);
    assert!(h.query_by_label("queue: 1 of 3 pages finished").is_some());

    click(&mut h, "Cancel all");
    wait_for(&mut h, "the queue to end", LIMIT, |a| {
        a.pages.iter().all(|p| p.status == PageStatus::Cancelled)
    });
    let app = h.state();
    assert!(
        app.notices
            .items
            .iter()
            .any(|n| n.text.contains("Page 3 was not drawn")),
        "{:?}",
        app.notices.items
    );
    assert_eq!(app.illustrate.outcome, Some(RunOutcome::Cancelled));
    assert!(
        h.query_by_label_contains("page 2: cancelled at step")
            .is_some(),
        "the progress stays, saying how the page ended"
    );
}
