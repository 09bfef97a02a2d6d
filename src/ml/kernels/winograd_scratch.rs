//! The Winograd convolutions' scratch memory, kept per thread from call to call.

/// The transformed tiles (`v`) and their products (`m`) of one chunk, kept per thread from
/// call to call and not cleared: no value an earlier call left reaches an output. The input
/// pass writes every tile the products read, the products every tile the output pass keeps,
/// and what the output pass reads past a row's last tile only makes lanes it throws away.
/// Zeroing them afresh for each call was most of the convolutions' `memset` time (perf: 1.6–1.8%
/// of a drawing step).
#[derive(Default)]
pub(crate) struct Scratch {
    pub v: Grown<f32>,
    pub m: Grown<f32>,
    /// bf16 kernels only: the tiles packed for the products.
    pub packed: Grown<u16>,
}

#[derive(Default)]
pub(crate) struct Grown<T>(pub Vec<T>);

impl<T: Copy + Default> Grown<T> {
    /// The first `len` values, growing the buffer (zeroed) when it is shorter.
    pub fn at_least(&mut self, len: usize) -> &mut [T] {
        if self.0.len() < len {
            // A fresh buffer: growing in place would copy values nobody reads.
            self.0 = vec![T::default(); len];
        }
        &mut self.0[..len]
    }
}

use std::cell::RefCell;

thread_local! {
    pub(crate) static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` on this thread's scratch, or on a fresh one when it is in use: a convolution
/// called from a rayon task can run another, stolen while it waits, on the same thread.
pub(crate) fn with_scratch(f: impl FnOnce(&mut Scratch)) {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Frees this thread's convolution scratch (a few tens of megabytes at the decoder's sizes),
/// when other work has better use for the memory: after a decoder pass, or an idle engine.
pub fn release_scratch() {
    SCRATCH.with(|cell| {
        if let Ok(mut scratch) = cell.try_borrow_mut() {
            *scratch = Scratch::default();
        }
    });
}
