//! The studio window: an eframe app with one panel per file. Panels draw and return
//! [`actions::Action`]s, which are applied after layout; worker events are drained once per
//! frame in `logic`. This module talks to the engine only through [`crate::worker`].

pub mod action;
pub mod actions;
pub mod bench_run;
pub mod book_actions;
pub mod cjk_font;
pub mod draft;
pub mod events;
pub mod file_actions;
pub mod file_browser;
pub mod file_picker;
pub mod keeping;
pub mod notices;
pub mod panels;
pub mod presets;
pub mod run;
pub mod screenshot;
pub mod settings_diff;
pub mod state;
pub mod textures;
pub mod views;

use std::time::{Duration, Instant};

use crate::worker::{Command, EngineSettings, JobsFactory, Worker};
use actions::Action;
use draft::PageView;
use file_picker::FilePicker;
use notices::NoticeKey;
use state::{State, Tab};
use views::{IllustrateView, LibraryView, ModelsView, StoryView, WordsView};

/// The most often worker events repaint the window (about 15 frames a second): progress reads
/// just as well, and a software renderer leaves the engine its CPU.
pub const REPAINT_INTERVAL: Duration = Duration::from_millis(66);

/// How the studio starts: the engine settings, and for tests a fake engine and file picker.
pub struct StudioConfig {
    /// Overrides the remembered engine settings when set (command-line flags, tests).
    pub engine: Option<EngineSettings>,
    pub jobs: Option<(JobsFactory, JobsFactory)>,
    pub picker: Box<dyn FilePicker>,
    /// Start from defaults instead of what eframe storage remembers.
    pub fresh_state: bool,
    pub screenshot: Option<screenshot::Plan>,
    /// Open this library book once started (asking first if the book in progress has unsaved
    /// edits), and show `tab` (`gui --open-book ID --tab NAME`).
    pub open_book: Option<i64>,
    pub tab: Option<Tab>,
    /// Illustrate one page with the Draft preset, report its speed and close (the benchmark).
    pub bench: Option<bench_run::Plan>,
}

impl Default for StudioConfig {
    fn default() -> Self {
        Self {
            engine: None,
            jobs: None,
            picker: Box::new(file_picker::SystemPicker),
            fresh_state: false,
            screenshot: None,
            open_book: None,
            tab: None,
            bench: None,
        }
    }
}

pub struct StudioApp {
    pub state: State,
    pub worker: Worker,
    pub pages: Vec<PageView>,
    pub story: StoryView,
    pub illustrate: IllustrateView,
    pub words: WordsView,
    pub library: LibraryView,
    pub models: ModelsView,
    pub notices: notices::Notices,
    pub picker: Box<dyn FilePicker>,
    /// The in-app file browser, open when the system dialog could not be used.
    pub browser: Option<file_browser::FileBrowser>,
    pub keeping: keeping::Keeping,
    pub screenshot: Option<screenshot::Plan>,
    pub bench: Option<bench_run::Plan>,
    /// The tab to show when the book asked for on the command line opens.
    pub open_tab: Option<Tab>,
    /// CPU time of each `ui` call, newest last (the frame-time benchmark reads it).
    pub frame_times: Vec<f32>,
    /// The system font that draws Chinese, looked for at start-up.
    pub cjk_font: cjk_font::CjkFont,
    pending: Vec<Action>,
}

impl StudioApp {
    /// Queues a command for the worker threads; a refusal (a full queue) becomes a notice.
    pub fn send(&mut self, command: crate::worker::Command) {
        if let Err(e) = self.worker.send(command) {
            self.notices.error(e);
        }
    }

    pub fn new(cc: &eframe::CreationContext<'_>, config: StudioConfig) -> Self {
        let mut state: State = if config.fresh_state {
            State::default()
        } else {
            cc.storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default()
        };
        if let Some(mut engine) = config.engine {
            // Flags say where models and the library are; choices they cannot express (the
            // illustrator unless --vqgan-model was given, the hub settings) stay as remembered.
            let kept = &state.engine;
            if engine.vqgan_model.is_empty() {
                engine.vqgan_model = kept.vqgan_model.clone();
            }
            engine.hub_mirror = engine.hub_mirror.or_else(|| kept.hub_mirror.clone());
            engine.hub_cache = engine.hub_cache.or_else(|| kept.hub_cache.clone());
            state.engine = engine;
        }
        if let Some(tab) = config.tab {
            state.tab = tab;
        }
        let ctx = cc.egui_ctx.clone();
        // Never a repaint per event: at most one per REPAINT_INTERVAL, however many arrive.
        let repaint: crate::worker::Repaint =
            std::sync::Arc::new(move || ctx.request_repaint_after(REPAINT_INTERVAL));
        let worker = match config.jobs {
            Some((ml, lib)) => Worker::spawn(ml, lib, repaint),
            None => Worker::real(state.engine.clone(), repaint),
        };
        let pages = state
            .pages
            .iter()
            .map(|p| PageView::new(p.sentence.clone()))
            .collect();
        let mut app = Self {
            models: ModelsView {
                applied: state.engine.clone(),
                ..ModelsView::default()
            },
            state,
            worker,
            pages,
            story: StoryView::default(),
            illustrate: IllustrateView::default(),
            words: WordsView::default(),
            library: LibraryView::default(),
            notices: notices::Notices::default(),
            picker: config.picker,
            browser: None,
            keeping: keeping::Keeping::default(),
            screenshot: config.screenshot,
            bench: config.bench,
            open_tab: config.open_book.and(config.tab),
            frame_times: Vec::new(),
            cjk_font: cjk_font::CjkFont::start(),
            pending: Vec::new(),
        };
        app.keeping.started_with = app.book_fingerprint();
        app.keeping.saved = if app.state.unsaved {
            0
        } else {
            app.keeping.started_with
        };
        app.keeping.open_on_start = config.open_book;
        // The kept book first, so nothing is written over it before it is read.
        for command in [
            Command::LoadDraft,
            Command::ScanModels,
            Command::ListBooks {
                query: String::new(),
                mode: Default::default(),
            },
        ] {
            app.pending.push(Action::Send(command));
        }
        app
    }

