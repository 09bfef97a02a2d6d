//! Applying what the worker reports to the studio's state, once per frame.

use super::draft::{next_picture_id, PageStatus};
use super::notices::NoticeKey;
use super::state::Tab;
use super::views::RunOutcome;
use super::{book_actions, textures, StudioApp};
use crate::worker::{Event, Job, OpenedBook};

pub fn apply(app: &mut StudioApp, ctx: &egui::Context, event: Event) {
    match event {
        Event::Status { job, text } => match job {
            Job::Story => app.story.status = Some(text),
            Job::Illustrate { .. } => app.illustrate.status = Some(text),
            Job::Words => app.words.status = Some(text),
            Job::Models | Job::Library | Job::Draft => {}
        },
        Event::StoryToken { sequence, text } => {
            if let Some(c) = app.story.candidates.get_mut(sequence) {
                c.push_str(&text);
            }
        }
        Event::StoryDone {
            candidates,
            tokens_per_second,
            weights,
            warnings,
        } => {
            app.story.candidates = candidates;
            app.story.tokens_per_second = Some(tokens_per_second);
            app.story.weights = Some(weights);
            app.story.generating = false;
            for w in warnings {
                app.notices.info(w);
            }
        }
        Event::IllustrateStep {
            page,
            step,
            iterations,
            similarity,
            seconds_per_step,
            seconds_left,
            preview,
            ..
        } => {
            let v = &mut app.illustrate;
            if v.running != Some(page) || v.outcome != Some(RunOutcome::Running) {
                v.running = Some(page);
                v.shown = Some(page);
                v.outcome = Some(RunOutcome::Running);
                v.curve.clear();
                // The last preview belongs to the page before; none beats a wrong caption.
                v.preview = None;
            }
            if let Some(p) = app.pages.get_mut(page) {
                p.status = PageStatus::Running;
            }
            v.step = step;
            v.iterations = iterations;
            v.eta_seconds = seconds_left.or(Some(
                seconds_per_step * (iterations - step.min(iterations)) as f64,
            ));
            v.curve.push([step as f64, similarity as f64]);
            if let Some(picture) = preview {
                v.preview_hash = textures::hash(&picture);
                v.preview_count += 1;
                v.preview_step = step;
                v.preview = Some(textures::load(ctx, "preview", &picture));
            }
        }
        Event::IllustrateCheckpoint { page, checkpoint } => {
            // The page may have moved meanwhile; its text finds it.
            let target = match app.pages.get(page) {
                Some(p) if p.sentence == checkpoint.sentence => Some(page),
                _ => app
                    .pages
                    .iter()
                    .position(|p| p.sentence == checkpoint.sentence),
            };
            if let Some(p) = target.and_then(|i| app.pages.get_mut(i)) {
                p.checkpoint = Some(checkpoint);
            }
        }
        Event::PageDone {
            page,
            sentence,
            png,
            picture,
            options,
            similarity,
            iterations,
            seconds_per_step,
        } => {
            app.illustrate.seconds_per_step = Some(seconds_per_step);
            // The page may have moved while it was drawn; find it by its text.
            let target = match app.pages.get(page) {
                Some(p) if p.sentence == sentence => Some(page),
                _ => app
                    .pages
                    .iter()
                    .position(|p| {
                        p.sentence == sentence
                            && matches!(p.status, PageStatus::Queued | PageStatus::Running)
                    })
                    .or((page < app.pages.len()).then_some(page)),
            };
            if let Some(p) = target.and_then(|i| app.pages.get_mut(i)) {
                p.picture_id = next_picture_id();
                p.texture = Some(textures::load(
                    ctx,
                    &format!("picture-{}", p.picture_id),
                    &picture,
                ));
                p.png = Some(png);
                p.seed = options.seed;
                p.options = Some(options);
                p.similarity = Some(similarity);
                p.iterations = iterations;
                p.drawn_for = Some(sentence);
                p.status = PageStatus::Done;
                p.checkpoint = None;
                // A Pause that came too late to stop this page applies to no other.
                app.illustrate.pausing = false;
            }
            let v = &mut app.illustrate;
            v.preview = Some(textures::load(ctx, "preview", &picture));
            v.preview_step = iterations;
            v.step = iterations;
            v.eta_seconds = None;
            if v.shown == Some(page) {
                v.outcome = Some(RunOutcome::Done);
            }
        }
        Event::ImageLoaded { name, picture } => {
            app.words.image_name = Some(name);
            app.words.loading = false;
            app.words.texture = Some(textures::load(ctx, "dropped", &picture));
        }
        Event::PromptDone(r) => {
            app.words.prompt = Some(*r);
            app.words.status = None;
        }
        Event::PoemDone(r) => {
            app.words.poem = Some(*r);
            app.words.status = None;
        }
        Event::ZhPoemDone(r) => {
            app.words.zh_poem = Some(*r);
            app.words.status = None;
        }
        Event::Models(rows) => {
            for row in rows.iter().filter(|r| r.found.is_some()) {
                app.notices.clear_key(NoticeKey::Model(row.kind));
                if app.models.message_kind == Some(row.kind) {
                    app.models.message = None;
                    app.models.message_kind = None;
                }
            }
            app.models.rows = rows;
            app.models.downloading = None;
        }
        Event::DownloadProgress {
            kind,
            file,
            done,
            total,
        } => app.models.downloading = Some((kind, file, done, total)),
        Event::SearchNote(note) => app.library.note = note,
        Event::Books(cards) => {
            app.library.loaded = true;
            app.library.books = cards
                .into_iter()
                .map(|c| {
                    let tex = c
                        .cover
                        .as_ref()
                        .map(|p| textures::load(ctx, &format!("cover-{}", c.id), p));
                    (c, tex)
                })
                .collect();
        }
        Event::BookOpened(book) => {
            app.load_book(ctx, *book);
            app.state.tab = app.open_tab.take().unwrap_or(Tab::Read);
        }
        Event::DraftLoaded(result) => draft_loaded(app, ctx, result),
        Event::BookSaved { id, stamp, note } => {
            app.state.book_id = Some(id);
            app.state.book_stamp = stamp;
            if let Some(fp) = app.keeping.saving.take() {
                // What was sent is saved; edits made while it was saving are not.
                app.keeping.saved = fp;
            }
            match note {
                Some(note) => app.notices.info(note),
                None => app
                    .notices
                    .info(format!("Saved to the library as book {id}.")),
            }
            if let Some(next) = app.keeping.after_save.take() {
                book_actions::perform(app, ctx, next, false);
            }
        }
        Event::BookDeleted { id } => {
            if app.state.book_id == Some(id) {
                app.state.book_id = None;
                app.state.book_stamp = None;
            }
        }
        Event::Exported { path, warning } => match warning {
            Some(w) => app
                .notices
                .error(format!("Exported to {}, but {w}.", path.display())),
            None => app.notices.info(format!("Exported to {}.", path.display())),
        },
        Event::Cancelled { job } => {
            if let Job::Illustrate { page } = job {
                let pausing = std::mem::take(&mut app.illustrate.pausing);
                if let Some(p) = app.pages.get_mut(page) {
                    if matches!(p.status, PageStatus::Queued | PageStatus::Running) {
                        // Pause keeps the state for Resume; Cancel forgets it.
                        p.status = match p.resumable() {
                            Some(c) if pausing => PageStatus::Paused(c.step),
                            _ => PageStatus::Cancelled,
                        };
                        if !pausing {
                            p.checkpoint = None;
                        }
                    }
                }
                if app.illustrate.running == Some(page) {
                    app.illustrate.running = None;
                    app.illustrate.outcome = Some(RunOutcome::Cancelled);
                }
                app.illustrate.page_ended();
            }
            if job == Job::Story {
                app.story.generating = false;
                app.story.drop_empty_candidates();
            }
            if job == Job::Models && app.models.downloading.take().is_some() {
                app.notices.info(
                    "Download cancelled; what arrived is kept, and Download continues from there."
                        .to_string(),
                );
            }
            clear_status(app, job);
        }
        Event::Finished { job } => {
            if let Job::Illustrate { page } = job {
                if app.illustrate.running == Some(page) {
                    app.illustrate.running = None;
                }
                app.illustrate.page_ended();
            }
            if job == Job::Story && app.story.generating {
                // It ended without candidates (a missing model, an error): no empty cards.
                app.story.generating = false;
                app.story.drop_empty_candidates();
            }
            clear_status(app, job);
        }
        Event::ModelMissing { kind, message } => {
            app.models.message = Some(message.clone());
            app.models.message_kind = Some(kind);
            app.state.tab = Tab::Models;
            app.notices.keyed_error(NoticeKey::Model(kind), message);
        }
        Event::Error { job, message } => {
            if let Job::Illustrate { page } = job {
                if let Some(p) = app.pages.get_mut(page) {
                    p.status = PageStatus::Failed(message.clone());
                }
                if app.illustrate.shown == Some(page) {
                    app.illustrate.outcome = Some(RunOutcome::Failed);
                }
            }
            if job == Job::Models {
                app.models.downloading = None;
            }
            if job == Job::Words && app.words.loading {
                // The file was refused: Prompt and Poem have nothing to work on.
                app.words.loading = false;
                app.words.image = None;
                app.words.image_name = None;
            }
            if job == Job::Library && app.keeping.saving.take().is_some() {
                // The save failed: whatever was to follow it waits for the user.
                app.keeping.after_save = None;
            }
            app.notices.error(message);
        }
    }
}

/// The book in progress from the last run: shown unless the user already changed the book,
/// and from now on kept as it changes.
fn draft_loaded(
    app: &mut StudioApp,
    ctx: &egui::Context,
    result: Result<Option<Box<OpenedBook>>, String>,
) {
    app.keeping.draft_read = true;
    match result {
        Ok(kept) => {
            if let Some(book) = kept {
                if app.book_fingerprint() == app.keeping.started_with {
                    app.load_book(ctx, *book);
                }
            }
            app.keeping.draft_ready = true;
            app.keeping.kept = app.draft_fingerprint();
        }
        Err(message) => app.notices.error(message),
    }
    if let Some(id) = app.keeping.open_on_start.take() {
        book_actions::replace_book(app, ctx, super::keeping::Replace::OpenBook(id));
    }
}

fn clear_status(app: &mut StudioApp, job: Job) {
    match job {
        Job::Story => app.story.status = None,
        Job::Illustrate { .. } => app.illustrate.status = None,
        Job::Words => app.words.status = None,
        Job::Models | Job::Library | Job::Draft => {}
    }
}
