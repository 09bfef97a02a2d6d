//! The book's actions: save to the library, replace the book in progress (New book, Open,
//! closing the window) only after asking when it has unsaved edits, and the illustration
//! queue with its cancels.

use super::draft::{to_draft, PageStatus};
use super::keeping::Replace;
use super::views::RunOutcome;
use super::StudioApp;
use crate::worker::Command;

pub fn save_book(app: &mut StudioApp) {
    let mut draft = to_draft(
        app.state.book_id,
        &app.state.prompt,
        &app.state.story,
        &app.state.sampling,
        &app.state.illustration,
        &app.pages,
    );
    draft.stamp = app.state.book_stamp;
    app.keeping.saving = Some(app.book_fingerprint());
    app.send(Command::SaveBook(Box::new(draft)));
}

/// New book, Open or close: at once when nothing would be lost, else after asking.
pub fn replace_book(app: &mut StudioApp, ctx: &egui::Context, next: Replace) {
    if app.has_unsaved_edits() {
        app.keeping.asking = Some(next);
    } else {
        perform(app, ctx, next, false);
    }
}

/// The user chose Save: save, and do `next` once the library confirms.
pub fn save_then(app: &mut StudioApp, ctx: &egui::Context, next: Replace) {
    app.keeping.asking = None;
    if app.pages.is_empty() {
        perform(app, ctx, next, false);
        return;
    }
    app.keeping.after_save = Some(next);
    save_book(app);
}

/// Does what would replace the book; `discard` says the user chose to drop its edits.
pub fn perform(app: &mut StudioApp, ctx: &egui::Context, next: Replace, discard: bool) {
    match next {
        Replace::NewBook => app.clear_book(),
        Replace::OpenBook(id) => app.send(Command::OpenBook(id)),
        Replace::Quit => {
            if discard {
                app.clear_book();
            }
            app.keeping.quitting = true;
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }
}

pub fn queue_page(app: &mut StudioApp, i: usize, new_seed: bool) {
    let Some(page) = app.pages.get_mut(i) else {
        return;
    };
    if page.sentence.trim().is_empty() {
        app.notices
            .error(format!("Page {} has no text to illustrate.", i + 1));
        return;
    }
    let base = &app.state.illustration;
    let seed = if new_seed {
        // A new seed the user can read back and reuse: the last one plus a large odd step.
        page.seed.wrapping_add(0x9E37_79B9).max(1)
    } else if page.seed != 0 {
        page.seed
    } else {
        base.seed.wrapping_add(i as u64)
    };
    // A paused page goes on with the options it was started with; a new seed starts over.
    if new_seed {
        page.checkpoint = None;
    }
    let (options, resume) = match page.resumable() {
        Some(c) => (c.options.clone(), Some(c.state.clone())),
        None => {
            page.seed = seed;
            let options = crate::worker::IllustrateOptions {
                seed,
                ..base.clone()
            };
            (options, None)
        }
    };
    page.status = PageStatus::Queued;
    let command = Command::Illustrate {
        page: i,
        sentence: page.sentence.clone(),
        options,
        resume,
    };
    match app.worker.send(command) {
        Ok(()) => app.illustrate.batch.push(i),
        Err(e) => {
            app.pages[i].status = PageStatus::NotStarted;
            app.notices.error(e);
        }
    }
}

/// Queues every page without a current picture: not drawn yet, or drawn for older text.
pub fn illustrate_all(app: &mut StudioApp) {
    for i in 0..app.pages.len() {
        let p = &app.pages[i];
        let busy = matches!(p.status, PageStatus::Queued | PageStatus::Running);
        if !busy && (p.status != PageStatus::Done || p.is_stale()) {
            queue_page(app, i, false);
        }
    }
}

/// Stops everything, and says which queued pages will not be drawn.
pub fn cancel_all(app: &mut StudioApp) {
    let left: Vec<usize> = app
        .pages
        .iter()
        .enumerate()
        .filter(|(_, p)| p.status == PageStatus::Queued)
        .map(|(i, _)| i + 1)
        .collect();
    app.worker.cancel();
    if !left.is_empty() {
        let pages: Vec<String> = left.iter().map(usize::to_string).collect();
        let (noun, verb) = if left.len() == 1 {
            ("Page", "was")
        } else {
            ("Pages", "were")
        };
        app.notices.info(format!(
            "Cancelled. {noun} {} {verb} not drawn; Illustrate all pages picks them up again.",
            pages.join(", ")
        ));
    }
    if app.illustrate.outcome == Some(RunOutcome::Running) {
        app.illustrate.outcome = Some(RunOutcome::Cancelled);
    }
}
