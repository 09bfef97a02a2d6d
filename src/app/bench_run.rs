//! `gui --bench-draft TEXT`: illustrates one page with the Draft preset in the real window, as
//! the Illustrate button would, prints the engine's seconds per step as JSON and closes. With
//! the same page from `illustrate --draft --json` it measures what the window costs the engine
//! (bench/studio_vs_cli.sh runs both).

use std::time::Instant;

use super::actions::Action;
use super::draft::{PageStatus, PageView};
use super::state::Tab;
use super::StudioApp;

pub struct Plan {
    pub text: String,
    started: Option<(Instant, usize)>,
    reported: bool,
}

impl Plan {
    pub fn new(text: String) -> Self {
        Self {
            text,
            started: None,
            reported: false,
        }
    }
}

pub fn logic(app: &mut StudioApp, ctx: &egui::Context) {
    let Some(plan) = &mut app.bench else { return };
    if plan.reported {
        return;
    }
    let Some((started, frames_before)) = plan.started else {
        // Once the kept draft is read, so it cannot replace the page afterwards.
        if app.keeping.draft_read {
            plan.started = Some((Instant::now(), app.frame_times.len()));
            let seed = app.state.illustration.seed;
            app.state.illustration = super::presets::draft();
            app.state.illustration.seed = seed;
            app.pages = vec![PageView::new(plan.text.clone())];
            app.state.tab = Tab::Illustrate;
            app.pending.push(Action::IllustratePage(0));
        }
        return;
    };
    let report = match &app.pages.first().map(|p| p.status.clone()) {
        Some(PageStatus::Done) => serde_json::json!({
            "seconds_per_step": app.illustrate.seconds_per_step,
            "iterations": app.illustrate.iterations,
            "frames": app.frame_times.len() - frames_before,
            "wall_seconds": started.elapsed().as_secs_f64(),
        }),
        Some(PageStatus::Failed(why)) => serde_json::json!({ "error": why }),
        Some(PageStatus::Cancelled) => serde_json::json!({ "error": "the page was cancelled" }),
        _ => return,
    };
    plan.reported = true;
    println!("{report}");
    app.keeping.quitting = true;
    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
}
