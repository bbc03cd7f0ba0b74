//! [`IdRemap`]: where restored elements live now.
//!
//! Undoing a delete cannot bring the deleted elements back under their old ids (a tombstone is
//! final on every replica); it inserts copies with new ids right where the tombstones are. Every
//! later undo, redo and saved selection that names an old id must act on its copy instead, or an
//! undo of an older insert would "delete" the tombstone (a no-op) and leave the copy standing.
//! The same holds for map values: a restored value is a new write. So each restoration records
//! `old ids -> new ids` here, and ids are resolved through the table (following chains: a copy
//! can itself be deleted and restored again) before anything acts on them.
//!
//! Invariant: an id is remapped at most once (only a final, deleted id is ever restored), and a
//! copy's ids are newer than the ids it replaces, so chains are finite.

use crate::clock::Dot;
use crate::doc::value::ContainerId;

/// Runs of old ids and the runs of new ids that replaced them.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdRemap {
    /// `(old run start, run length, new run start)`, sorted by old start; runs never overlap.
    /// A sorted vector rather than a `BTreeMap`: one undo adds a handful of runs, and a map's
    /// generic code would weigh kilobytes in the wasm package.
    runs: Vec<(Dot, u64, Dot)>,
}

impl IdRemap {
    /// Records that `old..old+len` now live as `new..new+len`.
    pub(crate) fn insert(&mut self, old: Dot, len: u64, new: Dot) {
        if len > 0 {
            let at = self.runs.partition_point(|r| r.0 < old);
            self.runs.insert(at, (old, len, new));
        }
    }

    /// Where the single id `dot` lives now.
    pub(crate) fn resolve(&self, dot: Dot) -> Dot {
        self.resolve_range(dot, 1).first().map_or(dot, |&(d, _)| d)
    }

    /// The runs of current ids that `start..start+len` became, in the order of the input.
    pub(crate) fn resolve_range(&self, start: Dot, len: u64) -> Vec<(Dot, u64)> {
        let mut out = Vec::new();
        // A stack of runs still to resolve, the next one on top.
        let mut work = vec![(start, len)];
        while let Some((s, n)) = work.pop() {
            if n == 0 {
                continue;
            }
            match self.covering(s) {
                Some((old, run_len, new)) => {
                    let offset = s.counter - old.counter;
                    let take = n.min(run_len - offset);
                    work.push((Dot::new(s.replica, s.counter + take), n - take));
                    work.push((Dot::new(new.replica, new.counter + offset), take));
                }
                None => {
                    let end = s.counter.saturating_add(n);
                    let next = self.runs[self.runs.partition_point(|r| r.0 <= s)..]
                        .first()
                        .map(|r| r.0)
                        .filter(|k| k.replica == s.replica && k.counter < end);
                    match next {
                        Some(k) => {
                            out.push((s, k.counter - s.counter));
                            work.push((k, end - k.counter));
                        }
                        None => out.push((s, n)),
                    }
                }
            }
        }
        out
    }

    /// Where container `id` lives now: itself, or the copy an undo made of it (a created
    /// container is named by the id of the write or element that made it).
    pub(crate) fn container(&self, id: &ContainerId) -> ContainerId {
        match id {
            ContainerId::Created { id, kind } => ContainerId::Created {
                id: self.resolve(*id),
                kind: *kind,
            },
            root => root.clone(),
        }
    }

    /// The run that covers `dot`, as (old start, length, new start).
    fn covering(&self, dot: Dot) -> Option<(Dot, u64, Dot)> {
        let at = self.runs.partition_point(|r| r.0 <= dot).checked_sub(1)?;
        let (old, len, new) = self.runs[at];
        (old.replica == dot.replica && dot.counter - old.counter < len).then_some((old, len, new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ReplicaId;

    fn d(r: u64, c: u64) -> Dot {
        Dot::new(ReplicaId::new(r), c)
    }

    #[test]
    fn unmapped_ids_resolve_to_themselves() {
        let remap = IdRemap::default();
        assert_eq!(remap.resolve(d(1, 5)), d(1, 5));
        assert_eq!(remap.resolve_range(d(1, 5), 3), vec![(d(1, 5), 3)]);
    }

    #[test]
    fn a_range_splits_around_a_remapped_middle_and_follows_chains() {
        let mut remap = IdRemap::default();
        remap.insert(d(1, 3), 2, d(2, 10)); // 1:3..5 -> 2:10..12
        remap.insert(d(2, 11), 1, d(2, 20)); // 2:11 -> 2:20
        assert_eq!(
            remap.resolve_range(d(1, 1), 6),
            vec![(d(1, 1), 2), (d(2, 10), 1), (d(2, 20), 1), (d(1, 5), 2)]
        );
        assert_eq!(remap.resolve(d(1, 4)), d(2, 20));
    }
}
