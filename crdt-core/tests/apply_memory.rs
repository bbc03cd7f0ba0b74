//! Applying a whole history holds little more than the document it builds: `apply_changes`
//! checks a batch in one pass and applies it in a second, decoding one change at a time, and
//! never holds all of its changes at once. (It once decoded the batch into a vector of
//! changes first: automerge-paper's history of one-keystroke commits then peaked at 63 MB, 242
//! bytes per change and 42 times the document it built, and wasm memory never shrinks.)
//! Through the sync protocol, which asks for no list of the applied changes, it holds no more
//! than the document.
//!
//! This file is its own test binary, with one test, because it installs a counting global
//! allocator: nothing else allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use crdt_core::sync::SyncDoc;
use crdt_core::{Doc, ReplicaId, VersionVector};

/// The system allocator, counting live bytes and their peak.
struct Counting {
    live: AtomicIsize,
    peak: AtomicIsize,
}

// SAFETY: forwards every call to `System` unchanged; the counting touches only atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = self
            .live
            .fetch_add(layout.size() as isize, Ordering::Relaxed);
        self.peak
            .fetch_max(live + layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.live
            .fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting {
    live: AtomicIsize::new(0),
    peak: AtomicIsize::new(0),
};

/// `run`'s result, the heap bytes it keeps, and the most it held at once, both counted from
/// what was live before it.
fn measured<T>(run: impl FnOnce() -> T) -> (T, isize, isize) {
    let before = ALLOC.live.load(Ordering::SeqCst);
    ALLOC.peak.store(before, Ordering::SeqCst);
    let value = run();
    let kept = ALLOC.live.load(Ordering::SeqCst) - before;
    (value, kept, ALLOC.peak.load(Ordering::SeqCst) - before)
}

/// The text of a new replica after `apply` took in a history, with the heap bytes the
/// replica keeps and the most that building it held at once (see [`measured`]).
fn joined_text(apply: impl FnOnce(&mut Doc)) -> (String, isize, isize) {
    let (mut doc, kept, peak) = measured(|| {
        let mut doc = Doc::with_replica(ReplicaId::new(8));
        apply(&mut doc);
        doc
    });
    (doc.text("body").to_string(), kept, peak)
}

#[test]
fn applying_a_history_of_keystroke_commits_peaks_near_the_document_it_builds() {
    const CHANGES: isize = 20_000;
    let mut typed = Doc::with_replica(ReplicaId::new(7));
    for i in 0..CHANGES as usize {
        let at = i % (i / 2 + 1);
        typed.text("body").insert(at, "x").unwrap();
        typed.commit();
    }
    let history = typed.encode_changes_since(&VersionVector::new());
    let typed_text = typed.text("body").to_string();
    let (text, kept, peak) = joined_text(|doc| {
        let outcome = doc.apply_changes(&history).unwrap();
        assert_eq!(outcome.applied.len(), CHANGES as usize);
    });
    assert_eq!(text, typed_text);
    // What may peak besides the document: the inflated batch, the list of applied change ids
    // the call returns (24 bytes each), and the change being applied: 2.1 MB here. Holding
    // every change at once peaked at 4.8 MB, and growing the list by doubling at 2.5 MB.
    assert!(
        peak <= kept + 40 * CHANGES,
        "applying {CHANGES} changes peaked at {peak} B to keep {kept} B"
    );
    // Through the sync protocol's entry (what the relay, `SyncClient` and the browser's
    // session call), which lists no applied ids: the peak is the document built, within a
    // kilobyte here. Listing them would add 480 KB.
    let (text, kept, peak) = joined_text(|doc| SyncDoc::apply_changes(doc, &history).unwrap());
    assert_eq!(text, typed_text);
    assert!(
        peak <= kept + 8 * CHANGES,
        "syncing {CHANGES} changes peaked at {peak} B to keep {kept} B"
    );
}
