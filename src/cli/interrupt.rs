//! Ctrl-C during a long run. The first press asks the run to stop after its current step, so
//! the book's saved pages and its lease are left in order and the command can say how to
//! resume; a second press quits at once, as Ctrl-C always does.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Set once Ctrl-C was pressed; long runs pass it as their cancel flag.
pub fn flag() -> &'static AtomicBool {
    &INTERRUPTED
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Installs the handler. On other systems than Unix, Ctrl-C keeps its immediate effect.
pub fn install() {
    #[cfg(unix)]
    // SAFETY: the handler only stores an atomic and makes async-signal-safe calls.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
}

#[cfg(unix)]
extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let msg = b"\nStopping after this step; press Ctrl-C again to quit at once.\n";
    // SAFETY: write(2) and signal(2) are async-signal-safe; `msg` outlives the call.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}
