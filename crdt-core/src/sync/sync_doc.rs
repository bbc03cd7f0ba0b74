//! [`SyncDoc`]: what the sync protocol needs of a document, and nothing more.
//!
//! The protocol never looks inside changes: it compares [`VersionVector`]s to decide *whether*
//! the other side lacks something, asks the document to encode exactly that, and hands received
//! bytes back to a document. The document owns causality (changes whose deps are missing wait
//! inside it, as in a [`crate::CausalBuffer`]) and idempotence (a change applied twice is applied
//! once). This is the same split as Automerge's `SyncDoc` trait between `sync.rs` and the
//! document.

use crate::clock::VersionVector;

/// What the protocol needs of a document.
///
/// Laws the protocol relies on (the session tests and the network simulator check them with a
/// test document; an implementation should pass the same simulator):
/// - `version()` covers exactly the applied changes and only grows;
/// - `apply_changes(encode_changes_since(v))` on any replica whose version is at least `v` brings it
///   to hold everything the encoder held (perhaps after other changes it waits on arrive);
/// - applying the same bytes twice, or in any order relative to other bytes, is the same as
///   applying them once in causal order.
pub trait SyncDoc {
    /// Error of [`apply_changes`](Self::apply_changes).
    type Error: std::error::Error + 'static;

    /// Everything applied so far (changes waiting for their causal past are not included).
    fn version(&self) -> VersionVector;

    /// Encoded changes not covered by `since`, in causal order (bytes as
    /// [`apply_changes`](Self::apply_changes) takes them).
    fn encode_changes_since(&self, since: &VersionVector) -> Vec<u8>;

    /// Applies encoded changes; idempotent; changes whose deps are missing wait inside the doc.
    fn apply_changes(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
}
