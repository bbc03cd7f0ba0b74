//! A global allocator that counts live heap bytes, to measure the memory a document holds.
//!
//! Invariant: while counting is enabled, `live_bytes()` rises by the size of every allocation and
//! falls by the size of every deallocation made through it (reallocation counts the difference).
//! Counting is off by default so that timing runs pay only one relaxed load per allocation.
//! A binary opts in with `#[global_allocator] static A: CountingAllocator = CountingAllocator;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

static LIVE: AtomicIsize = AtomicIsize::new(0);
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The system allocator, plus a count of live bytes while [`measure_retained`] runs.
pub struct CountingAllocator;

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc`
// contract; the counter is only bookkeeping and never touches the memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() && ENABLED.load(Ordering::Relaxed) {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() && ENABLED.load(Ordering::Relaxed) {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        if ENABLED.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() && ENABLED.load(Ordering::Relaxed) {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        new
    }
}

/// Runs `build` with counting on and returns its result with the heap bytes it left allocated
/// (bytes live after minus before; memory freed during `build` that was allocated before counts
/// negative). Meaningful only in a binary whose global allocator is [`CountingAllocator`] and
/// while no other thread allocates; returns 0 bytes otherwise.
pub fn measure_retained<T>(build: impl FnOnce() -> T) -> (T, isize) {
    let before = LIVE.load(Ordering::SeqCst);
    ENABLED.store(true, Ordering::SeqCst);
    let value = build();
    ENABLED.store(false, Ordering::SeqCst);
    let after = LIVE.load(Ordering::SeqCst);
    (value, after - before)
}

/// Whether this binary's global allocator is [`CountingAllocator`] (checked by counting one
/// allocation).
pub fn is_installed() -> bool {
    let (probe, retained) = measure_retained(|| std::hint::black_box(Box::new([0u8; 64])));
    drop(probe);
    retained >= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_through_the_allocator_interface() {
        // The test binary's global allocator is the system one, so drive ours directly.
        let a = CountingAllocator;
        let layout = Layout::from_size_align(1000, 8).unwrap();
        let ((), retained) = measure_retained(|| unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            let p = a.realloc(p, layout, 3000);
            assert!(!p.is_null());
            let keep = a.alloc(Layout::from_size_align(24, 8).unwrap());
            assert!(!keep.is_null());
            a.dealloc(p, Layout::from_size_align(3000, 8).unwrap());
            // `keep` is leaked on purpose: 24 bytes stay live.
        });
        assert_eq!(retained, 24);
    }

    #[test]
    fn not_installed_in_the_test_binary() {
        assert!(!is_installed());
    }
}
