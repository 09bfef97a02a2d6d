//! What panels ask for, applied after layout so no panel changes state mid-frame.

use super::draft::{apply_edit, pages_of, to_draft, PageEdit, PageStatus};
use super::state::Tab;
use super::StudioApp;
use crate::worker::{Command, ImageSource, ModelKind, PoemOptions, SamplingOptions};

#[must_use]
#[derive(Debug, Clone)]
pub enum Action {
    SwitchTab(Tab),
    Dismiss(usize),
    Send(Command),
    Cancel,
    Generate,
    PickCandidate(usize),
    EditPages(PageEdit),
    IllustratePage(usize),
    IllustrateAll,
    /// Redo a page with a new seed.
    RedoPage(usize),
    SaveBook,
    ExportCurrent,
    NewBook,
    OpenImage,
    UseImage(ImageSource),
    RunPrompt,
    RunPoem,
    UseAsStoryPrompt(String),
    Copy(String),
    SearchLibrary,
    OpenBook(i64),
    DuplicateBook(i64),
    AskDelete(i64),
    ConfirmDelete(i64),
    CancelDelete,
    ExportBook(i64),
    Download(ModelKind),
    ChooseModelsFolder,
    ApplyEngineSettings,
}

pub fn apply(app: &mut StudioApp, ctx: &egui::Context, action: Action) {
    match action {
        Action::SwitchTab(tab) => {
            app.state.tab = tab;
            if tab == Tab::Library && !app.library.loaded {
                send(
                    app,
                    Command::ListBooks {
                        query: app.library.query.clone(),
                    },
                );
            }
        }
        Action::Dismiss(i) => {
            if i < app.notices.items.len() {
                app.notices.items.remove(i);
            }
        }
        Action::Send(command) => send(app, command),
        Action::Cancel => app.worker.cancel(),
        Action::Generate => {
            let prompt = app.state.prompt.trim().to_string();
            if prompt.is_empty() {
                app.notices
                    .error("The prompt is empty; type a few words to start the story.");
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
            app.story.generating = true;
            send(app, Command::Generate { prompt, options });
        }
        Action::PickCandidate(i) => {
            if let Some(text) = app.story.candidates.get(i).cloned() {
                app.state.story = text.clone();
                app.pages = pages_of(&text);
                app.state.book_id = None;
            }
        }
        Action::EditPages(edit) => apply_edit(&mut app.pages, edit),
        Action::IllustratePage(i) => queue_page(app, i, false),
        Action::RedoPage(i) => queue_page(app, i, true),
        Action::IllustrateAll => {
            for i in 0..app.pages.len() {
                if app.pages[i].status != PageStatus::Done {
                    queue_page(app, i, false);
                }
            }
        }
        Action::SaveBook => {
            let draft = to_draft(
                app.state.book_id,
                &app.state.prompt,
                &app.state.story,
                &app.state.sampling,
                &app.state.illustration,
                &app.pages,
            );
            send(app, Command::SaveBook(Box::new(draft)));
        }
        Action::ExportCurrent => match app.state.book_id {
            Some(id) => apply(app, ctx, Action::ExportBook(id)),
            None => app
                .notices
                .error("Save the book to the library first, then export it."),
        },
        Action::NewBook => {
            app.pages.clear();
            app.state.story.clear();
            app.state.book_id = None;
            app.story.candidates.clear();
        }
        Action::OpenImage => {
            if let Some(path) = app.picker.open_image() {
                apply(app, ctx, Action::UseImage(ImageSource::Path(path)));
            }
        }
        Action::UseImage(image) => {
            app.state.tab = Tab::Words;
            app.words.image = Some(image.clone());
            app.words.image_name = Some(image.name());
            app.words.prompt = None;
            app.words.poem = None;
            send(app, Command::LoadImage(image));
        }
        Action::RunPrompt | Action::RunPoem => {
            let Some(image) = app.words.image.clone() else {
                app.notices
                    .error("Drop an image on the window, or choose one with Open…, first.");
                return;
            };
            let command = if matches!(action, Action::RunPrompt) {
                Command::Prompt {
                    image,
                    mode: app.state.prompt_mode,
                    top: app.state.prompt_top.max(1),
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
                }
            };
            app.words.status = Some("Starting…".into());
            send(app, command);
        }
        Action::UseAsStoryPrompt(text) => {
            app.state.prompt = text;
            app.state.tab = Tab::Write;
        }
        Action::Copy(text) => ctx.copy_text(text),
        Action::SearchLibrary => send(
            app,
            Command::ListBooks {
                query: app.library.query.clone(),
            },
        ),
        Action::OpenBook(id) => send(app, Command::OpenBook(id)),
        Action::DuplicateBook(id) => send(app, Command::DuplicateBook(id)),
        Action::AskDelete(id) => app.library.confirm_delete = Some(id),
        Action::CancelDelete => app.library.confirm_delete = None,
        Action::ConfirmDelete(id) => {
            app.library.confirm_delete = None;
            send(app, Command::DeleteBook(id));
        }
        Action::ExportBook(id) => {
            if let Some(path) = app.picker.save_file("book.html") {
                send(app, Command::ExportBook { id, path });
            }
        }
        Action::Download(kind) => send(app, Command::Download(kind)),
        Action::ChooseModelsFolder => {
            if let Some(dir) = app.picker.pick_folder() {
                app.state.engine.models_dir = Some(dir);
                apply(app, ctx, Action::ApplyEngineSettings);
            }
        }
        Action::ApplyEngineSettings => {
            send(app, Command::Configure(app.state.engine.clone()));
            send(app, Command::ScanModels);
        }
    }
}

fn send(app: &mut StudioApp, command: Command) {
    if let Err(e) = app.worker.send(command) {
        app.notices.error(e);
    }
}

fn queue_page(app: &mut StudioApp, i: usize, new_seed: bool) {
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
    page.seed = seed;
    page.status = PageStatus::Queued;
    let options = crate::worker::IllustrateOptions {
        seed,
        ..base.clone()
    };
    let command = Command::Illustrate {
        page: i,
        sentence: page.sentence.clone(),
        options,
    };
    send(app, command);
}
