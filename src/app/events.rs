//! Applying what the worker reports to the studio's state, once per frame.

use super::draft::PageStatus;
use super::state::Tab;
use super::{textures, StudioApp};
use crate::worker::{Event, Job};

pub fn apply(app: &mut StudioApp, ctx: &egui::Context, event: Event) {
    match event {
        Event::Status { job, text } => match job {
            Job::Story => app.story.status = Some(text),
            Job::Illustrate { .. } => app.illustrate.status = Some(text),
            Job::Words => app.words.status = Some(text),
            Job::Models | Job::Library => {}
        },
        Event::StoryToken { sequence, text } => {
            if let Some(c) = app.story.candidates.get_mut(sequence) {
                c.push_str(&text);
            }
        }
        Event::StoryDone {
            candidates,
            tokens_per_second,
            warnings,
        } => {
            app.story.candidates = candidates;
            app.story.tokens_per_second = Some(tokens_per_second);
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
            preview,
            ..
        } => {
            if app.illustrate.running != Some(page) {
                app.illustrate.running = Some(page);
                app.illustrate.curve.clear();
            }
            if let Some(p) = app.pages.get_mut(page) {
                p.status = PageStatus::Running;
            }
            app.illustrate.step = step;
            app.illustrate.iterations = iterations;
            app.illustrate.eta_seconds =
                Some(seconds_per_step * (iterations - step.min(iterations)) as f64);
            app.illustrate.curve.push([step as f64, similarity as f64]);
            if let Some(picture) = preview {
                app.illustrate.preview_hash = textures::hash(&picture);
                app.illustrate.preview_count += 1;
                app.illustrate.preview = Some(textures::load(ctx, "preview", &picture));
            }
        }
        Event::PageDone {
            page,
            png,
            picture,
            options,
            similarity,
            iterations,
        } => {
            if let Some(p) = app.pages.get_mut(page) {
                p.texture = Some(textures::load(ctx, &format!("page-{page}"), &picture));
                p.png = Some(png);
                p.seed = options.seed;
                p.options = Some(options);
                p.similarity = Some(similarity);
                p.iterations = iterations;
                p.status = PageStatus::Done;
            }
            app.illustrate.preview = Some(textures::load(ctx, "preview", &picture));
        }
        Event::ImageLoaded { name, picture } => {
            app.words.image_name = Some(name);
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
        Event::Models(rows) => app.models.rows = rows,
        Event::DownloadProgress {
            kind,
            file,
            done,
            total,
        } => app.models.downloading = Some((kind, file, done, total)),
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
            let (draft, pictures) = *book;
            app.state.book_id = draft.book_id;
            app.state.prompt = draft.prompt;
            app.state.story = draft.story;
            app.pages = draft
                .pages
                .into_iter()
                .zip(pictures.into_iter().chain(std::iter::repeat(None)))
                .enumerate()
                .map(|(i, (p, picture))| super::draft::PageView {
                    status: if p.png.is_some() {
                        PageStatus::Done
                    } else {
                        PageStatus::NotStarted
                    },
                    texture: picture.map(|pic| textures::load(ctx, &format!("page-{i}"), &pic)),
                    sentence: p.sentence,
                    png: p.png,
                    options: p.settings,
                    seed: p.seed,
                    iterations: p.iterations,
                    similarity: p.similarity,
                })
                .collect();
            app.story.read_page = 0;
            app.state.tab = Tab::Read;
        }
        Event::BookSaved { id } => {
            app.state.book_id = Some(id);
            app.notices
                .info(format!("Saved to the library as book {id}."));
        }
        Event::BookDeleted { id } => {
            if app.state.book_id == Some(id) {
                app.state.book_id = None;
            }
        }
        Event::Exported { path } => app.notices.info(format!("Exported to {}.", path.display())),
        Event::Cancelled { job } => {
            if let Job::Illustrate { page } = job {
                if let Some(p) = app.pages.get_mut(page) {
                    p.status = PageStatus::Cancelled;
                }
                app.illustrate.running = None;
            }
            if job == Job::Story {
                app.story.generating = false;
            }
            clear_status(app, job);
        }
        Event::Finished { job } => {
            if let Job::Illustrate { page } = job {
                if app.illustrate.running == Some(page) {
                    app.illustrate.running = None;
                }
            }
            if job == Job::Story {
                app.story.generating = false;
            }
            clear_status(app, job);
        }
        Event::ModelMissing { message, .. } => {
            app.models.message = Some(message.clone());
            app.state.tab = Tab::Models;
            app.notices.error(message);
        }
        Event::Error { job, message } => {
            if let Job::Illustrate { page } = job {
                if let Some(p) = app.pages.get_mut(page) {
                    p.status = PageStatus::Failed(message.clone());
                }
            }
            app.notices.error(message);
        }
    }
}

fn clear_status(app: &mut StudioApp, job: Job) {
    match job {
        Job::Story => app.story.status = None,
        Job::Illustrate { .. } => app.illustrate.status = None,
        Job::Words => app.words.status = None,
        Job::Models | Job::Library => {}
    }
}
