//! The shared-notes document, as the `cli` peer and the browser editor (`examples/web/editor`)
//! both see it: one text container named [`BODY`] holding the whole note, and presence states
//! that are JSON objects `{"name": str, "color": str, "cursor": ...}` (the editor puts stable
//! crdt cursors in `cursor`; the CLI has none and sends `null`).
//!
//! Invariant: the CLI only ever appends whole lines (text ending in `\n`) at the end of the body,
//! so lines typed in a terminal never split a word someone else is typing in a browser. This is
//! the layout of Yjs's and Automerge's text demos: one root text, awareness beside it.

use crdt_core::sync::PeerId;
use crdt_core::{ContainerId, ContainerKind, Materialized};
use crdt_core::{Doc, DocError};
use serde::{Deserialize, Serialize};

/// The name of the root text container that holds the note.
pub const BODY: &str = "body";

/// The note's text as it is now.
///
/// ```
/// use crdt_core::Doc;
/// let mut doc = Doc::new();
/// examples::notes::append_line(&mut doc, "milk").unwrap();
/// assert_eq!(examples::notes::body(&doc), "milk\n");
/// ```
pub fn body(doc: &Doc) -> String {
    match doc.materialize_container(&ContainerId::root(BODY, ContainerKind::Text)) {
        Materialized::Text(text) => text,
        // The root text is always a text; anything else means it was never written.
        _ => String::new(),
    }
}

/// Appends `line` and a newline at the end of the note, starting a new line first if the note
/// does not end with one. Does not commit.
pub fn append_line(doc: &mut Doc, line: &str) -> Result<(), DocError> {
    let mut text = doc.text(BODY);
    let len = text.len();
    let needs_break = len > 0 && !text.slice(len - 1, len)?.ends_with('\n');
    let mut insert = String::with_capacity(line.len() + 2);
    if needs_break {
        insert.push('\n');
    }
    insert.push_str(line.trim_end_matches(['\r', '\n']));
    insert.push('\n');
    text.insert(len, &insert)
}

/// One peer's presence on the note, as JSON on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    /// The name shown to the others.
    pub name: String,
    /// A CSS colour for the peer's cursor and badge.
    pub color: String,
    /// The editor's stable cursors (`{anchor, head}`), kept opaque here; `null` for the CLI.
    #[serde(default)]
    pub cursor: serde_json::Value,
}

impl Presence {
    /// The bytes to publish.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing a struct of strings and a JSON value cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a peer's presence; `None` for bytes that are not this JSON shape (another app's).
    pub fn decode(bytes: &[u8]) -> Option<Presence> {
        serde_json::from_slice(bytes).ok()
    }
}

/// The names of the other peers, sorted, from `SyncClient::presence`. Peers whose presence is
/// not a [`Presence`] are shown by their id.
pub fn peer_names(presence: &[(PeerId, Vec<u8>)]) -> Vec<String> {
    let mut names: Vec<String> = presence
        .iter()
        .map(|(peer, bytes)| match Presence::decode(bytes) {
            Some(p) => p.name,
            None => format!("peer {:016x}", peer.0),
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_appended_whole() {
        let mut doc = Doc::new();
        append_line(&mut doc, "one").unwrap();
        append_line(&mut doc, "two\r\n").unwrap();
        assert_eq!(body(&doc), "one\ntwo\n");
        // Someone left the last line unfinished: the next line starts on a line of its own.
        let len = doc.text(BODY).len();
        doc.text(BODY).insert(len, "typing").unwrap();
        append_line(&mut doc, "three").unwrap();
        assert_eq!(body(&doc), "one\ntwo\ntyping\nthree\n");
    }

    #[test]
    fn body_of_an_empty_doc_is_empty() {
        assert_eq!(body(&Doc::new()), "");
    }

    #[test]
    fn presence_round_trips_and_foreign_bytes_are_ignored() {
        let p = Presence {
            name: "ada".into(),
            color: "#123456".into(),
            cursor: serde_json::Value::Null,
        };
        assert_eq!(Presence::decode(&p.encode()), Some(p.clone()));
        // The editor's shape, with cursors, decodes too.
        let editor = br##"{"name":"bo","color":"#fff","cursor":{"anchor":{"x":1},"head":null}}"##;
        assert_eq!(Presence::decode(editor).unwrap().name, "bo");
        assert_eq!(Presence::decode(b"\xff\x00"), None);
        let names = peer_names(&[(PeerId(2), p.encode()), (PeerId(1), b"junk".to_vec())]);
        assert_eq!(
            names,
            vec!["ada".to_string(), "peer 0000000000000001".to_string()]
        );
    }
}
