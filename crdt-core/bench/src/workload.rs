//! A trace as the edits every implementation replays, grouped by the trace's transactions.
//!
//! Invariant: `edits` applied in order to the empty string yield `end_content`; positions and
//! lengths count Unicode scalar values, and `utf16_edits` is the same sequence with positions and
//! lengths in UTF-16 code units (for peers that index that way, e.g. Yrs). `txns` cut both into
//! the trace's transactions, in order, covering every edit once (a start content is a first
//! transaction of its own): an editor commits once per transaction, and so do the benchmarks.
//! Only sequential traces (one user's history, `editing-traces` format) are supported.

use std::ops::Range;

use crdt_testdata::{bundled_trace_path, Trace, TraceError};

/// One edit: delete `delete` elements at `pos`, then insert `insert` at `pos`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// Position of the edit.
    pub pos: usize,
    /// Number of elements deleted at `pos`.
    pub delete: usize,
    /// Text inserted at `pos` after the deletion.
    pub insert: String,
}

/// Why a trace cannot become a workload.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The trace file could not be loaded.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// Only sequential traces can be replayed by one replica.
    #[error("trace {0} is concurrent; only sequential traces are benchmarked")]
    Concurrent(String),
    /// An edit falls outside the document it applies to.
    #[error("edit {index} of trace {name} is out of bounds")]
    OutOfBounds {
        /// The trace.
        name: String,
        /// Index of the edit.
        index: usize,
    },
}

/// The edits of one trace, in Unicode scalar values and in UTF-16 code units, with its
/// transactions.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Name of the trace, e.g. `"automerge-paper"`.
    pub name: String,
    /// Edits with positions in Unicode scalar values.
    pub edits: Vec<Edit>,
    /// The same edits with positions in UTF-16 code units.
    pub utf16_edits: Vec<Edit>,
    /// The trace's transactions, as consecutive, non-empty ranges of `edits` (and of
    /// `utf16_edits`) that cover them all.
    pub txns: Vec<Range<usize>>,
    /// The document after the last edit.
    pub end_content: String,
}

impl Workload {
    /// Loads a trace shipped in the repository's `traces/` folder.
    pub fn bundled(name: &str) -> Result<Workload, WorkloadError> {
        let trace = Trace::load(bundled_trace_path(name))?;
        Self::from_trace(name, &trace)
    }

    /// Reads a sequential trace, keeping its transactions. A trace with a start content gets it
    /// as a first transaction of one insert; transactions without patches are skipped.
    pub fn from_trace(name: &str, trace: &Trace) -> Result<Workload, WorkloadError> {
        let Trace::Sequential(seq) = trace else {
            return Err(WorkloadError::Concurrent(name.to_string()));
        };
        let mut edits = Vec::with_capacity(trace.patch_count() + 1);
        let mut txns = Vec::with_capacity(seq.txns.len() + 1);
        if !seq.start_content.is_empty() {
            edits.push(Edit {
                pos: 0,
                delete: 0,
                insert: seq.start_content.clone(),
            });
            txns.push(0..1);
        }
        for txn in seq.txns.iter().filter(|t| !t.patches.is_empty()) {
            let start = edits.len();
            edits.extend(txn.patches.iter().map(|patch| Edit {
                pos: patch.pos(),
                delete: patch.delete(),
                insert: patch.insert().to_string(),
            }));
            txns.push(start..edits.len());
        }
        let utf16_edits = to_utf16(name, &edits)?;
        Ok(Workload {
            name: name.to_string(),
            edits,
            utf16_edits,
            txns,
            end_content: seq.end_content.clone(),
        })
    }

    /// The first `n` edits (all of them if fewer), with the end content they produce and the
    /// transactions cut at `n`: a smaller workload of real edits, for tests in debug builds.
    pub fn prefix(&self, n: usize) -> Workload {
        let n = n.min(self.edits.len());
        let edits = self.edits[..n].to_vec();
        let txns = self
            .txns
            .iter()
            .filter(|t| t.start < n)
            .map(|t| t.start..t.end.min(n))
            .collect();
        Workload {
            name: format!("{}[..{n}]", self.name),
            end_content: replay_reference(&edits),
            utf16_edits: self.utf16_edits[..n].to_vec(),
            txns,
            edits,
        }
    }

    /// The edits of each transaction, positions in Unicode scalar values.
    pub fn txns(&self) -> impl Iterator<Item = &[Edit]> {
        self.txns.iter().map(|t| &self.edits[t.clone()])
    }

