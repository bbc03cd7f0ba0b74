//! Issue #17, "decoding is bounded by what was received": the map-delete bomb (run-length ops
//! that cost no input byte, deflated, with zeros after the deflate stream) and its snapshot form
//! are refused with a typed error by `Doc::apply_changes` and `Doc::load`, allocating a bounded
//! multiple of the input (the old decoders took 797 MB for 61 KiB).
//!
//! This file is its own test binary because it installs a counting global allocator: no other
//! test shares it, and the tests here take one lock so their peaks do not mix.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crdt_core::fuzzing::bombs::{map_delete_bomb, snapshot_bomb};
use crdt_core::{DecodeError, FormatError};
use crdt_core::{Doc, DocError, ReplicaId};

/// The system allocator, counting live bytes and their peak.
struct Counting {
    live: AtomicUsize,
    peak: AtomicUsize,
}

// SAFETY: forwards every call to `System` unchanged; the counting touches only atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = self.live.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        self.peak.fetch_max(now, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.live.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting {
    live: AtomicUsize::new(0),
    peak: AtomicUsize::new(0),
};

/// Held while measuring, so two tests' allocations never share a peak.
static MEASURING: Mutex<()> = Mutex::new(());

/// Takes the measuring lock, for the whole of a test (building a bomb allocates too).
fn measuring() -> std::sync::MutexGuard<'static, ()> {
    MEASURING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f`, returning its result and the most bytes it had live at once (above the start).
/// Call with the [`measuring`] lock held.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = ALLOC.live.load(Ordering::Relaxed);
    ALLOC.peak.store(start, Ordering::Relaxed);
    let out = f();
    (out, ALLOC.peak.load(Ordering::Relaxed) - start)
}

/// The frame size of the native measurement (61 KiB took 797 MB).
const BOMB_BYTES: usize = 61 << 10;

/// What a refused bomb may allocate: the inflated body the ratio allows (64 times the input),
/// twice over while the output grows by doubling.
const BOUND: usize = 128 * BOMB_BYTES;

#[test]
fn a_map_delete_bomb_is_refused_by_apply_changes_with_bounded_allocation() {
    let _lock = measuring();
    let bomb = map_delete_bomb(BOMB_BYTES);
    let mut doc = Doc::with_replica(ReplicaId::new(7));
    doc.map("meta").set("title", "kept").unwrap();
    doc.commit();
    let before = doc.save();
    let (result, peak) = peak_of(|| doc.apply_changes(&bomb));
    println!(
        "apply_changes of a {} byte bomb: peak {peak} bytes",
        bomb.len()
    );
    assert_eq!(
        result,
        Err(DocError::Decode(DecodeError::Format(
            FormatError::TrailingBytes("deflate stream")
        )))
    );
    assert!(
        peak < BOUND,
        "peak {peak} bytes for {} received",
        bomb.len()
    );
    // The document is untouched and usable.
    assert_eq!(doc.save(), before);
    doc.map("meta").set("after", 1).unwrap();
    doc.commit();
}

#[test]
fn a_snapshot_whose_history_is_the_bomb_is_refused_by_load_with_bounded_allocation() {
    let _lock = measuring();
    let bomb = snapshot_bomb(BOMB_BYTES);
    let (result, peak) = peak_of(|| Doc::load(&bomb).map(|_| ()));
    println!("load of a {} byte bomb: peak {peak} bytes", bomb.len());
    assert_eq!(
        result,
        Err(DocError::Decode(DecodeError::Format(
            FormatError::TrailingBytes("deflate stream")
        )))
    );
    assert!(
        peak < BOUND,
        "peak {peak} bytes for {} received",
        bomb.len()
    );
}

/// Issue #14: a change whose commit message claims 2^60 bytes (the last column of a small,
/// stored batch, rewritten) is refused before anything is read or allocated for it; so is the
/// same claim in a whole history (the log's form, what a peer that holds nothing is sent),
/// whose commit metadata ends the body.
#[test]
fn a_commit_message_claiming_a_huge_length_is_refused_without_allocating_it() {
    let _lock = measuring();
    let mut author = Doc::with_replica(ReplicaId::new(1));
    author.text("body").insert(0, "x").unwrap();
    author.commit_with(Some("hi"), Some(1)).unwrap();
    // A peer that holds a replica the author never saw gets a change batch.
    let mut elsewhere = crdt_core::VersionVector::new();
    elsewhere.set(ReplicaId::new(99), 1);
    let batch = author.encode_changes_since(&elsewhere);
    let history = author.encode_changes_since(&crdt_core::VersionVector::new());
    assert_eq!((batch[4], history[4]), (b'C', b'H'));
    // The change batch ends with the message column: its length (3), the message's length
    // (2), "hi". The history ends with the message (1: present, its length 2, "hi") and the
    // time (1: present, 1).
    let forms: [(&[u8], &[u8], &[u8]); 2] = [
        (&batch, &[3, 2, b'h', b'i'], &[]),
        (&history, &[1, 2, b'h', b'i', 1, 1], &[1, 1]),
    ];
    for (honest, tail, after) in forms {
        assert_eq!(honest[7], 0, "a small batch is stored, not deflated");
        assert!(honest.ends_with(tail), "{honest:?}");
        let mut hostile = honest[..honest.len() - tail.len()].to_vec();
        let claim = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]; // 1 << 60 as a varint
        if after.is_empty() {
            // The column's length prefix covers the claim and the message.
            hostile.push((claim.len() + 2) as u8);
        } else {
            hostile.push(1);
        }
        hostile.extend_from_slice(&claim);
        hostile.extend_from_slice(b"hi");
        hostile.extend_from_slice(after);

        let mut doc = Doc::with_replica(ReplicaId::new(7));
        let (result, peak) = peak_of(|| doc.apply_changes(&hostile));
        assert!(
            matches!(
                result,
                Err(DocError::Decode(DecodeError::Format(FormatError::CountTooLarge { claimed, .. })))
                    if claimed == 1 << 60
            ),
            "{result:?}"
        );
        assert!(
            peak < 64 << 10,
            "peak {peak} bytes for {} received",
            hostile.len()
        );
        assert_eq!(doc.change_count(), 0);
        // The honest batch applies, message and time included.
        doc.apply_changes(honest).unwrap();
        assert_eq!(doc.history()[0].message.as_deref(), Some("hi"));
    }
}
