//! The bridge between the studio window and the engine: named threads own the models and the
//! library, take typed [`Command`]s over bounded channels, and answer with [`Event`]s, waking the
//! UI after each. The UI only ever talks to this module; it never touches candle or SQLite.

pub mod engine;
mod engine_models;
pub mod job_thread;
pub mod library_jobs;
pub mod pictures;
pub mod protocol;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::Receiver;

pub use job_thread::{Jobs, JobsFactory, Outbox, Repaint};
pub use protocol::*;

/// Events the UI has not drained yet; the UI drains every frame, so this is rarely reached.
const EVENT_QUEUE: usize = 1024;

/// The engine as the UI sees it. Dropping it cancels the running job and joins the threads.
pub struct Worker {
    ml: job_thread::JobThread,
    library: job_thread::JobThread,
    events: Receiver<Event>,
    cancel: Arc<AtomicBool>,
}

impl Worker {
    pub fn spawn(ml: JobsFactory, library: JobsFactory, repaint: Repaint) -> Self {
        let (tx, events) = crossbeam_channel::bounded(EVENT_QUEUE);
        let cancel = Arc::new(AtomicBool::new(false));
        Self {
            ml: job_thread::JobThread::spawn(
                "storybook-engine",
                ml,
                tx.clone(),
                repaint.clone(),
                cancel.clone(),
            ),
            library: job_thread::JobThread::spawn(
                "storybook-library",
                library,
                tx,
                repaint,
                Arc::new(AtomicBool::new(false)),
            ),
            events,
            cancel,
        }
    }

    /// The real engine and library for `settings`.
    pub fn real(settings: EngineSettings, repaint: Repaint) -> Self {
        let s = settings.clone();
        let ml: JobsFactory = Arc::new(move || Box::new(engine::Engine::new(s.clone())));
        let lib: JobsFactory =
            Arc::new(move || Box::new(library_jobs::LibraryJobs::new(settings.library.clone())));
        Self::spawn(ml, lib, repaint)
    }

    /// Queues a command; `Err` is a sentence for the user.
    pub fn send(&mut self, command: Command) -> Result<(), String> {
        if let Command::Configure(settings) = &command {
            // The library thread needs the new library path too.
            let _ = self.library.send(Command::Configure(settings.clone()));
        }
        if command.is_library() {
            self.library.send(command)
        } else {
            self.ml.send(command)
        }
    }

    /// Every event that has arrived, oldest first.
    pub fn poll(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }

    /// Stops the running engine job at its next step, and the illustrations queued behind it.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// Devices this build can use: the CPU always, CUDA or Metal when compiled in.
pub fn available_devices() -> Vec<&'static str> {
    crate::ml::device::available()
}
