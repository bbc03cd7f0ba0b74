//! The public vocabulary of crdt-core, used the way a dependent crate uses it.

use crdt_core::{CausalOrder, Dot, ReplicaId, VersionVector};

#[test]
fn version_vectors_travel_between_crates_as_bytes() {
    let mut a = VersionVector::new();
    let dot = a.increment(ReplicaId::new(7));
    let bytes = rmp_serde::to_vec(&a).expect("encoding a version vector cannot fail");
    let b: VersionVector = rmp_serde::from_slice(&bytes).expect("round trip");
    assert!(b.includes(dot));
    assert_eq!(a.compare(&b), CausalOrder::Equal);
    assert!(!b.includes(Dot::new(ReplicaId::new(7), 2)));
}
