//! The UI never waits for the engine: with a slow fake job running, frames keep coming, each
//! well within a timeout on frame production (not on the job). A panicking job becomes a notice
//! and the engine comes back for the next command.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::kittest::Queryable;
use storybook_studio::app::draft::PageView;
use storybook_studio::worker::{Command, Event, Jobs, JobsFactory, Outbox};

use super::harness::{click, config, engine, studio, wait_for};

/// Each illustration step takes 400 ms; a story request panics the first time.
struct SlowJobs {
    panicked: Arc<AtomicBool>,
}

impl Jobs for SlowJobs {
    fn run(&mut self, command: Command, out: &Outbox) -> anyhow::Result<()> {
        match command {
            Command::Illustrate { page, options, .. } => {
                for step in 1..=options.iterations {
                    if out.cancelled() {
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(400));
                    out.send(Event::IllustrateStep {
                        page,
                        step,
                        iterations: options.iterations,
                        similarity: step as f32 / 100.0,
                        loss: 1.0,
                        seconds_per_step: 0.4,
                        seconds_left: None,
                        preview: None,
                    });
                }
                Ok(())
            }
            Command::Generate { .. } => {
                if !self.panicked.swap(true, Ordering::SeqCst) {
                    panic!("a deliberate test fault");
                }
                out.send(Event::StoryDone {
                    candidates: vec!["It worked the second time.".into()],
                    tokens_per_second: 1.0,
                    weights: "f32".into(),
                    warnings: vec![],
                });
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

struct Idle;

impl Jobs for Idle {
    fn run(&mut self, _: Command, _: &Outbox) -> anyhow::Result<()> {
        Ok(())
    }
}

fn slow_studio(
    dir: &std::path::Path,
) -> egui_kittest::Harness<'static, storybook_studio::app::StudioApp> {
    let panicked = Arc::new(AtomicBool::new(false));
    let ml: JobsFactory = Arc::new(move || {
        Box::new(SlowJobs {
            panicked: panicked.clone(),
        })
    });
    let lib: JobsFactory = Arc::new(|| Box::new(Idle));
    let mut cfg = config(engine(dir));
    cfg.jobs = Some((ml, lib));
    studio(cfg)
}

#[test]
fn frames_keep_coming_while_a_slow_step_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = slow_studio(dir.path());
    {
        let app = h.state_mut();
        app.pages = vec![PageView::new("a slow picture")];
        app.state.illustration.iterations = 50;
    }
    h.step();
    click(&mut h, "Illustrate");
    h.get_by_label("Illustrate page 1").click();
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    for _ in 0..100 {
        let t = Instant::now();
        h.step();
        slowest = slowest.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = start.elapsed();
    assert!(
        slowest < Duration::from_millis(200),
        "a frame took {slowest:?} while the job ran"
    );
    let app = h.state();
    assert!(
        app.illustrate.step < 50,
        "the job is still running, at step {}",
        app.illustrate.step
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "60 frames took {elapsed:?}"
    );
    click(&mut h, "Cancel");
    wait_for(&mut h, "the cancel", Duration::from_secs(10), |a| {
        a.illustrate.running.is_none()
    });
}

#[test]
fn a_panicking_job_becomes_a_notice_and_the_engine_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = slow_studio(dir.path());
    h.state_mut().state.prompt = "anything".into();
    h.step();
    click(&mut h, "Generate");
    wait_for(&mut h, "the fault notice", Duration::from_secs(10), |a| {
        a.notices.items.iter().any(|n| n.text.contains("restarted"))
    });
    assert!(h.query_by_label_contains("deliberate test fault").is_some());
    click(&mut h, "Generate");
    wait_for(&mut h, "the second try", Duration::from_secs(10), |a| {
        a.story.candidates == ["It worked the second time."]
    });
}