    fn busy_text(&self) -> Option<String> {
        self.story
            .status
            .clone()
            .or_else(|| self.illustrate.status.clone())
            .or_else(|| self.words.status.clone())
    }

    fn panel_ui(&mut self, ui: &mut egui::Ui) {
        let actions = match self.state.tab {
            Tab::Write => panels::write::write_ui(
                ui,
                &mut self.state,
                &mut self.pages,
                &mut self.story,
                &self.models,
            ),
            Tab::Illustrate => panels::illustrate::illustrate_ui(
                ui,
                &mut self.state,
                &self.pages,
                &self.illustrate,
            ),
            Tab::Read => {
                panels::read::read_ui(ui, &self.state, &self.pages, &mut self.story.read_page)
            }
            Tab::Words => panels::words::words_ui(ui, &mut self.state, &self.words),
            Tab::Library => panels::library::library_ui(ui, &mut self.library),
            Tab::Models => panels::models::models_ui(ui, &mut self.state, &self.models),
            Tab::Settings => panels::settings::settings_ui(ui, &mut self.state),
        };
        self.pending.extend(actions);
    }

    /// The modal questions and the file browser, over every panel.
    fn dialogs_ui(&mut self, ctx: &egui::Context) {
        if let Some(id) = self.library.confirm_delete {
            let actions = panels::library::confirm_delete_ui(ctx, &self.library, id);
            self.pending.extend(actions);
        }
        if let Some(next) = self.keeping.asking {
            self.pending.extend(panels::unsaved::unsaved_ui(ctx, next));
        }
        if let Some(browser) = &mut self.browser {
            let actions =
                panels::file_browser::file_browser_ui(ctx, browser, &self.state.recent_folders);
            self.pending.extend(actions);
        }
    }

    /// Closing the window with unsaved edits asks first; the close goes ahead once answered.
    fn close_requested(&mut self, ctx: &egui::Context) {
        let wants_close = ctx.input(|i| i.viewport().close_requested());
        if wants_close && !self.keeping.quitting && self.has_unsaved_edits() {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.keeping.asking = Some(keeping::Replace::Quit);
        }
    }
}

impl eframe::App for StudioApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        for event in self.worker.poll() {
            events::apply(self, ctx, event);
        }
        let dropped: Vec<crate::worker::ImageSource> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .filter_map(|f| {
                    let path = f.path();
                    if path.is_file() {
                        return Some(crate::worker::ImageSource::Path(path.to_path_buf()));
                    }
                    // Only a drop without a readable path is read here, and it is small.
                    f.bytes().ok().map(|b| crate::worker::ImageSource::Bytes {
                        name: path.display().to_string(),
                        bytes: b.into(),
                    })
                })
                .collect()
        });
        if let Some(image) = dropped.into_iter().next() {
            // On the Library, a picture asks for books that look like it; elsewhere it is
            // turned into words.
            self.pending.push(match self.state.tab {
                state::Tab::Library => Action::FindSimilar(image),
                _ => Action::UseImage(image),
            });
        }
        self.close_requested(ctx);
        if let Some(missing) = self.cjk_font.poll(ctx, self.state.words_chinese) {
            self.notices.info(missing);
        }
        if !self.state.prompt.trim().is_empty() {
            self.notices.clear_key(NoticeKey::EmptyPrompt);
        }
        if let Some(due) = self.keep_draft(false) {
            ctx.request_repaint_after(due);
        }
        let now = ctx.input(|i| i.time);
        if let Some(left) = self.notices.expire(now) {
            ctx.request_repaint_after(Duration::from_secs_f64(left.max(0.05)));
        }
        bench_run::logic(self, ctx);
        screenshot::logic(self, ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        let busy = self.busy_text();
        let unsaved = self.has_unsaved_edits();
        egui::Panel::top("tabs").show(ui, |ui| {
            let actions = panels::top_bar::top_bar_ui(ui, self.state.tab, busy, unsaved);
            self.pending.extend(actions);
        });
        let on_models = self.state.tab == Tab::Models;
        if !self.notices.items.is_empty() {
            egui::Panel::bottom("notices").show(ui, |ui| {
                // The Models panel shows a missing model in its row; no second copy below it.
                let hide =
                    |n: &notices::Notice| on_models && matches!(n.key, Some(NoticeKey::Model(_)));
                if let Some(id) = self.notices.ui(ui, hide) {
                    self.pending.push(Action::Dismiss(id));
                }
            });
        }
        egui::CentralPanel::default_margins().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.panel_ui(ui));
        });
        let ctx = ui.ctx().clone();
        self.dialogs_ui(&ctx);
        for action in std::mem::take(&mut self.pending) {
            actions::apply(self, &ctx, action);
        }
        self.frame_times.push(started.elapsed().as_secs_f32());
        if self.frame_times.len() > 10_000 {
            self.frame_times.drain(..5_000);
        }
        screenshot::ui(self, &ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.state.pages = self
            .pages
            .iter()
            .map(|p| state::SavedPage {
                sentence: p.sentence.clone(),
            })
            .collect();
        self.state.unsaved = self.has_unsaved_edits();
        // The pictures go to the draft file beside the library, never into eframe storage.
        let _ = self.keep_draft(true);
        eframe::set_value(storage, eframe::APP_KEY, &self.state);
    }
}
