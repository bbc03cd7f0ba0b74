//! A global allocator that counts live heap bytes, to measure the memory a document holds.
//!
//! Invariant: while a thread runs [`measure_retained`], its count rises by the size of every
//! allocation and falls by the size of every deallocation that thread makes through the allocator
//! (reallocation counts the difference). The switch and the count belong to the thread, not the
//! process: two measurements on two threads (two tests run in parallel, say) never see or turn
//! off each other's counting, and allocations of other threads never enter a measurement.
//! Counting is off by default so that timing runs pay only one thread-local read per allocation.
//! A binary opts in with `#[global_allocator] static A: CountingAllocator = CountingAllocator;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Whether this thread is inside [`measure_retained`].
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Bytes this thread allocated minus bytes it freed while counting.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

/// Adds `bytes` to this thread's count when it is counting. `try_with`, because the allocator
/// also runs while a thread's locals are being destroyed (nothing is counted then); the cells
/// are `const`-initialised and own no heap memory, so this never allocates.
fn count(bytes: isize) {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = LIVE.try_with(|live| live.set(live.get() + bytes));
    }
}

/// The system allocator, plus a count of live bytes while [`measure_retained`] runs.
pub struct CountingAllocator;

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc`
// contract; the counter is only bookkeeping and never touches the memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        new
    }
}

/// Runs `build` with counting on for the calling thread and returns its result with the heap
/// bytes it left allocated (bytes live after minus before; memory freed during `build` that was
/// allocated before counts negative). Only allocations the calling thread makes count, so a
/// `build` that allocates on other threads is under-counted. Meaningful only in a binary whose
/// global allocator is [`CountingAllocator`]; returns 0 bytes otherwise.
pub fn measure_retained<T>(build: impl FnOnce() -> T) -> (T, isize) {
    let before = LIVE.with(Cell::get);
    let was_counting = COUNTING.with(|c| c.replace(true));
    let value = build();
    COUNTING.with(|c| c.set(was_counting));
    let after = LIVE.with(Cell::get);
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

    /// The race a fresh machine once hit: one thread's measurement ending (as
    /// `not_installed_in_the_test_binary` does) must not switch off another's counting.
    #[test]
    fn measurements_on_two_threads_do_not_switch_each_other_off() {
        let a = CountingAllocator;
        let layout = Layout::from_size_align(40, 8).unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            measure_retained(|| {
                ready_tx.send(()).unwrap();
                go_rx.recv().unwrap();
            })
        });
        let ((), retained) = measure_retained(|| unsafe {
            ready_rx.recv().unwrap();
            // The other thread's measurement starts and ends inside this one.
            go_tx.send(()).unwrap();
            other.join().unwrap();
            let p = a.alloc(layout);
            assert!(!p.is_null());
            // Leaked on purpose: 40 bytes stay live.
        });
        assert_eq!(retained, 40);
    }
}