    /// The edits of each transaction, positions in UTF-16 code units.
    pub fn utf16_txns(&self) -> impl Iterator<Item = &[Edit]> {
        self.txns.iter().map(|t| &self.utf16_edits[t.clone()])
    }

    /// Number of edits.
    pub fn len(&self) -> usize {
        self.edits.len()
    }

    /// Whether there is no edit.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }
}

/// Converts scalar-value positions to UTF-16 positions. When no inserted character lies outside
/// the Basic Multilingual Plane both are the same; otherwise the edits are replayed on a plain
/// vector of characters (slow, but done once, outside any timing).
fn to_utf16(name: &str, edits: &[Edit]) -> Result<Vec<Edit>, WorkloadError> {
    let all_bmp = edits
        .iter()
        .all(|e| e.insert.chars().all(|c| c.len_utf16() == 1));
    if all_bmp {
        return Ok(edits.to_vec());
    }
    let mut doc: Vec<char> = Vec::new();
    let mut out = Vec::with_capacity(edits.len());
    for (index, edit) in edits.iter().enumerate() {
        let end = edit
            .pos
            .checked_add(edit.delete)
            .filter(|&e| e <= doc.len());
        let Some(end) = end else {
            return Err(WorkloadError::OutOfBounds {
                name: name.to_string(),
                index,
            });
        };
        let width = |cs: &[char]| cs.iter().map(|c| c.len_utf16()).sum::<usize>();
        out.push(Edit {
            pos: width(&doc[..edit.pos]),
            delete: width(&doc[edit.pos..end]),
            insert: edit.insert.clone(),
        });
        doc.splice(edit.pos..end, edit.insert.chars());
    }
    Ok(out)
}

/// Applies edits (scalar-value positions) to a `String`: the reference the tests compare with.
pub fn replay_reference(edits: &[Edit]) -> String {
    let mut doc: Vec<char> = Vec::new();
    for edit in edits {
        doc.splice(edit.pos..edit.pos + edit.delete, edit.insert.chars());
    }
    doc.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_of_the_trace_are_kept_and_cover_every_edit() {
        let json = br#"{"startContent":"ab","endContent":"xaby","txns":[
            {"patches":[[0,0,"x"],[3,0,"y"]]},{"patches":[]},{"patches":[[1,1,"a"]]}]}"#;
        let w = Workload::from_trace("t", &Trace::parse(json).unwrap()).unwrap();
        assert_eq!(w.txns, vec![0..1, 1..3, 3..4]);
        assert_eq!(w.txns().map(<[Edit]>::len).collect::<Vec<_>>(), [1, 2, 1]);
        assert_eq!(replay_reference(&w.edits), w.end_content);
        assert_eq!(w.prefix(2).txns, vec![0..1, 1..2]);
    }

    fn edit(pos: usize, delete: usize, insert: &str) -> Edit {
        Edit {
            pos,
            delete,
            insert: insert.to_string(),
        }
    }

    #[test]
    fn utf16_positions_count_surrogate_pairs() {
        let edits = vec![edit(0, 0, "a😀b"), edit(2, 0, "é"), edit(1, 1, "x")];
        let utf16 = to_utf16("t", &edits).unwrap();
        assert_eq!(utf16[1], edit(3, 0, "é"));
        assert_eq!(utf16[2], edit(1, 2, "x"));
        assert_eq!(replay_reference(&edits), "axéb");
    }

    #[test]
    fn bmp_only_edits_are_unchanged_and_bad_edits_rejected() {
        let edits = vec![edit(0, 0, "abc"), edit(1, 1, "")];
        assert_eq!(to_utf16("t", &edits).unwrap(), edits);
        let bad = vec![edit(0, 0, "😀"), edit(0, 5, "")];
        assert!(matches!(
            to_utf16("t", &bad),
            Err(WorkloadError::OutOfBounds { index: 1, .. })
        ));
    }

    #[test]
    fn bundled_trace_replays_to_its_end_content() {
        let w = Workload::bundled("sveltecomponent").unwrap();
        assert!(w.len() > 10_000);
        assert_eq!(replay_reference(&w.edits), w.end_content);
        let p = w.prefix(3);
        assert_eq!(p.len(), 3);
        assert_eq!(p.txns().map(<[Edit]>::len).sum::<usize>(), 3);
        assert_eq!(p.end_content, replay_reference(&w.edits[..3]));
        assert_eq!(w.prefix(usize::MAX).end_content, w.end_content);
    }
}
