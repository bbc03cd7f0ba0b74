//! The [`Text`] type; its documentation (why it is built this way) is on the type, which
//! the crate root exports.

use std::fmt;

use crate::clock::{ReplicaId, VersionVector};
use crate::seq::{Assoc, Cursor, Replicated, SeqError, TextContent};

/// Errors of [`Text`] operations and decoding (the sequence engine's error type).
pub type TextError = SeqError;

/// A collaborative text.
///
/// [`Text`]: a standalone collaborative text, the sequence engine (`crate::seq`, FugueMax) over
/// characters, with its own replica id, version vector and op history, and a sync pair
/// ([`Text::encode_ops_since`] / [`Text::apply_encoded`]).
///
/// Positions count Unicode scalar values (Rust `char`s). Editors and JavaScript count UTF-16
/// code units: use the `*_utf16` methods, which convert in O(log n) because the tree tracks
/// UTF-16 lengths. Invariant: the text is the same on every replica that applied the same ops, in
/// any causal order; a failed call changes nothing.
///
/// ```
/// use crdt_core::{ReplicaId, Text, VersionVector};
///
/// let mut alice = Text::new(ReplicaId::new(1));
/// let mut bob = Text::new(ReplicaId::new(2));
/// alice.insert(0, "Hello!").unwrap();
/// bob.apply_encoded(&alice.encode_ops_since(bob.version())).unwrap();
/// // Concurrent edits.
/// alice.insert(5, ", world").unwrap();
/// bob.delete(5, 1).unwrap();
/// bob.insert(5, "?").unwrap();
/// let (from_alice, from_bob) = (alice.encode_ops_since(bob.version()), bob.encode_ops_since(alice.version()));
/// bob.apply_encoded(&from_alice).unwrap();
/// alice.apply_encoded(&from_bob).unwrap();
/// assert_eq!(alice.to_string(), "Hello, world?");
/// assert_eq!(bob.to_string(), alice.to_string());
/// ```
#[derive(Clone, Debug)]
pub struct Text {
    inner: Replicated<TextContent>,
    /// Reused buffer for inserted strings: no allocation per keystroke.
    scratch: TextContent,
}

impl Text {
    /// An empty text edited by `replica`.
    pub fn new(replica: ReplicaId) -> Self {
        Text {
            inner: Replicated::new(replica),
            scratch: TextContent::default(),
        }
    }

    /// This replica's id.
    pub fn replica(&self) -> ReplicaId {
        self.inner.replica()
    }

    /// Inserts `s` before char position `pos`.
    pub fn insert(&mut self, pos: usize, s: &str) -> Result<(), TextError> {
        self.scratch.clear();
        self.scratch.push_str(s);
        self.inner.insert(pos, &self.scratch)
    }

    /// Deletes `len` chars starting at char position `pos`.
    pub fn delete(&mut self, pos: usize, len: usize) -> Result<(), TextError> {
        self.inner.delete(pos, len)
    }

    /// Inserts `s` at UTF-16 offset `utf16_pos`.
    pub fn insert_utf16(&mut self, utf16_pos: usize, s: &str) -> Result<(), TextError> {
        let pos = self.utf16_to_pos(utf16_pos)?;
        self.insert(pos, s)
    }

    /// Deletes the UTF-16 range `utf16_pos..utf16_pos+utf16_len` (both ends must fall between
    /// chars).
    pub fn delete_utf16(&mut self, utf16_pos: usize, utf16_len: usize) -> Result<(), TextError> {
        let start = self.utf16_to_pos(utf16_pos)?;
        let end_utf16 = utf16_pos
            .checked_add(utf16_len)
            .ok_or(SeqError::InvalidUtf16Offset(usize::MAX))?;
        let end = self.utf16_to_pos(end_utf16)?;
        self.delete(start, end - start)
    }

    /// Length in chars.
    pub fn len(&self) -> usize {
        self.inner.sequence().len()
    }

    /// True when the text is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Length in UTF-16 code units.
    pub fn utf16_len(&self) -> usize {
        self.inner.sequence().utf16_len()
    }

    /// Char position of UTF-16 offset `utf16` (O(log n)).
    pub fn utf16_to_pos(&self, utf16: usize) -> Result<usize, TextError> {
        self.inner.sequence().utf16_to_pos(utf16)
    }

    /// UTF-16 offset of char position `pos` (O(log n)).
    pub fn pos_to_utf16(&self, pos: usize) -> Result<usize, TextError> {
        self.inner.sequence().pos_to_utf16(pos)
    }

