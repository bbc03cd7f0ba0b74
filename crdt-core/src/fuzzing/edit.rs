//! [`Edit`]: one random local edit of any container kind of a [`Doc`], shared by the property
//! tests, the seeded network simulation and the structured fuzzer, so all three exercise the
//! same operations. Positions are taken modulo the container's length, so every edit applies to
//! any document.

use crate::doc::{ContainerKind, Doc, DocError, Value};
use crate::sync::sim::SimRng;

/// One random local edit. Root containers: text `t`, map `m` (keys `k0`..`k2`, a nested text at
/// `nested`, a nested counter at `count`), list `l` of integers, list `lm` of maps, counter `c`.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "fuzzing", derive(arbitrary::Arbitrary))]
pub enum Edit {
    /// Insert the string into text `t`.
    TextInsert(usize, String),
    /// Delete up to `n` chars of text `t`.
    TextDelete(usize, usize),
    /// Set key `k{n % 3}` of map `m`.
    MapSet(u8, i64),
    /// Delete key `k{n % 3}` of map `m`.
    MapDelete(u8),
    /// Insert an integer into list `l`.
    ListInsert(usize, i64),
    /// Delete one element of list `l`.
    ListDelete(usize),
    /// Insert into the text nested at `m.nested` (created when missing).
    NestedText(usize, String),
    /// Delete `m.nested`, leaving its text unreachable.
    DropNested,
    /// Set key `k{n % 3}` in a map element of list `lm` (inserting a new map element when the
    /// position says so or the list is empty).
    ListMap(usize, u8, i64),
    /// Add to root counter `c`.
    Counter(i64),
    /// Add to the counter nested at `m.count` (created when missing).
    NestedCounter(i64),
}

/// The container `key` of `map` if it is one of `kind`, else a new one put there.
fn child(doc: &mut Doc, key: &str, kind: ContainerKind) -> Result<crate::ContainerId, DocError> {
    match doc.map("m").get(key) {
        Some(Value::Container(id)) if id.kind() == kind => Ok(id),
        _ => doc.map("m").set_container(key, kind),
    }
}

/// Applies `edit` to `doc`, mapping random positions into range. Errors only on a document whose
/// state is inconsistent (e.g. a forged snapshot); the caller decides whether that is a failure.
pub fn apply_edit(doc: &mut Doc, edit: &Edit) -> Result<(), DocError> {
    match edit {
        Edit::TextInsert(p, s) => {
            let len = doc.text("t").len();
            doc.text("t").insert(p % (len + 1), s)
        }
        Edit::TextDelete(p, n) => {
            let len = doc.text("t").len();
            if len == 0 {
                return Ok(());
            }
            let pos = p % len;
            doc.text("t").delete(pos, (*n).clamp(1, 4).min(len - pos))
        }
        Edit::MapSet(k, v) => doc.map("m").set(&format!("k{}", k % 3), *v),
        Edit::MapDelete(k) => doc.map("m").delete(&format!("k{}", k % 3)),
        Edit::ListInsert(p, v) => {
            let len = doc.list("l").len();
            doc.list("l").insert(p % (len + 1), *v)
        }
        Edit::ListDelete(p) => {
            let len = doc.list("l").len();
            if len == 0 {
                return Ok(());
            }
            doc.list("l").delete(p % len, 1)
        }
        Edit::NestedText(p, s) => {
            let id = child(doc, "nested", ContainerKind::Text)?;
            let mut t = doc.text_at(&id)?;
            let len = t.len();
            t.insert(p % (len + 1), s)
        }
        Edit::DropNested => doc.map("m").delete("nested"),
        Edit::ListMap(p, k, v) => {
            let len = doc.list("lm").len();
            let existing = if len > 0 && p % 3 != 0 {
                match doc.list("lm").get(p % len) {
                    Some(Value::Container(id)) if id.kind() == ContainerKind::Map => Some(id),
                    _ => None,
                }
            } else {
                None
            };
            let id = match existing {
                Some(id) => id,
                None => doc
                    .list("lm")
                    .insert_container(p % (len + 1), ContainerKind::Map)?,
            };
            doc.map_at(&id)?.set(&format!("k{}", k % 3), *v)
        }
        Edit::Counter(n) => doc.counter("c").increment(*n),
        Edit::NestedCounter(n) => {
            let id = child(doc, "count", ContainerKind::Counter)?;
            doc.counter_at(&id)?.increment(*n)
        }
    }
}

/// A random edit from the simulator's seeded source.
pub fn random_edit(rng: &mut SimRng) -> Edit {
    let p = rng.next_u64() as usize;
    let s: String = ["a", "b", "😀", "cd"][rng.below(4)].to_owned();
    match rng.below(12) {
        0..=2 => Edit::TextInsert(p, s),
        3 => Edit::TextDelete(p, 1 + rng.below(3)),
        4 => Edit::MapSet(rng.below(3) as u8, rng.next_u64() as i64),
        5 => Edit::MapDelete(rng.below(3) as u8),
        6 => Edit::ListInsert(p, rng.below(100) as i64),
        7 => match rng.below(3) {
            0 => Edit::ListDelete(p),
            _ => Edit::NestedText(p, s),
        },
        8 => match rng.below(8) {
            0 => Edit::DropNested,
            _ => Edit::ListMap(p, rng.below(3) as u8, rng.below(100) as i64),
        },
        9 => Edit::NestedCounter(rng.below(9) as i64 - 4),
        _ => Edit::Counter(rng.below(9) as i64 - 4),
    }
}
