//! Runs candle's pickle reader on untrusted bytes with its panics turned into errors.
//!
//! candle 0.11's reader trusts the file it reads: a `LONG1` of more than 8 bytes overflows a
//! shift, and a tensor tuple shorter than PyTorch writes is indexed out of bounds (both found by
//! fuzzing, tests/fuzz_files.rs). A malformed checkpoint must be a sentence, not a crash, so
//! those calls run under `catch_unwind`, and the panic message is kept off the terminal.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// How many guarded calls this thread is inside; the hook stays quiet while it is not 0.
    static QUIET: Cell<u32> = const { Cell::new(0) };
}

/// Wraps the current panic hook once, so that it says nothing for panics we catch.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
}

/// `f()`, or `None` if it panicked.
pub fn catch<T>(f: impl FnOnce() -> T) -> Option<T> {
    install_hook();
    QUIET.with(|q| q.set(q.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get() - 1));
    result.ok()
}

#[cfg(test)]
mod tests {
    use super::catch;

    #[test]
    fn a_panic_becomes_none_and_a_value_passes_through() {
        assert_eq!(catch(|| 7), Some(7));
        let shift = std::hint::black_box(9u32 * 8);
        assert_eq!(catch(|| 1i64.checked_shl(shift).expect("overflow")), None);
        // Still usable afterwards, on the same thread.
        assert_eq!(catch(|| "ok"), Some("ok"));
    }
}
