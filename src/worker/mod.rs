//! The bridge between the studio window and the engine: named threads own the models and the
//! library, take typed [`Command`]s over bounded channels, and answer with [`Event`]s, waking the
//! UI after each. The UI only ever talks to this module; it never touches candle or SQLite.

mod draft_jobs;
pub mod engine;
mod engine_illustrate;
mod engine_models;
mod engine_words;
pub mod job_thread;
pub mod library_jobs;
mod library_search;
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
    /// Set with `cancel` to stop only the running job, leaving the queue behind it.
    keep_queue: Arc<AtomicBool>,
    /// Commands sent whose ending (Finished or Cancelled) has not been polled yet.
    in_flight: usize,
}

impl Worker {
    pub fn spawn(ml: JobsFactory, library: JobsFactory, repaint: Repaint) -> Self {
        let (tx, events) = crossbeam_channel::bounded(EVENT_QUEUE);
        let cancel = Arc::new(AtomicBool::new(false));
        let keep_queue = Arc::new(AtomicBool::new(false));
        Self {
            ml: job_thread::JobThread::spawn(
                "storybook-engine",
                ml,
                tx.clone(),
                repaint.clone(),
                (cancel.clone(), keep_queue.clone()),
            ),
            library: job_thread::JobThread::spawn(
                "storybook-library",
                library,
                tx,
                repaint,
                (
                    Arc::new(AtomicBool::new(false)),
                    Arc::new(AtomicBool::new(false)),
                ),
            ),
            events,
            cancel,
            keep_queue,
            in_flight: 0,
        }
    }

    /// The real engine and library for `settings`.
    pub fn real(settings: EngineSettings, repaint: Repaint) -> Self {
        let s = settings.clone();
        let ml: JobsFactory = Arc::new(move || Box::new(engine::Engine::new(s.clone())));
        let lib: JobsFactory = Arc::new(move || {
            Box::new(library_jobs::LibraryJobs::configured(Box::new(
                settings.clone(),
            )))
        });
        Self::spawn(ml, lib, repaint)
    }

    /// Queues a command; `Err` is a sentence for the user.
    pub fn send(&mut self, command: Command) -> Result<(), String> {
        if let Command::Configure(settings) = &command {
            // The library thread needs the new library path too.
            if self
                .library
                .send(Command::Configure(settings.clone()))
                .is_ok()
            {
                self.in_flight += 1;
            }
        }
        let sent = if command.is_library() {
            self.library.send(command)
        } else {
            self.ml.send(command)
        };
        if sent.is_ok() {
            self.in_flight += 1;
        }
        sent
    }

    /// Every event that has arrived, oldest first.
    pub fn poll(&mut self) -> Vec<Event> {
        let events: Vec<Event> = self.events.try_iter().collect();
        let ended = events
            .iter()
            .filter(|e| matches!(e, Event::Finished { .. } | Event::Cancelled { .. }))
            .count();
        self.in_flight = self.in_flight.saturating_sub(ended);
        events
    }

    /// Some command sent has not finished yet.
    pub fn is_busy(&self) -> bool {
        self.in_flight > 0
    }

    /// Stops the running engine job at its next step, and the illustrations queued behind it.
    pub fn cancel(&self) {
        self.keep_queue.store(false, Ordering::Relaxed);
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Stops the running engine job at its next step; the queue behind it goes on.
    pub fn cancel_current(&self) {
        self.keep_queue.store(true, Ordering::Relaxed);
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// The illustrators a user can choose, as (name, what it is); the first is the default.
pub fn vqgan_choices() -> Vec<(&'static str, &'static str)> {
    crate::ml::weights::VQGAN_SOURCES
        .iter()
        .map(|s| (s.name, s.about))
        .collect()
}

/// How GPT-2 may keep its weights while writing, with a few words on each; the first is the
/// default (`gpt2::WRITING_WEIGHTS`, stored as empty).
pub fn gpt2_weight_choices() -> [(&'static str, &'static str); 3] {
    [
        ("f32", "the reference"),
        (
            "bf16",
            "half f32's bytes; 1.5× as fast on a CPU with AVX-512; text may differ a little",
        ),
        (
            "q8",
            "0.28× f32's bytes; 2× as fast on a CPU with AVX-512; text may differ a little",
        ),
    ]
}

/// Devices this build can use: the CPU always, CUDA or Metal when compiled in.
pub fn available_devices() -> Vec<&'static str> {
    crate::ml::device::available()
}
