//! What panels ask for, applied after layout so no panel changes state mid-frame. The book's
//! own actions (save, open, new, the unsaved-edits question, the illustration queue) are in
//! `book_actions`; choosing files (system dialog or the in-app browser) in `file_actions`.

pub use super::action::Action;
use super::book_actions;
use super::draft::{apply_edit, pages_of};
use super::file_actions;
use super::keeping::Replace;
use super::state::Tab;
use super::StudioApp;
use crate::worker::{Command, ModelKind, PoemOptions, SamplingOptions, ZhPoemOptions};

pub fn apply(app: &mut StudioApp, ctx: &egui::Context, action: Action) {
    match action {
        Action::SwitchTab(tab) => {
            app.state.tab = tab;
            if tab == Tab::Library && !app.library.loaded {
                send(
                    app,
                    Command::ListBooks {
                        query: app.library.query.clone(),
                        mode: app.library.mode,
                    },
                );
            }
        }
        Action::Dismiss(id) => app.notices.dismiss(id),
        Action::Send(command) => send(app, command),
        Action::Cancel => book_actions::cancel_all(app),
        Action::CancelPage | Action::CancelDownload => app.worker.cancel_current(),
        Action::PausePage => {
            app.illustrate.pausing = true;
            app.worker.cancel_current();
        }
        Action::StartOver(i) => {
            if let Some(p) = app.pages.get_mut(i) {
                p.checkpoint = None;
            }
            book_actions::queue_page(app, i, false);
        }
        Action::Generate => generate(app),
        Action::PickCandidate(i) => {
            if let Some(text) = app.story.candidates.get(i).cloned() {
                app.state.story = text.clone();
                app.pages = pages_of(&text);
                app.state.book_id = None;
                app.illustrate.forget_run();
                app.story.picked = Some(i);
                app.story.scroll_to_pages = true;
            }
        }
        Action::EditPages(edit) => apply_edit(&mut app.pages, edit),
        Action::IllustratePage(i) => book_actions::queue_page(app, i, false),
        Action::RedoPage(i) => book_actions::queue_page(app, i, true),
        Action::IllustrateAll => book_actions::illustrate_all(app),
        Action::SaveBook => book_actions::save_book(app),
        // Export writes the library's copy, so what is on screen must be saved first.
        Action::ExportCurrent => match app.state.book_id {
            Some(_) if app.has_unsaved_edits() => app.notices.error(
                "This book has edits not yet saved, and Export writes the library's copy: \
                 Save to library first, then export it.",
            ),
            Some(id) => apply(app, ctx, Action::ExportBook(id)),
            None => app
                .notices
                .error("Save the book to the library first, then export it."),
        },
        Action::NewBook => book_actions::replace_book(app, ctx, Replace::NewBook),
        Action::OpenBook(id) => book_actions::replace_book(app, ctx, Replace::OpenBook(id)),
        Action::UnsavedSave(next) => book_actions::save_then(app, ctx, next),
        Action::UnsavedDiscard(next) => {
            app.keeping.asking = None;
            book_actions::perform(app, ctx, next, true);
        }
        Action::UnsavedCancel => app.keeping.asking = None,
        Action::OpenImage => {
            let next = file_actions::open_image(app);
            then(app, ctx, next)
        }
        Action::ExportBook(id) => {
            let next = file_actions::export_book(app, id);
            then(app, ctx, next)
        }
        Action::ChooseModelsFolder => {
            let next = file_actions::choose_models_folder(app);
            then(app, ctx, next)
        }
        Action::BrowserAccept => {
            let next = file_actions::browser_accept(app);
            then(app, ctx, next)
        }
        Action::BrowserCancel => app.browser = None,
        Action::UseImage(image) => {
            app.state.tab = Tab::Words;
            app.words.image = Some(image.clone());
            app.words.image_name = Some(image.name());
            app.words.loading = true;
            app.words.texture = None;
            app.words.prompt = None;
            app.words.poem = None;
            app.words.zh_poem = None;
            send(app, Command::LoadImage(image));
        }
        Action::RunPrompt | Action::RunPoem => words(app, matches!(action, Action::RunPrompt)),
        Action::UseAsStoryPrompt(text) => {
            app.state.prompt = text;
            app.state.tab = Tab::Write;
        }
        Action::Copy(text) => ctx.copy_text(text),
        Action::SearchLibrary => send(
            app,
            Command::ListBooks {
                query: app.library.query.clone(),
                mode: app.library.mode,
            },
        ),
        Action::FindSimilar(image) => {
            app.library.note = Some(format!("Looking for pictures like {}…", image.name()));
            send(app, Command::FindSimilar(image))
        }
        Action::DuplicateBook(id) => send(app, Command::DuplicateBook(id)),
        Action::AskDelete(id) => app.library.confirm_delete = Some(id),
        Action::CancelDelete => app.library.confirm_delete = None,
        Action::ConfirmDelete(id) => {
            app.library.confirm_delete = None;
            send(app, Command::DeleteBook(id));
        }
        Action::Download(kind) => send(app, Command::Download(kind)),
        Action::ApplyEngineSettings => apply_engine_settings(app),
        Action::ClearModelPath(kind) => {
            let e = &mut app.state.engine;
            match kind {
                ModelKind::Gpt2 => e.gpt2 = None,
                ModelKind::Clip => e.clip = None,
                ModelKind::Vqgan => e.vqgan = None,
                ModelKind::Minilm => e.minilm = None,
                ModelKind::Blip => e.blip = None,
                ModelKind::ChineseClip => e.cn_clip = None,
                ModelKind::Gpt2Chinese => e.gpt2_zh = None,
            }
            apply_engine_settings(app);
        }
    }
}

