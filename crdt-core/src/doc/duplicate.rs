//! Duplicates must be the same change: a change whose id range the document already holds is a
//! no-op only when its content is the one held.
//!
//! Every replica id has one writer, so an honest peer that sends a change twice sends the same
//! bytes of history twice. Two changes with one id and different content mean two writers used
//! one replica id (two tabs restored from one saved document) or one forged the other's next
//! counters. Treating the second as a duplicate would drop it silently and leave the replicas
//! diverged with nobody told, so it is refused with [`DocError::DuplicateDiffers`].
//!
//! The comparison is cheap: structural equality first (no allocation), and only when that says
//! "different" the two changes' encodings, so that a float that is not equal to itself (NaN)
//! does not make an honest duplicate look forged.

use super::format::changes::encode_raw;
use super::oplog::OpLog;
use super::{Change, DocError};

/// Refuses `change` when the log already holds every event of its id range but not this exact
/// change. A change not (or only partly) held passes: the causal buffer decides about it.
pub(super) fn check_duplicate(log: &OpLog, change: &Change) -> Result<(), DocError> {
    let id = change.id;
    let held_up_to = log.version().get(id.replica);
    if id.is_empty() || held_up_to < id.end - 1 {
        return Ok(());
    }
    match log.get(id) {
        Some(stored) if same_content(&stored, change) => Ok(()),
        // Held, but as other content or with other boundaries (an honest peer never re-cuts
        // the changes it received).
        _ => Err(DocError::DuplicateDiffers(id)),
    }
}

fn same_content(stored: &Change, received: &Change) -> bool {
    stored == received
        || encode_raw(std::iter::once(stored)) == encode_raw(std::iter::once(received))
}

#[cfg(test)]
mod tests {
    use crate::{Doc, DocError, ReplicaId, VersionVector};

    /// Two copies of one saved document, as two tabs restored from it would be.
    fn two_copies() -> (Doc, Doc) {
        let mut original = Doc::with_replica(ReplicaId::new(7));
        original.text("t").insert(0, "base").unwrap();
        let saved = original.save();
        let a = Doc::load_with_replica(&saved, ReplicaId::new(7)).unwrap();
        let b = Doc::load_with_replica(&saved, ReplicaId::new(7)).unwrap();
        (a, b)
    }

    #[test]
    fn an_identical_duplicate_is_a_no_op() {
        let (mut a, mut b) = two_copies();
        a.text("t").insert(4, " one").unwrap();
        a.commit();
        let bytes = a.encode_changes_since(&VersionVector::new());
        b.apply_changes(&bytes).unwrap();
        let outcome = b.apply_changes(&bytes).unwrap();
        assert!(outcome.applied.is_empty());
        assert_eq!(b.text("t").to_string(), "base one");
    }

    #[test]
    fn a_change_reusing_a_held_id_range_with_other_content_is_refused() {
        let (mut a, mut b) = two_copies();
        let base = a.version();
        a.text("t").insert(4, " from a").unwrap();
        a.commit();
        b.text("t").insert(4, " from b").unwrap();
        b.commit();
        let from_b = b.encode_changes_since(&base);
        let version = a.version();
        let err = a.apply_changes(&from_b).unwrap_err();
        let DocError::DuplicateDiffers(id) = err else {
            panic!("expected DuplicateDiffers, got {err:?}");
        };
        assert_eq!(id.replica, ReplicaId::new(7));
        assert_eq!(a.version(), version, "nothing applied");
        assert_eq!(a.text("t").to_string(), "base from a");
    }

    #[test]
    fn a_held_range_cut_at_other_boundaries_is_refused() {
        let mut a = Doc::with_replica(ReplicaId::new(3));
        a.text("t").insert(0, "abcdef").unwrap();
        a.commit();
        // The same counters as one shorter change of other content.
        let mut forger = Doc::with_replica(ReplicaId::new(3));
        forger.text("t").insert(0, "xy").unwrap();
        forger.commit();
        let err = a
            .apply_changes(&forger.encode_changes_since(&VersionVector::new()))
            .unwrap_err();
        assert!(matches!(err, DocError::DuplicateDiffers(_)), "{err:?}");
    }

    #[test]
    fn a_duplicate_holding_nan_is_still_the_same_change() {
        let mut a = Doc::with_replica(ReplicaId::new(5));
        a.map("m").set("x", f64::NAN).unwrap();
        a.commit();
        let bytes = a.encode_changes_since(&VersionVector::new());
        let mut b = Doc::with_replica(ReplicaId::new(6));
        b.apply_changes(&bytes).unwrap();
        b.apply_changes(&bytes).unwrap();
        a.apply_changes(&bytes).unwrap();
    }
}
