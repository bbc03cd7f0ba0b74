//! The names of everything the cluster keeps in Redis, in one place, so the store, the
//! subscriber and the heartbeat agree on them.
//!
//! Invariant: names never collide across documents. A per-document name is
//! `sync:doc:{id}:{suffix}` with a suffix free of `:`, so two equal names of documents `a != b`
//! would need one id to be the other plus `:{x}` with `{x}:{suffix1} == {suffix2}`, impossible
//! when suffixes hold no `:`. Ids are `[A-Za-z0-9._~:/-]` (see [`DocId`]), safe in key names.

use crdt_core::sync::DocId;

use super::NodeId;

/// Sorted set: each document scored by its change batches since its last snapshot.
pub const BACKLOG: &str = "sync:backlog";

/// Stream: the document's change log (entry id `0-{seq}`, fields `n` node, `b` batch).
pub fn log(doc: &DocId) -> String {
    format!("sync:doc:{doc}:log")
}

/// Counter the document's sequence numbers come from.
pub fn counter(doc: &DocId) -> String {
    format!("sync:doc:{doc}:seq")
}

/// Hash: the document's latest snapshot (`upto`, `bytes`).
pub fn snapshot(doc: &DocId) -> String {
    format!("sync:doc:{doc}:snap")
}

/// Pub/sub channel of the document's [`super::ClusterEvent`]s.
pub fn channel(doc: &DocId) -> String {
    format!("sync:doc:{doc}:events")
}

/// The document a channel belongs to, if it is one of [`channel`]'s names.
pub fn doc_of_channel(channel: &str) -> Option<DocId> {
    let id = channel.strip_prefix("sync:doc:")?.strip_suffix(":events")?;
    DocId::new(id).ok()
}

/// Key that exists (with a time to live) while the node is alive.
pub fn heartbeat(node: NodeId) -> String {
    format!("sync:node:{}", node.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_name_their_document() {
        let doc = DocId::new("a:b/c").unwrap();
        assert_eq!(doc_of_channel(&channel(&doc)), Some(doc.clone()));
        assert_eq!(doc_of_channel(&log(&doc)), None);
        assert_eq!(doc_of_channel("other"), None);
        assert_eq!(heartbeat(NodeId(5)), "sync:node:5");
    }
}
