//! The studio window: an eframe app with one panel per file. Panels draw and return
//! [`actions::Action`]s, which are applied after layout; worker events are drained once per
//! frame in `logic`. This module talks to the engine only through [`crate::worker`].

pub mod actions;
pub mod draft;
pub mod events;
pub mod file_picker;
pub mod notices;
pub mod panels;
pub mod presets;
pub mod run;
pub mod screenshot;
pub mod state;
pub mod textures;
pub mod views;

use std::time::Instant;

use crate::worker::{EngineSettings, JobsFactory, Worker};
use actions::Action;
use draft::PageView;
use file_picker::FilePicker;
use state::{State, Tab};
use views::{IllustrateView, LibraryView, ModelsView, StoryView, WordsView};

/// How the studio starts: the engine settings, and for tests a fake engine and file picker.
pub struct StudioConfig {
    /// Overrides the remembered engine settings when set (command-line flags, tests).
    pub engine: Option<EngineSettings>,
    pub jobs: Option<(JobsFactory, JobsFactory)>,
    pub picker: Box<dyn FilePicker>,
    /// Start from defaults instead of what eframe storage remembers.
    pub fresh_state: bool,
    pub screenshot: Option<screenshot::Plan>,
}

impl Default for StudioConfig {
    fn default() -> Self {
        Self {
            engine: None,
            jobs: None,
            picker: Box::new(file_picker::SystemPicker),
            fresh_state: false,
            screenshot: None,
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
    pub screenshot: Option<screenshot::Plan>,
    /// CPU time of each `ui` call, newest last (the frame-time benchmark reads it).
    pub frame_times: Vec<f32>,
    pending: Vec<Action>,
}

impl StudioApp {
    pub fn new(cc: &eframe::CreationContext<'_>, config: StudioConfig) -> Self {
        let mut state: State = if config.fresh_state {
            State::default()
        } else {
            cc.storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default()
        };
        if let Some(engine) = config.engine {
            state.engine = engine;
        }
        let ctx = cc.egui_ctx.clone();
        let repaint: crate::worker::Repaint = std::sync::Arc::new(move || ctx.request_repaint());
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
            state,
            worker,
            pages,
            story: StoryView::default(),
            illustrate: IllustrateView::default(),
            words: WordsView::default(),
            library: LibraryView::default(),
            models: ModelsView::default(),
            notices: notices::Notices::default(),
            picker: config.picker,
            screenshot: config.screenshot,
            frame_times: Vec::new(),
            pending: Vec::new(),
        };
        app.pending
            .push(Action::Send(crate::worker::Command::ScanModels));
        app.pending
            .push(Action::Send(crate::worker::Command::ListBooks {
                query: String::new(),
            }));
        app
    }

    fn tabs_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            for tab in Tab::ALL {
                if ui
                    .selectable_label(self.state.tab == tab, tab.label())
                    .clicked()
                {
                    self.pending.push(Action::SwitchTab(tab));
                }
            }
            ui.separator();
            if let Some(text) = self.busy_text() {
                ui.spinner();
                ui.label(text);
            }
        });
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
            Tab::Write => {
                panels::write::write_ui(ui, &mut self.state, &mut self.pages, &self.story)
            }
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
            self.pending.push(Action::UseImage(image));
        }
        screenshot::logic(self, ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        egui::Panel::top("tabs").show(ui, |ui| self.tabs_ui(ui));
        if !self.notices.items.is_empty() {
            egui::Panel::bottom("notices").show(ui, |ui| {
                if let Some(i) = self.notices.ui(ui) {
                    self.pending.push(Action::Dismiss(i));
                }
            });
        }
        egui::CentralPanel::default_margins().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.panel_ui(ui));
        });
        if let Some(id) = self.library.confirm_delete {
            let actions = panels::library::confirm_delete_ui(ui.ctx(), &self.library, id);
            self.pending.extend(actions);
        }
        let ctx = ui.ctx().clone();
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
        eframe::set_value(storage, eframe::APP_KEY, &self.state);
    }
}