/// Applies what a chosen file leads to (an image to use, settings to apply).
fn then(app: &mut StudioApp, ctx: &egui::Context, next: Option<Action>) {
    if let Some(next) = next {
        apply(app, ctx, next);
    }
}

fn send(app: &mut StudioApp, command: Command) {
    app.send(command);
}

fn generate(app: &mut StudioApp) {
    let prompt = app.state.prompt.trim().to_string();
    if prompt.is_empty() {
        app.notices.keyed_error(
            super::notices::NoticeKey::EmptyPrompt,
            "The prompt is empty; type a few words to start the story.",
        );
        return;
    }
    let options = SamplingOptions {
        banned_words: app
            .state
            .banned
            .split(',')
            .map(|w| w.trim().to_string())
            .filter(|w| !w.is_empty())
            .collect(),
        ..app.state.sampling.clone()
    };
    if let Err(e) = options.validate() {
        app.notices.error(e);
        return;
    }
    app.story.candidates = vec![prompt.clone(); options.num_sequences];
    app.story.prompt_used = prompt.clone();
    app.story.picked = None;
    app.story.generating = true;
    send(app, Command::Generate { prompt, options });
}

fn words(app: &mut StudioApp, prompt: bool) {
    let Some(image) = app.words.image.clone() else {
        app.notices
            .error("Drop an image on the window, or choose one with Open…, first.");
        return;
    };
    let command = if app.state.words_chinese {
        Command::ZhPoem {
            image,
            options: ZhPoemOptions {
                form: if app.state.poem_form == 7 { 7 } else { 5 },
                lines: app.state.poem_lines.clamp(1, 16),
                candidates: app.state.poem_candidates.max(1),
                seed: app.state.sampling.seed,
                ..ZhPoemOptions::default()
            },
        }
    } else if prompt {
        Command::Prompt {
            image,
            mode: app.state.prompt_mode,
            top: app.state.prompt_top.max(1),
            caption: app.state.use_caption,
        }
    } else {
        Command::Poem {
            image,
            options: PoemOptions {
                lines: app.state.poem_lines.max(1),
                candidates: app.state.poem_candidates.max(1),
                seed: app.state.sampling.seed,
                temperature: 0.9,
            },
            caption: app.state.use_caption,
        }
    };
    app.words.caption_asked = app.state.use_caption && !app.state.words_chinese;
    app.words.status = Some("Starting…".into());
    send(app, command);
}

/// Sends the settings to the engine and library, looks for the models again, and says what
/// changed since the last Apply.
fn apply_engine_settings(app: &mut StudioApp) {
    let now = app.state.engine.clone();
    let changes = super::settings_diff::describe(&app.models.applied, &now);
    send(app, Command::Configure(Box::new(now.clone())));
    send(app, Command::ScanModels);
    app.models.applied = now;
    app.notices.info(if changes.is_empty() {
        "Settings applied; nothing had changed. The models were looked for again.".to_string()
    } else {
        format!(
            "Settings applied: {}. The models were looked for again.",
            changes.join("; ")
        )
    });
}
