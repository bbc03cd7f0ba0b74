//! [`CappedAllocator`]: the system allocator, counting live bytes and aborting the process the
//! moment they pass its limit. Installed as the global allocator of every fuzz target and of the
//! regression replay test (`crdt-core/tests/fuzz_regressions.rs` includes this file), so an input
//! that makes a decoder allocate from a claimed length instead of the bytes present is a crash
//! with its input saved, not a slow out-of-memory.
//!
//! The limit is [`CAP`] in all, and, once a target announces its input with
//! [`CappedAllocator::begin_input`], [`FLOOR`] plus [`BLOW_UP`] times the input above what was live
//! before it: with inputs up to the relay's 4 MiB frame limit (`run.sh` passes `-max_len`), a
//! decoder that turns a large input into ten times its size in memory is caught, not only one
//! that passes a fixed cap. (Honest documents can decode to far more than ten times their
//! deflated size, measured up to about 9,000 times for repetitive typing; the floor covers
//! every seed and the small inputs fuzzers make.)
//!
//! Invariant: `live` is the sum of the sizes of the allocations not yet freed (made through this
//! allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Live bytes past which the process aborts, whatever the input: 64 MiB.
pub const CAP: usize = 64 << 20;

/// Bytes any one input may allocate, however small: 16 MiB.
pub const FLOOR: usize = 16 << 20;

/// Bytes an input may allocate per byte of its own, above [`FLOOR`].
pub const BLOW_UP: usize = 10;

/// Counts live heap bytes and aborts past [`CAP`]; see the [module docs](self).
pub struct CappedAllocator {
    live: AtomicUsize,
    peak: AtomicUsize,
    /// Live bytes past which the process aborts (starts at [`CAP`]).
    limit: AtomicUsize,
}

impl CappedAllocator {
    /// A fresh allocator (for a `#[global_allocator]` static).
    pub const fn new() -> Self {
        CappedAllocator {
            live: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            limit: AtomicUsize::new(CAP),
        }
    }

    /// Announces an input of `len` bytes: from now on the process aborts once more than
    /// [`FLOOR`] + [`BLOW_UP`] × `len` bytes are live above the bytes live now (and never past
    /// [`CAP`] in all).
    pub fn begin_input(&self, len: usize) {
        let allowed = FLOOR.saturating_add(len.saturating_mul(BLOW_UP));
        let limit = self.live().saturating_add(allowed).min(CAP);
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Bytes allocated and not freed.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// The highest `live` since the last [`CappedAllocator::reset_peak`].
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Starts measuring the peak from the current live bytes.
    pub fn reset_peak(&self) {
        self.peak.store(self.live(), Ordering::Relaxed);
    }

    fn grow(&self, by: usize) {
        let now = self
            .live
            .fetch_add(by, Ordering::Relaxed)
            .saturating_add(by);
        self.peak.fetch_max(now, Ordering::Relaxed);
        if now > self.limit.load(Ordering::Relaxed) {
            // No allocation here: stderr is unbuffered and the message is static.
            let _ = std::io::stderr().write_all(
                b"\ncapped allocator: past 16 MiB + 10x the input (or 64 MiB); a length was trusted\n",
            );
            std::process::abort();
        }
    }

    fn shrink(&self, by: usize) {
        self.live.fetch_sub(by, Ordering::Relaxed);
    }
}

impl Default for CappedAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the counting
// around it touches only atomics and never the memory handed out.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.grow(layout.size());
        // SAFETY: forwarded as received; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.grow(layout.size());
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.shrink(layout.size());
        // SAFETY: `ptr` came from `System` with this layout (every allocation goes through it).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            self.grow(new_size - layout.size());
        } else {
            self.shrink(layout.size() - new_size);
        }
        // SAFETY: as in `dealloc`; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