    /// The chars `start..end` (clamped to the length).
    pub fn slice(&self, start: usize, end: usize) -> String {
        self.inner.sequence().slice(start, end).into_string()
    }

    /// The text as string chunks, in order, without copying.
    pub fn chunks(&self) -> impl Iterator<Item = &str> + '_ {
        self.inner.sequence().iter().map(TextContent::as_str)
    }

    /// A stable cursor at char position `pos`.
    pub fn cursor_at(&self, pos: usize, assoc: Assoc) -> Cursor {
        self.inner.sequence().cursor_at(pos, assoc)
    }

    /// Current char position of `cursor`; `None` if its anchor is unknown here.
    pub fn resolve_cursor(&self, cursor: &Cursor) -> Option<usize> {
        self.inner.sequence().resolve_cursor(cursor)
    }

    /// Every op applied here, as a version vector.
    pub fn version(&self) -> &VersionVector {
        self.inner.version()
    }

    /// The ops a replica at `since` lacks, encoded (MessagePack; bursts of typing are one op).
    pub fn encode_ops_since(&self, since: &VersionVector) -> Vec<u8> {
        self.inner.encode_ops_since(since)
    }

    /// Applies ops from [`Text::encode_ops_since`]; skips those already here. Returns the number
    /// of op runs applied. All-or-nothing: on error nothing changed.
    pub fn apply_encoded(&mut self, bytes: &[u8]) -> Result<usize, TextError> {
        self.inner.apply_encoded(bytes)
    }

    /// Full snapshot (state and history), for storage.
    pub fn encode_state(&self) -> Vec<u8> {
        self.inner.encode_state()
    }

    /// Loads a snapshot from [`Text::encode_state`], validating it; rebuilds without replaying.
    pub fn decode_state(bytes: &[u8]) -> Result<Text, TextError> {
        Ok(Text {
            inner: Replicated::decode_state(bytes)?,
            scratch: TextContent::default(),
        })
    }

    /// Approximate heap bytes (state and history).
    pub fn heap_size(&self) -> usize {
        self.inner.heap_size(content_bytes)
    }

    /// Approximate heap bytes of the history alone.
    pub fn history_heap_size(&self) -> usize {
        self.inner.history_heap_size()
    }

    /// The replicated sequence underneath (state, history).
    pub fn replicated(&self) -> &Replicated<TextContent> {
        &self.inner
    }
}

