//! Forged input for hostile-world tests: changes encoded exactly as given, without the checks
//! that [`Doc::commit`](crate::Doc::commit) makes true by construction (Lamport times, deps). A
//! hostile peer has its own encoder; tests of the relay need one too, to show what is refused.

use crate::doc::format;
use crate::doc::Change;

/// Encodes `changes` (in the given order) as a change batch, as a peer's encoder would, whether
/// or not the changes could have been made by an honest replica.
pub fn encode_changes(changes: &[Change]) -> Vec<u8> {
    format::encode_changes(changes)
}
