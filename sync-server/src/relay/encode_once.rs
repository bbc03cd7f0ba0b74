//! [`EncodeOnce`]: the room's document as every peer's session sees it during one fan-out, with
//! each distinct "changes since" encoded once.
//!
//! When a change arrives, every other peer's [`crdt_core::sync::SyncSession`] asks the document
//! for the changes it has not sent that peer yet. Peers that were in sync all ask for the same
//! thing (the changes since the version before the new change), so a room of ten encodes the same
//! bytes nine times, plus once more for the store. Under load that encoding was a fifth of the
//! relay's CPU time. This view answers repeated questions from a small memo instead.
//!
//! Invariant: the memo only holds encodings of the document as it is now; `apply_changes`
//! clears it, so an answer is always what the document itself would answer.

use std::cell::RefCell;

use crdt_core::sync::SyncDoc;
use crdt_core::{Doc, VersionVector};

/// Most distinct versions remembered (peers lagging in different ways are rare; past this the
/// view encodes without remembering).
const MAX_REMEMBERED: usize = 8;

/// A [`SyncDoc`] over a borrowed [`Doc`] that encodes each distinct `since` once.
pub(crate) struct EncodeOnce<'a> {
    doc: &'a mut Doc,
    version: VersionVector,
    encoded: RefCell<Vec<(VersionVector, Vec<u8>)>>,
}

impl<'a> EncodeOnce<'a> {
    /// A view of `doc` as it is now.
    pub fn new(doc: &'a mut Doc) -> Self {
        let version = doc.version();
        EncodeOnce {
            doc,
            version,
            encoded: RefCell::new(Vec::new()),
        }
    }

    /// Records that `bytes` are the document's changes since `since` (encoded by the caller, for
    /// the store), so sessions asking the same are answered without encoding again.
    pub fn remember(&self, since: VersionVector, bytes: Vec<u8>) {
        let mut encoded = self.encoded.borrow_mut();
        if encoded.len() < MAX_REMEMBERED && !encoded.iter().any(|(v, _)| *v == since) {
            encoded.push((since, bytes));
        }
    }
}

impl SyncDoc for EncodeOnce<'_> {
    type Error = <Doc as SyncDoc>::Error;

    fn version(&self) -> VersionVector {
        self.version.clone()
    }

    fn encode_changes_since(&self, since: &VersionVector) -> Vec<u8> {
        if let Some((_, bytes)) = self.encoded.borrow().iter().find(|(v, _)| v == since) {
            return bytes.clone();
        }
        let bytes = self.doc.encode_changes_since(since);
        self.remember(since.clone(), bytes.clone());
        bytes
    }

    fn apply_changes(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        let applied = SyncDoc::apply_changes(&mut *self.doc, bytes);
        self.version = self.doc.version();
        self.encoded.get_mut().clear();
        applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crdt_core::sync::{DocId, Message, SyncSession};

    fn doc_with(replica: u64, text: &str) -> Doc {
        let mut doc = Doc::with_replica(crdt_core::ReplicaId(replica));
        doc.text("t").insert(0, text).unwrap();
        doc.commit();
        doc
    }

    #[test]
    fn answers_like_the_document_and_encodes_each_since_once() {
        let mut doc = doc_with(1, "hello");
        let empty = VersionVector::default();
        let plain = doc.encode_changes_since(&empty);
        let now = doc.version();
        let view = EncodeOnce::new(&mut doc);
        assert_eq!(SyncDoc::version(&view), now);
        assert_eq!(view.encode_changes_since(&empty), plain);
        assert_eq!(view.encode_changes_since(&empty), plain);
        assert_eq!(view.encoded.borrow().len(), 1);
        assert!(view.encode_changes_since(&now).len() < plain.len());
        assert_eq!(view.encoded.borrow().len(), 2);
    }

    #[test]
    fn applying_changes_forgets_what_was_encoded() {
        let mut doc = doc_with(1, "ab");
        let other = doc_with(2, "xyz");
        let empty = VersionVector::default();
        let mut view = EncodeOnce::new(&mut doc);
        let before = view.encode_changes_since(&empty);
        view.apply_changes(&other.encode_changes_since(&empty))
            .unwrap();
        let after = view.encode_changes_since(&empty);
        assert_ne!(after, before);
        assert_eq!(SyncDoc::version(&view), doc.version());
        assert_eq!(after, doc.encode_changes_since(&empty));
    }

    #[test]
    fn sessions_fed_from_the_view_bring_peers_level() {
        // Three peers in sync with the relay's document; a change arrives; each session's
        // answer through the view carries the same bytes a plain document would give.
        let id = DocId::new("room").unwrap();
        let mut relay = Doc::new();
        let mut sessions: Vec<SyncSession> = (0..3).map(|_| SyncSession::new(id.clone())).collect();
        for s in &mut sessions {
            s.connect(&relay);
            let hello = Message::Hello {
                doc: id.clone(),
                version: VersionVector::default(),
            };
            s.receive(&mut relay, hello).unwrap();
        }
        let before = relay.version();
        let change = doc_with(9, "typed").encode_changes_since(&before);
        relay.apply_changes(&change).unwrap();
        let plain = relay.encode_changes_since(&before);
        let view = EncodeOnce::new(&mut relay);
        view.remember(before, plain.clone());
        for s in &mut sessions {
            let out = s.on_local_change(&view);
            let [Message::Changes { bytes, .. }] = out.as_slice() else {
                panic!("expected one Changes message, got {out:?}");
            };
            assert_eq!(*bytes, plain);
        }
        assert_eq!(view.encoded.borrow().len(), 1);
    }
}
