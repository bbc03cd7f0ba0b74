//! A loaded document holds no more memory than the one that made it: `Doc::load` decodes every
//! change into exact vectors, with no growth slack. (Decoding once pushed a change's ops into a
//! growing vector, so a one-op change kept room for four and a loaded document of one-keystroke
//! commits held 2.6 times the replayed one.)
//!
//! This file is its own test binary, with one test, because it installs a counting global
//! allocator: nothing else allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use crdt_core::{Doc, ReplicaId};

/// The system allocator, counting live bytes.
struct Counting(AtomicIsize);

// SAFETY: forwards every call to `System` unchanged; the counting touches only an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.0.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting(AtomicIsize::new(0));

/// Heap bytes that `build`'s result keeps.
fn retained<T>(build: impl FnOnce() -> T) -> (T, isize) {
    let before = ALLOC.0.load(Ordering::SeqCst);
    let value = build();
    (value, ALLOC.0.load(Ordering::SeqCst) - before)
}

#[test]
fn a_loaded_document_of_keystroke_commits_is_no_larger_than_the_one_that_made_it() {
    let (mut typed, typed_bytes) = retained(|| {
        let mut doc = Doc::with_replica(ReplicaId::new(7));
        for i in 0..20_000 {
            let at = i % (i / 2 + 1);
            doc.text("body").insert(at, "x").unwrap();
            doc.commit();
        }
        doc
    });
    let saved = typed.save();
    let (mut loaded, loaded_bytes) = retained(|| Doc::load(&saved).unwrap());
    assert_eq!(
        loaded.text("body").to_string(),
        typed.text("body").to_string()
    );
    assert!(
        loaded_bytes * 4 <= typed_bytes * 5,
        "loaded {loaded_bytes} B against {typed_bytes} B typed"
    );
}
