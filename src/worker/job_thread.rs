//! A named thread that runs commands one at a time. A job's error becomes an error event; a
//! panic becomes one too, after which the thread rebuilds its jobs (dropping loaded models) and
//! carries on, so the studio never dies with its engine.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::protocol::{Command, Event, Job};

/// Wakes the UI; the app passes `egui::Context::request_repaint`.
pub type Repaint = Arc<dyn Fn() + Send + Sync>;

/// What a thread does with each command.
pub trait Jobs: Send + 'static {
    fn run(&mut self, command: Command, out: &Outbox) -> anyhow::Result<()>;
}

/// Makes a fresh set of jobs: at start, and again after a panic.
pub type JobsFactory = Arc<dyn Fn() -> Box<dyn Jobs> + Send + Sync>;

/// How a job reports: every event is followed by a repaint request, and the cancel flag is
/// read once per step.
pub struct Outbox {
    tx: Sender<Event>,
    repaint: Repaint,
    cancel: Arc<AtomicBool>,
    /// Set with `cancel` when only the running job is to stop.
    keep_queue: Arc<AtomicBool>,
}

impl Outbox {
    pub fn send(&self, event: Event) {
        // A closed channel means the studio is shutting down; nothing is left to tell.
        let _ = self.tx.send(event);
        (self.repaint)();
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }

    /// The cancel flag, for code that must own it (a download's cancel check).
    pub fn cancel_handle(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }
}

/// Queue length per thread; the UI refuses new work with a notice beyond it.
const QUEUE: usize = 64;

pub struct JobThread {
    name: &'static str,
    tx: Option<Sender<Command>>,
    handle: Option<JoinHandle<()>>,
    factory: JobsFactory,
    events: Sender<Event>,
    repaint: Repaint,
    cancel: Arc<AtomicBool>,
    keep_queue: Arc<AtomicBool>,
}

/// The cancel flag, and the flag that says a cancel leaves the queue alone.
pub type CancelFlags = (Arc<AtomicBool>, Arc<AtomicBool>);

impl JobThread {
    pub fn spawn(
        name: &'static str,
        factory: JobsFactory,
        events: Sender<Event>,
        repaint: Repaint,
        (cancel, keep_queue): CancelFlags,
    ) -> Self {
        let mut t = Self {
            name,
            tx: None,
            handle: None,
            factory,
            events,
            repaint,
            cancel,
            keep_queue,
        };
        t.start();
        t
    }

    fn start(&mut self) {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let out = Outbox {
            tx: self.events.clone(),
            repaint: self.repaint.clone(),
            cancel: self.cancel.clone(),
            keep_queue: self.keep_queue.clone(),
        };
        let factory = self.factory.clone();
        let handle = std::thread::Builder::new()
            .name(self.name.to_string())
            .spawn(move || job_loop(rx, factory, out));
        match handle {
            Ok(h) => {
                self.tx = Some(tx);
                self.handle = Some(h);
            }
            Err(e) => {
                let _ = self.events.send(Event::Error {
                    job: Job::Models,
                    message: format!("could not start the {} thread: {e}", self.name),
                });
            }
        }
    }

    /// Queues a command, restarting the thread if it has gone away.
    pub fn send(&mut self, command: Command) -> Result<(), String> {
        let Some(tx) = &self.tx else {
            self.start();
            return self.retry(command);
        };
        match tx.try_send(command) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(format!(
                "the {} is busy with {QUEUE} queued jobs; wait for some to finish",
                self.name
            )),
            Err(TrySendError::Disconnected(command)) => {
                self.start();
                self.retry(command)
            }
        }
    }

    fn retry(&mut self, command: Command) -> Result<(), String> {
        match &self.tx {
            Some(tx) => tx
                .try_send(command)
                .map_err(|_| format!("the {} could not be restarted", self.name)),
            None => Err(format!("the {} could not be restarted", self.name)),
        }
    }
}

