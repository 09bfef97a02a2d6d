//! The binary's global allocator: the system allocator, plus a cache of freed large blocks
//! that are handed back out when a request of the very same size comes.
//!
//! An optimisation step allocates and frees the same few hundred tensor buffers, each several
//! megabytes, every iteration. The system allocator gives big blocks back to the kernel when
//! they are freed (glibc above its mmap threshold, and by trimming the heap), so the next step
//! takes a page fault and a kernel zeroing for every 4 KiB it touches: measured with
//! `perf record` on `bench illustrate`, that was over a third of a step's time. Tensors of one
//! step recur with identical sizes in the next, so an exact-size cache finds almost every block.
//!
//! Two parts, because one alone measured worse:
//! - on glibc, [`tune_system_allocator`] keeps blocks up to 32 MiB (glibc's largest mmap
//!   threshold) in the heap and stops trimming it, so glibc reuses them for any size;
//! - blocks of 32 MiB and more (the decoder's activations at 256²) go through an exact-size
//!   cache here. Caching every block of 1 MiB or more here instead, bounded at 1 GiB, cost
//!   0.4 GiB more peak memory and still faulted 2.6 M pages per two steps, against 1.5 M.
//!
//! The cache is bounded ([`CACHE_LIMIT_BYTES`]); the oldest blocks are freed first when it is
//! full. [`release_memory`] returns everything to the system; the engine calls it when it has
//! no more work queued, so an idle studio does not sit on memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;

/// Blocks smaller than this go straight to the system allocator, which (tuned) reuses them.
pub const MIN_CACHED_BYTES: usize = GLIBC_MAX_MMAP_THRESHOLD;
/// glibc refuses an mmap threshold above half its 64 MiB arena heap size.
const GLIBC_MAX_MMAP_THRESHOLD: usize = 32 << 20;
/// Most bytes kept in freed blocks at any time.
pub const CACHE_LIMIT_BYTES: usize = 1 << 30;
const SLOTS: usize = 512;

#[derive(Clone, Copy)]
struct Slot {
    ptr: usize,
    size: usize,
    align: usize,
    /// When the block was cached; the smallest is evicted first.
    stamp: u64,
}

const EMPTY: Slot = Slot {
    ptr: 0,
    size: 0,
    align: 0,
    stamp: 0,
};

struct Cache {
    slots: [Slot; SLOTS],
    bytes: usize,
    clock: u64,
}

impl Cache {
    fn take(&mut self, layout: Layout) -> Option<*mut u8> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.ptr != 0 && s.size == layout.size() && s.align == layout.align())?;
        let ptr = slot.ptr as *mut u8;
        self.bytes -= slot.size;
        *slot = EMPTY;
        Some(ptr)
    }

    fn full(&self) -> bool {
        self.slots.iter().all(|s| s.ptr != 0)
    }

    /// Caches a freed block and returns the blocks to free: the oldest ones, evicted to make
    /// room, and the block itself when [`MAX_EVICT`] evictions were not enough. A fixed array
    /// keeps the allocator from allocating while it holds the lock.
    fn put(&mut self, block: Slot) -> ([Slot; MAX_EVICT + 1], usize) {
        let mut out = [EMPTY; MAX_EVICT + 1];
        let mut n = 0;
        let no_room = |c: &Self| c.bytes + block.size > CACHE_LIMIT_BYTES || c.full();
        while no_room(self) && n < MAX_EVICT {
            let oldest = self
                .slots
                .iter_mut()
                .filter(|s| s.ptr != 0)
                .min_by_key(|s| s.stamp);
            let Some(oldest) = oldest else { break };
            out[n] = *oldest;
            n += 1;
            self.bytes -= oldest.size;
            *oldest = EMPTY;
        }
        if no_room(self) {
            out[n] = block;
            return (out, n + 1);
        }
        self.clock += 1;
        if let Some(free) = self.slots.iter_mut().find(|s| s.ptr == 0) {
            *free = Slot {
                stamp: self.clock,
                ..block
            };
            self.bytes += block.size;
        }
        (out, n)
    }

    fn drain(&mut self, out: &mut Vec<Slot>) {
        for slot in self.slots.iter_mut().filter(|s| s.ptr != 0) {
            out.push(*slot);
            *slot = EMPTY;
        }
        self.bytes = 0;
    }
}

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    slots: [EMPTY; SLOTS],
    bytes: 0,
    clock: 0,
});

/// At most this many blocks are freed by one `dealloc`; a fixed array keeps the allocator
/// from allocating while it holds the lock.
const MAX_EVICT: usize = 8;

fn free_all(slots: &[Slot]) {
    for s in slots {
        // SAFETY: every cached block came from `System` with exactly this size and alignment.
        unsafe {
            System.dealloc(
                s.ptr as *mut u8,
                Layout::from_size_align_unchecked(s.size, s.align),
            )
        };
    }
}

/// The global allocator type; install it in a binary with `#[global_allocator]`.
pub struct BlockCache;

