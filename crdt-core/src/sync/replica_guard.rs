//! [`ReplicaGuard`]: what a client does when it learns that another writer uses its
//! replica id.
//!
//! A replica id must have one writer: two writers take the same counters for different edits,
//! and every replica then holds one of them and refuses the other. Relays bind a replica id to
//! the connection that first wrote it and refuse the others with [`ErrorCode::ReplicaTaken`].
//! A client learns that its id is shared in one of two ways, and in both it continues under a
//! fresh id ([`Doc::set_replica`]) before its next edit:
//! - the relay refused its changes with [`ErrorCode::ReplicaTaken`] naming its id (the message
//!   names the taken id as 16 lowercase hex digits);
//! - changes under its own id that it did not make arrived (another copy of the document, e.g.
//!   a second tab restored from the same saved bytes, wrote them). Caught here, before this
//!   client edits again, the two never collide.
//!
//! Changes already committed under the old id keep it (see [`Doc::set_replica`]). When the
//! other writer had already taken the same counters (both edited before either heard of the
//! other), those changes collide: the relay refuses them ([`crate::DocError::DuplicateDiffers`]
//! or `ReplicaTaken`), and they stay local to this copy. Renaming them is not done; the cure is
//! to never restore an id in two places ([`Doc::load`] takes a fresh id every time).
//!
//! A relay refuses a batch whole (code 10, or code 9 for a reused id range or a missing past),
//! and the session took it as sent. So after such a refusal the guard re-synchronises on the
//! relay's next `Changes`: a client that forwarded another live writer's events (a tab passing
//! on what it got through a `BroadcastChannel`) sends its own again once that writer delivered
//! them.

use super::{ErrorCode, Message, SyncError, SyncSession};
use crate::{Doc, DocError, ReplicaId};

/// A client's watch over its document's replica id, beside the document's [`SyncSession`]:
/// [`ReplicaGuard::receive`] replaces [`SyncSession::receive`]. See the [module docs](self).
#[derive(Debug, Default)]
pub struct ReplicaGuard {
    /// The relay refused a batch of ours whole: what it held must be sent again, once the
    /// relay may take it (after its writer delivered the events we forwarded).
    resync_pending: bool,
}

impl ReplicaGuard {
    /// A guard with nothing pending.
    pub fn new() -> Self {
        ReplicaGuard::default()
    }

    /// [`SyncSession::receive`] for a client's document, which also:
    /// - moves `doc` to a fresh replica id when `message` shows another writer uses its id;
    /// - after the relay refused a batch of ours (code 9 or 10), re-synchronises on the next
    ///   `Changes` the relay sends (a Hello on the live connection, see
    ///   [`SyncSession::connect`]), so that what the refused batch held is sent again. A batch
    ///   refused because it forwarded another live writer's events goes through once that
    ///   writer delivered them; waiting for the relay's next `Changes` (rather than retrying at
    ///   once) never loops.
    pub fn receive(
        &mut self,
        session: &mut SyncSession,
        doc: &mut Doc,
        message: Message,
    ) -> Result<Vec<Message>, SyncError<DocError>> {
        if let Message::Error {
            doc: Some(id),
            code,
            message: text,
        } = &message
        {
            if id == session.doc_id() {
                self.on_error(doc, *code, text);
            }
        }
        let resync_now = self.resync_pending && matches!(message, Message::Changes { .. });
        let own = doc.replica();
        let held_before = doc.version().get(own);
        let mut out = session.receive(doc, message)?;
        if doc.version().get(own) > held_before {
            // Only received changes grow the version inside `receive`: another writer's.
            doc.set_replica(ReplicaId::random());
        }
        if resync_now {
            self.resync_pending = false;
            out.extend(session.connect(doc));
        }
        Ok(out)
    }

    fn on_error(&mut self, doc: &mut Doc, code: ErrorCode, text: &str) {
        match code {
            ErrorCode::ReplicaTaken => {
                if names_replica(text, doc.replica()) {
                    doc.set_replica(ReplicaId::random());
                }
                self.resync_pending = true;
            }
            ErrorCode::BadChanges => self.resync_pending = true,
            _ => {}
        }
    }
}