impl Drop for JobThread {
    fn drop(&mut self) {
        // Closing the queue ends the loop after the current job; cancel makes that job short.
        self.keep_queue.store(false, Ordering::Relaxed);
        self.cancel.store(true, Ordering::Relaxed);
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn job_of(command: &Command) -> Job {
    match command {
        Command::Generate { .. } => Job::Story,
        Command::Illustrate { page, .. } => Job::Illustrate { page: *page },
        Command::LoadImage(_)
        | Command::Prompt { .. }
        | Command::Poem { .. }
        | Command::ZhPoem { .. } => Job::Words,
        Command::Configure(_) | Command::ScanModels | Command::Download(_) => Job::Models,
        Command::LoadDraft | Command::SaveDraft { .. } => Job::Draft,
        _ => Job::Library,
    }
}

/// Jobs running on any job thread. Memory is given back only when none is: the allocator's
/// kept blocks and heap are the whole process's, so a library job that ends while a drawing step
/// runs would otherwise empty the engine's reuse cache under it and fault its next step's
/// buffers in afresh.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// One running job, counted from `start` until `end`, which says whether it was the last.
struct Running<'a>(&'a AtomicUsize);

impl<'a> Running<'a> {
    fn start(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }

    /// Ends the job; true when no other job is running.
    fn end(self) -> bool {
        let last = self.0.fetch_sub(1, Ordering::SeqCst) == 1;
        std::mem::forget(self);
        last
    }
}

impl Drop for Running<'_> {
    // Only reached when `end` was not called (an unwinding thread): keep the count right.
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn job_loop(rx: Receiver<Command>, factory: JobsFactory, out: Outbox) {
    let mut jobs = factory();
    while let Ok(command) = rx.recv() {
        let running = Running::start(&RUNNING);
        out.cancel.store(false, Ordering::Relaxed);
        out.keep_queue.store(false, Ordering::Relaxed);
        let job = job_of(&command);
        match catch_unwind(AssertUnwindSafe(|| jobs.run(command, &out))) {
            Ok(Ok(())) => {}
            Ok(Err(err)) => out.send(Event::Error {
                job,
                message: format!("{err:#}"),
            }),
            Err(panic) => {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "an unknown fault".into());
                out.send(Event::Error {
                    job,
                    message: format!(
                        "the engine stopped unexpectedly ({why}); it has been restarted, try again"
                    ),
                });
                jobs = factory();
            }
        }
        let last = running.end();
        if rx.is_empty() {
            // Buffers kept for the next step's reuse are not needed by an idle engine.
            crate::ml::kernels::winograd::release_scratch();
            if last {
                crate::memory::release_memory();
            }
        }
        if out.cancelled() && out.keep_queue.swap(false, Ordering::Relaxed) {
            // Only this job was cancelled: the next queued one runs as usual.
            out.send(Event::Cancelled { job });
        } else if out.cancelled() {
            out.send(Event::Cancelled { job });
            // A cancel also clears the illustrations queued behind the one that stopped.
            while let Ok(queued) = rx.try_recv() {
                match queued {
                    Command::Illustrate { page, .. } => out.send(Event::Cancelled {
                        job: Job::Illustrate { page },
                    }),
                    other => {
                        out.cancel.store(false, Ordering::Relaxed);
                        let job = job_of(&other);
                        if let Err(err) = jobs.run(other, &out) {
                            out.send(Event::Error {
                                job,
                                message: format!("{err:#}"),
                            });
                        }
                        out.send(Event::Finished { job });
                    }
                }
            }
        } else {
            out.send(Event::Finished { job });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_of_overlapping_jobs_finds_the_threads_idle() {
        let count = AtomicUsize::new(0);
        let library = Running::start(&count);
        let drawing = Running::start(&count);
        assert!(!library.end(), "the drawing job still runs");
        assert!(drawing.end());
        // A job whose thread unwinds still leaves the count right.
        drop(Running::start(&count));
        assert!(Running::start(&count).end());
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }
}
