//! What the user asked for: panels return these, and they are applied after layout
//! (`actions::apply`).

use super::draft::PageEdit;
use super::keeping::Replace;
use super::state::Tab;
use crate::worker::{Command, ImageSource, ModelKind};

#[must_use]
#[derive(Debug, Clone)]
pub enum Action {
    SwitchTab(Tab),
    Dismiss(u64),
    Send(Command),
    /// Stops the running job and drops the illustrations queued behind it.
    Cancel,
    /// Stops the page being illustrated; the queue goes on with the next.
    CancelPage,
    /// Stop the running page, keeping its state so it can be resumed.
    PausePage,
    /// Draw a paused page again from its first step, with its seed.
    StartOver(usize),
    /// Stops the model download in progress (it is the engine's running job).
    CancelDownload,
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
    /// Books whose pictures look like this image (an image dropped on the Library).
    FindSimilar(ImageSource),
    OpenBook(i64),
    DuplicateBook(i64),
    AskDelete(i64),
    ConfirmDelete(i64),
    CancelDelete,
    ExportBook(i64),
    Download(ModelKind),
    ChooseModelsFolder,
    ApplyEngineSettings,
    /// Forget the folder set in Settings for a model, so the usual places are searched.
    ClearModelPath(ModelKind),
    /// The unsaved-edits question's answers.
    UnsavedSave(Replace),
    UnsavedDiscard(Replace),
    UnsavedCancel,
    /// The in-app file browser's answers.
    BrowserAccept,
    BrowserCancel,
}