/// Whether a `ReplicaTaken` explanation names `replica` (as 16 lowercase hex digits, the way
/// relays write it). A refusal that names another id was about changes this client forwarded for
/// another writer (e.g. a tab's, received through a `BroadcastChannel`): its own id is fine.
fn names_replica(text: &str, replica: ReplicaId) -> bool {
    // A window compare, not `str::contains`: the explanation is one short line, and the
    // substring searcher `contains` brings is 1.5 KB of the wasm build.
    let id = replica.to_string();
    text.as_bytes()
        .windows(id.len())
        .any(|window| window == id.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::DocId;
    use crate::VersionVector;

    fn doc_id() -> DocId {
        DocId::new("guard").unwrap()
    }

    #[test]
    fn changes_under_our_own_id_from_elsewhere_move_us_to_a_fresh_id() {
        let mut saved = Doc::with_replica(ReplicaId::new(11));
        saved.text("t").insert(0, "x").unwrap();
        let bytes = saved.save();
        let mut a = Doc::load_with_replica(&bytes, ReplicaId::new(11)).unwrap();
        let mut b = Doc::load_with_replica(&bytes, ReplicaId::new(11)).unwrap();
        let before = a.version();
        a.text("t").insert(1, "y").unwrap();
        a.commit();
        let mut session = SyncSession::new(doc_id());
        session.connect(&b);
        let changes = Message::Changes {
            doc: doc_id(),
            bytes: a.encode_changes_since(&before),
            version: a.version(),
        };
        ReplicaGuard::new()
            .receive(&mut session, &mut b, changes)
            .unwrap();
        assert_ne!(b.replica(), ReplicaId::new(11));
        b.text("t").insert(2, "z").unwrap();
        b.commit();
        a.apply_changes(&b.encode_changes_since(&a.version()))
            .unwrap();
        assert_eq!(a.text("t").to_string(), "xyz");
    }

    #[test]
    fn after_a_refused_batch_the_next_changes_from_the_relay_bring_a_resync() {
        let mut relay = Doc::with_replica(ReplicaId::new(1));
        let mut relay_session = SyncSession::new(doc_id());
        let mut doc = Doc::with_replica(ReplicaId::new(2));
        let mut session = SyncSession::new(doc_id());
        let mut guard = ReplicaGuard::new();
        let hello = session.connect(&doc).remove(0);
        for m in relay_session.receive(&mut relay, hello).unwrap() {
            guard.receive(&mut session, &mut doc, m).unwrap();
        }
        let refused = Message::Error {
            doc: Some(doc_id()),
            code: ErrorCode::BadChanges,
            message: "changes depend on events this relay does not hold".into(),
        };
        assert!(guard.receive(&mut session, &mut doc, refused).is_err());
        relay.text("t").insert(0, "x").unwrap();
        relay.commit();
        let fan_out = relay_session.on_local_change(&relay);
        let mut answers = Vec::new();
        for m in fan_out {
            answers.extend(guard.receive(&mut session, &mut doc, m).unwrap());
        }
        assert!(
            answers.iter().any(|m| matches!(m, Message::Hello { .. })),
            "{answers:?}"
        );
        // Once: the next Changes brings no other Hello.
        relay.text("t").insert(1, "y").unwrap();
        relay.commit();
        for m in relay_session.on_local_change(&relay) {
            let answers = guard.receive(&mut session, &mut doc, m).unwrap();
            assert!(!answers.iter().any(|m| matches!(m, Message::Hello { .. })));
        }
    }

    #[test]
    fn a_replica_taken_error_naming_our_id_moves_us_to_a_fresh_id_and_others_do_not() {
        let mut doc = Doc::with_replica(ReplicaId::new(3));
        let mut session = SyncSession::new(doc_id());
        session.connect(&doc);
        let other = Message::Error {
            doc: Some(DocId::new("other").unwrap()),
            code: ErrorCode::ReplicaTaken,
            message: String::new(),
        };
        let mut guard = ReplicaGuard::new();
        assert!(guard.receive(&mut session, &mut doc, other).is_err());
        assert_eq!(doc.replica(), ReplicaId::new(3));
        let forwarded = Message::Error {
            doc: Some(doc_id()),
            code: ErrorCode::ReplicaTaken,
            message: format!(
                "replica {} is written by another connection",
                ReplicaId::new(4)
            ),
        };
        assert!(guard.receive(&mut session, &mut doc, forwarded).is_err());
        assert_eq!(
            doc.replica(),
            ReplicaId::new(3),
            "another writer's id was named"
        );
        let taken = Message::Error {
            doc: Some(doc_id()),
            code: ErrorCode::ReplicaTaken,
            message: format!(
                "replica {} is written by another connection",
                ReplicaId::new(3)
            ),
        };
        let err = guard.receive(&mut session, &mut doc, taken).unwrap_err();
        assert!(matches!(
            err,
            SyncError::Remote {
                code: ErrorCode::ReplicaTaken,
                ..
            }
        ));
        assert_ne!(doc.replica(), ReplicaId::new(3));
        assert_eq!(doc.version(), VersionVector::new());
    }
}