unsafe impl GlobalAlloc for BlockCache {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= MIN_CACHED_BYTES {
            if let Some(ptr) = CACHE.lock().ok().and_then(|mut c| c.take(layout)) {
                return ptr;
            }
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= MIN_CACHED_BYTES {
            if let Some(ptr) = CACHE.lock().ok().and_then(|mut c| c.take(layout)) {
                // SAFETY: the block is `layout.size()` bytes long and now ours.
                unsafe { ptr.write_bytes(0, layout.size()) };
                return ptr;
            }
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let block = Slot {
            ptr: ptr as usize,
            size: layout.size(),
            align: layout.align(),
            stamp: 0,
        };
        if layout.size() < MIN_CACHED_BYTES || layout.size() > CACHE_LIMIT_BYTES {
            free_all(&[block]);
            return;
        }
        let (to_free, n) = match CACHE.lock() {
            Ok(mut cache) => cache.put(block),
            Err(_) => ([block; MAX_EVICT + 1], 1),
        };
        free_all(&to_free[..n]);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.size() < MIN_CACHED_BYTES && new_size < MIN_CACHED_BYTES {
            // SAFETY: forwarded; neither size is ever cached.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: the caller guarantees `new_size` with this alignment is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as `GlobalAlloc::realloc`'s default: allocate, copy the common prefix, free.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

/// Makes glibc keep freed blocks below 32 MiB for reuse instead of unmapping or trimming
/// them. Call once, first thing in `main`, before other threads start. Elsewhere a no-op.
pub fn tune_system_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(
            libc::M_MMAP_THRESHOLD,
            GLIBC_MAX_MMAP_THRESHOLD as libc::c_int,
        );
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
    }
}

/// Gives memory kept for reuse back to the system: the cached blocks, and on glibc the free
/// parts of its heaps.
pub fn release_memory() {
    release_cached_blocks();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only returns free pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Frees every cached block. Cheap when the cache is empty, or when another allocator is
/// installed (the cache then stays empty).
pub fn release_cached_blocks() {
    let mut drained = Vec::with_capacity(SLOTS);
    if let Ok(mut cache) = CACHE.lock() {
        cache.drain(&mut drained);
    }
    free_all(&drained);
}

/// Bytes currently held in freed blocks.
pub fn cached_bytes() -> usize {
    CACHE.lock().map(|c| c.bytes).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> Cache {
        Cache {
            slots: [EMPTY; SLOTS],
            bytes: 0,
            clock: 0,
        }
    }

    fn block(ptr: usize, size: usize) -> Slot {
        Slot {
            ptr,
            size,
            align: 64,
            stamp: 0,
        }
    }

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 64).unwrap()
    }

    #[test]
    fn a_block_comes_back_only_for_the_same_size_and_alignment() {
        let mut c = cache();
        assert_eq!(c.put(block(0x1000, 4 << 20)).1, 0);
        assert_eq!(c.take(layout(8 << 20)), None);
        assert_eq!(c.take(Layout::from_size_align(4 << 20, 8).unwrap()), None);
        assert_eq!(c.take(layout(4 << 20)), Some(0x1000 as *mut u8));
        assert_eq!(c.take(layout(4 << 20)), None);
        assert_eq!(c.bytes, 0);
    }

    #[test]
    fn the_oldest_blocks_make_room_and_the_limit_holds() {
        let mut c = cache();
        let quarter = CACHE_LIMIT_BYTES / 4;
        for i in 1..=4 {
            assert_eq!(c.put(block(i * 0x1000, quarter)).1, 0);
        }
        let (freed, n) = c.put(block(0x9000, quarter));
        assert_eq!(n, 1);
        assert_eq!(freed[0].ptr, 0x1000, "the first cached block is evicted");
        assert_eq!(c.bytes, CACHE_LIMIT_BYTES);
        assert!(c.take(layout(quarter)).is_some());
    }

    #[test]
    fn a_block_that_needs_too_many_evictions_is_freed_itself() {
        let mut c = cache();
        let small = CACHE_LIMIT_BYTES / 16;
        for i in 1..=16 {
            c.put(block(i * 0x1000, small));
        }
        let (freed, n) = c.put(block(0xf0000, CACHE_LIMIT_BYTES));
        assert_eq!(n, MAX_EVICT + 1);
        assert_eq!(freed[MAX_EVICT].ptr, 0xf0000);
        let kept: usize = c.slots.iter().map(|s| s.size).sum();
        assert_eq!(kept, c.bytes);
        assert_eq!(c.bytes, (16 - MAX_EVICT) * small);
    }

    #[test]
    fn the_allocator_hands_out_writable_zeroed_blocks() {
        let a = BlockCache;
        let l = layout(3 << 20);
        // SAFETY: each block is used within its layout and freed with it.
        unsafe {
            let p = a.alloc(l);
            p.write_bytes(7, l.size());
            a.dealloc(p, l);
            let q = a.alloc_zeroed(l);
            assert!(std::slice::from_raw_parts(q, l.size())
                .iter()
                .all(|&b| b == 0));
            let r = a.realloc(q, l, 5 << 20);
            assert!(std::slice::from_raw_parts(r, l.size())
                .iter()
                .all(|&b| b == 0));
            a.dealloc(r, layout(5 << 20));
        }
        release_cached_blocks();
    }
}