/// Heap bytes of a leaf's text: its allocation, so over-allocation shows.
fn content_bytes(c: &TextContent) -> usize {
    c.capacity()
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.chunks() {
            f.write_str(chunk)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(id: u64) -> Text {
        Text::new(ReplicaId::new(id))
    }

    fn sync(a: &mut Text, b: &mut Text) {
        let to_b = a.encode_ops_since(b.version());
        let to_a = b.encode_ops_since(a.version());
        b.apply_encoded(&to_b).unwrap();
        a.apply_encoded(&to_a).unwrap();
    }

    #[test]
    fn edits_and_views() {
        let mut a = t(1);
        a.insert(0, "héllo").unwrap();
        a.insert(5, " 😀 world").unwrap();
        assert_eq!(a.to_string(), "héllo 😀 world");
        assert_eq!((a.len(), a.utf16_len()), (13, 14));
        assert_eq!(a.slice(1, 5), "éllo");
        assert_eq!(a.slice(10, 99), "rld");
        a.delete(0, 1).unwrap();
        assert_eq!(a.to_string(), "éllo 😀 world");
        assert!(a.delete(10, 5).is_err());
        assert!(a.insert(99, "x").is_err());
        a.insert(3, "").unwrap();
        assert!(a.insert(99, "").is_err());
        assert_eq!(a.to_string(), "éllo 😀 world");
        // UTF-16: the emoji is 2 units.
        assert_eq!(a.pos_to_utf16(6), Ok(7));
        a.insert_utf16(7, "!").unwrap();
        assert_eq!(a.to_string(), "éllo 😀! world");
        a.delete_utf16(5, 2).unwrap();
        assert_eq!(a.to_string(), "éllo ! world");
        assert!(a.delete_utf16(0, usize::MAX).is_err());
        let mut b = t(2);
        b.insert(0, "a😀").unwrap();
        assert_eq!(b.delete_utf16(1, 1), Err(SeqError::InvalidUtf16Offset(2)));
        assert_eq!(b.to_string(), "a😀");
    }

    #[test]
    fn sync_is_incremental_and_idempotent() {
        let mut a = t(1);
        let mut b = t(2);
        for (i, ch) in "typing".chars().enumerate() {
            a.insert(i, &ch.to_string()).unwrap();
        }
        assert_eq!(
            a.replicated().history_runs(),
            1,
            "typing is one history entry"
        );
        let all = a.encode_ops_since(&VersionVector::new());
        assert_eq!(b.apply_encoded(&all), Ok(1));
        assert_eq!(b.apply_encoded(&all), Ok(0), "duplicates skipped");
        assert_eq!(b.to_string(), "typing");
        a.delete(5, 1).unwrap();
        a.delete(4, 1).unwrap();
        a.delete(3, 1).unwrap();
        assert_eq!(a.replicated().history_runs(), 2, "backspaces are one entry");
        let since = a.encode_ops_since(b.version());
        assert!(since.len() < all.len() + 16);
        assert_eq!(b.apply_encoded(&since), Ok(1));
        assert_eq!(b.to_string(), "typ");
        assert_eq!(a.version(), b.version());
        // A peer that has part of a run gets only the rest.
        let mut c = t(3);
        let mut partial = t(1);
        partial.insert(0, "typ").unwrap();
        c.apply_encoded(&partial.encode_ops_since(c.version()))
            .unwrap();
        assert_eq!(c.apply_encoded(&a.encode_ops_since(c.version())), Ok(2));
        assert_eq!(c.to_string(), "typ");
    }

    #[test]
    fn hostile_and_out_of_order_batches_change_nothing() {
        let mut a = t(1);
        a.insert(0, "abc").unwrap();
        let first = a.encode_ops_since(&VersionVector::new());
        let v1 = a.version().clone();
        a.insert(3, "def").unwrap();
        let second = a.encode_ops_since(&v1);
        let mut b = t(2);
        assert!(matches!(
            b.apply_encoded(&second),
            Err(SeqError::MissingDependency { .. })
        ));
        assert_eq!(
            (b.to_string(), b.version().clone()),
            (String::new(), VersionVector::new())
        );
        assert!(b.apply_encoded(&[]).is_err());
        assert!(b.apply_encoded(&[0x93, 0x01]).is_err());
        for cut in 0..first.len() {
            assert!(b.apply_encoded(&first[..cut]).is_err());
        }
        for i in 0..second.len() {
            let mut bad = second.clone();
            bad[i] ^= 0x5a;
            let mut c = b.clone();
            let _ = c.apply_encoded(&bad);
        }
        assert_eq!(b.to_string(), "");
        b.apply_encoded(&first).unwrap();
        b.apply_encoded(&second).unwrap();
        assert_eq!(b.to_string(), "abcdef");
    }

    #[test]
    fn failed_batch_is_atomic() {
        // A valid insert followed by a delete of an unknown element: nothing applies.
        let mut evil = t(1);
        evil.insert(0, "xy").unwrap();
        evil.delete(0, 1).unwrap();
        let good = evil.encode_ops_since(&VersionVector::new());
        // The same batch with the delete pointed at a missing element (counter 9).
        let one = |c| crate::Dot::new(ReplicaId::new(1), c);
        let mut enc = crate::seq::ops_format::OpsEncoder::<TextContent>::default();
        enc.insert(one(1), None, None, 1, None);
        enc.insert(one(2), Some(one(1)), None, 1, Some(&"y".into()));
        enc.delete(one(3), 1, one(1), false);
        assert_eq!(
            enc.finish(),
            good,
            "the hand-made batch matches the real one"
        );
        let mut enc = crate::seq::ops_format::OpsEncoder::<TextContent>::default();
        enc.insert(one(1), None, None, 1, None);
        enc.insert(one(2), Some(one(1)), None, 1, Some(&"y".into()));
        enc.delete(one(3), 1, one(9), false);
        let bytes = enc.finish();
        let mut b = t(2);
        assert_eq!(
            b.apply_encoded(&bytes),
            Err(SeqError::UnknownId(crate::Dot::new(ReplicaId::new(1), 9)))
        );
        assert_eq!(b.to_string(), "");
        assert!(b.version().is_empty());
        b.apply_encoded(&good).unwrap();
        assert_eq!(b.to_string(), "y");
    }

    /// A replayed editing session (typing, backspacing, moving about, a second replica's
    /// concurrent edits).
    fn edited(edits: usize) -> Text {
        let (mut a, mut b) = (t(1), t(2));
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n.max(1) as u64) as usize
        };
        let mut cursor = 0;
        for i in 0..edits {
            let (doc, other) = if i % 97 < 90 {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            if rand(10) == 0 {
                cursor = rand(doc.len() + 1);
            }
            cursor = cursor.min(doc.len());
            if rand(5) == 0 && cursor > 0 {
                doc.delete(cursor - 1, 1).unwrap();
                cursor -= 1;
            } else {
                doc.insert(cursor, if rand(20) == 0 { "é" } else { "x" })
                    .unwrap();
                cursor += 1;
            }
            if i % 500 == 0 {
                sync(doc, other);
            }
        }
        sync(&mut a, &mut b);
        a
    }

    #[test]
    fn loaded_snapshot_is_as_small_in_memory_as_the_replayed_text() {
        let replayed = edited(20_000);
        let loaded = Text::decode_state(&replayed.encode_state()).unwrap();
        assert_eq!(loaded.to_string(), replayed.to_string());
        assert_eq!(loaded.version(), replayed.version());
        let (r, l) = (replayed.heap_size(), loaded.heap_size());
        assert!(
            l * 2 <= r * 3,
            "loaded text holds {l} bytes, replayed {r}: more than 1.5x"
        );
        // And a copy merged from the full history converges to the same text.
        let mut merged = t(3);
        merged
            .apply_encoded(&replayed.encode_ops_since(&VersionVector::new()))
            .unwrap();
        assert_eq!(merged.to_string(), replayed.to_string());
        assert_eq!(merged.version(), replayed.version());
    }

    #[test]
    fn history_omits_deleted_content_and_resyncs_through_a_third_peer() {
        let mut a = t(1);
        a.insert(0, "hello cruel world").unwrap();
        a.delete(5, 6).unwrap();
        let all = a.encode_ops_since(&VersionVector::new());
        assert!(
            !all.windows(5).any(|w| w == b"cruel"),
            "deleted text is not sent"
        );
        let mut b = t(2);
        b.apply_encoded(&all).unwrap();
        assert_eq!(b.to_string(), "hello world");
        // b never saw the deleted text, yet can catch a third replica up, and its snapshot too.
        let mut c = t(3);
        c.apply_encoded(&b.encode_ops_since(c.version())).unwrap();
        assert_eq!(c.to_string(), "hello world");
        let d = Text::decode_state(&b.encode_state()).unwrap();
        let mut e = t(5);
        e.apply_encoded(&d.encode_ops_since(e.version())).unwrap();
        assert_eq!(e.to_string(), "hello world");
        assert_eq!(e.version(), a.version());
    }

    /// Hostile bytes for the op batch and snapshot decoders: truncations, bit flips, random
    /// bytes, huge claimed counts and decompression bombs are errors (or consistent documents),
    /// never panics, and leave the target unchanged.
    #[test]
    fn hostile_columnar_inputs() {
        use crate::encoding::FormatError;
        let doc = edited(600);
        let ops = doc.encode_ops_since(&VersionVector::new());
        let snap = doc.encode_state();
        assert_eq!(ops[1], 1, "this history is deflated");
        let target = t(9);
        let check_ops = |bytes: &[u8]| {
            let mut c = target.clone();
            if c.apply_encoded(bytes).is_err() {
                assert_eq!(c.to_string(), "");
                assert!(c.version().is_empty());
            }
        };
        let check_snap = |bytes: &[u8]| {
            if let Ok(t) = Text::decode_state(bytes) {
                // Whatever loads is a working document.
                let mut u = t.clone();
                u.insert(0, "z").unwrap();
                assert_eq!(u.len(), t.len() + 1);
            }
        };
        for cut in 0..ops.len() {
            assert!(target.clone().apply_encoded(&ops[..cut]).is_err());
        }
        for cut in 0..snap.len() {
            assert!(Text::decode_state(&snap[..cut]).is_err(), "cut {cut}");
        }
        for i in 0..ops.len().max(snap.len()) {
            for bit in [0x01u8, 0x10, 0x80] {
                if i < ops.len() {
                    let mut bad = ops.clone();
                    bad[i] ^= bit;
                    check_ops(&bad);
                }
                if i < snap.len() {
                    let mut bad = snap.clone();
                    bad[i] ^= bit;
                    check_snap(&bad);
                }
            }
        }
        let mut x = 0xdead_beef_1234_5678u64;
        for len in 0..300usize {
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    match i {
                        0 => 2,
                        1 => (x % 2) as u8,
                        _ => (x >> 32) as u8,
                    }
                })
                .collect();
            check_ops(&bytes);
            check_snap(&bytes);
        }
        // Huge claimed counts: refused before allocating.
        let mut huge = vec![2u8, 0, 1];
        huge.extend_from_slice(&1u64.to_le_bytes());
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        assert!(matches!(
            target.clone().apply_encoded(&huge),
            Err(SeqError::Format(FormatError::CountTooLarge { .. }))
        ));
        // A decompression bomb.
        let mut bomb = vec![2u8, 1];
        bomb.extend(miniz_oxide::deflate::compress_to_vec(
            &vec![0u8; 8 << 20],
            10,
        ));
        assert!(matches!(
            target.clone().apply_encoded(&bomb),
            Err(SeqError::Format(FormatError::InflateLimit(_)))
        ));
        let mut snap_bomb = vec![2u8];
        snap_bomb.extend_from_slice(&1u64.to_le_bytes());
        crate::encoding::column::put_bytes(&mut snap_bomb, &bomb);
        assert!(matches!(
            Text::decode_state(&snap_bomb),
            Err(SeqError::Format(FormatError::InflateLimit(_)))
        ));
    }

    #[test]
    fn snapshot_keeps_syncing() {
        let mut a = t(1);
        let mut b = t(2);
        a.insert(0, "hello world").unwrap();
        sync(&mut a, &mut b);
        b.insert(5, ",").unwrap();
        a.delete(0, 1).unwrap();
        sync(&mut a, &mut b);
        let snap = a.encode_state();
        let mut c = Text::decode_state(&snap).unwrap();
        assert_eq!(c.to_string(), "ello, world");
        assert_eq!(c.version(), a.version());
        c.insert(0, "J").unwrap();
        let mut d = t(4);
        d.apply_encoded(&c.encode_ops_since(d.version())).unwrap();
        assert_eq!(d.to_string(), "Jello, world");
        for cut in 0..snap.len() {
            assert!(Text::decode_state(&snap[..cut]).is_err());
        }
        for i in 0..snap.len() {
            let mut bad = snap.clone();
            bad[i] = bad[i].wrapping_add(1);
            if let Ok(x) = Text::decode_state(&bad) {
                let _ = x.to_string();
            }
        }
    }

    #[test]
    fn cursors() {
        let mut a = t(1);
        let mut b = t(2);
        a.insert(0, "abcd").unwrap();
        sync(&mut a, &mut b);
        let c = a.cursor_at(2, Assoc::After);
        b.insert(0, "__").unwrap();
        b.insert(4, "X").unwrap();
        sync(&mut a, &mut b);
        assert_eq!(a.to_string(), "__abXcd");
        assert_eq!(a.resolve_cursor(&c), Some(5));
        assert_eq!(
            b.resolve_cursor(&c),
            Some(5),
            "cursors travel between replicas"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Random concurrent editing with random pairwise syncs converges once everyone syncs.
        #[test]
        fn texts_converge(script in prop::collection::vec((0usize..3, any::<usize>(), "[a-z😀]{0,4}", 0usize..4, 0usize..4), 1..40)) {
            let mut peers = vec![t(1), t(2), t(3)];
            for (who, pos, s, del, sync_with) in script {
                let p = &mut peers[who];
                let len = p.len();
                if del > 0 && len > 0 {
                    let at = pos % len;
                    p.delete(at, del.min(len - at)).unwrap();
                } else {
                    p.insert(pos % (len + 1), &s).unwrap();
                }
                if sync_with < 3 && sync_with != who {
                    let (x, y) = if who < sync_with { (who, sync_with) } else { (sync_with, who) };
                    let (l, r) = peers.split_at_mut(y);
                    sync(&mut l[x], &mut r[0]);
                }
            }
            for _ in 0..2 {
                for (x, y) in [(0, 1), (1, 2), (0, 2)] {
                    let (l, r) = peers.split_at_mut(y);
                    sync(&mut l[x], &mut r[0]);
                }
            }
            let s0 = peers[0].to_string();
            for p in &peers {
                prop_assert_eq!(p.to_string(), s0.clone());
                prop_assert_eq!(p.version(), peers[0].version());
            }
            let back = Text::decode_state(&peers[1].encode_state()).unwrap();
            prop_assert_eq!(back.to_string(), s0);
        }
    }
}
