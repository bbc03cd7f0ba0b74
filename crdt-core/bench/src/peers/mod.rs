//! Adapters that drive the peer CRDTs through [`crate::TextCrdt`], each the way its own
//! edit-trace benchmark uses it (built only with the `peers` feature).
//!
//! Invariant: every adapter indexes by Unicode scalar values as the traces do (converting where
//! the peer indexes otherwise), so all implementations edit the same document.

pub mod automerge;
pub mod diamond;
pub mod loro;
pub mod yrs;

pub use self::automerge::AutomergeText;
pub use self::diamond::DiamondText;
pub use self::loro::LoroDocText;
pub use self::yrs::YrsText;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{verify, Workload};

    /// Each peer replays, merges and loads real edits to their end content. Debug builds of the
    /// peers are slow, so this takes the first 4,000 edits of a trace; the bench start and the
    /// compare binary verify every full trace in release builds.
    #[test]
    fn every_peer_reproduces_the_trace() {
        let w = Workload::bundled("sveltecomponent").unwrap().prefix(4_000);
        for sizes in [
            verify::<AutomergeText>(&w).unwrap(),
            verify::<YrsText>(&w).unwrap(),
            verify::<DiamondText>(&w).unwrap(),
            verify::<LoroDocText>(&w).unwrap(),
        ] {
            assert!(sizes.encoded > 1000 && sizes.changes > 1000, "{sizes:?}");
        }
    }

    /// Yrs is fed UTF-16 positions: text outside the BMP must land where the others put it.
    #[test]
    fn peers_agree_on_text_outside_the_bmp() {
        let edits = vec![
            crate::Edit {
                pos: 0,
                delete: 0,
                insert: "a😀b😀c".into(),
            },
            crate::Edit {
                pos: 2,
                delete: 2,
                insert: "é🎉".into(),
            },
            crate::Edit {
                pos: 5,
                delete: 0,
                insert: "!".into(),
            },
        ];
        use crdt_testdata::trace::{Patch, SequentialTrace, SequentialTxn, Trace};
        let trace = Trace::Sequential(SequentialTrace {
            start_content: String::new(),
            end_content: crate::workload::replay_reference(&edits),
            txns: vec![SequentialTxn {
                patches: edits
                    .iter()
                    .map(|e| Patch(e.pos, e.delete, e.insert.clone()))
                    .collect(),
            }],
        });
        let w = Workload::from_trace("emoji", &trace).unwrap();
        assert_eq!(w.end_content, "a😀é🎉c!");
        verify::<AutomergeText>(&w).unwrap();
        verify::<YrsText>(&w).unwrap();
        verify::<DiamondText>(&w).unwrap();
        verify::<LoroDocText>(&w).unwrap();
    }
}
