//! What a [`Doc`](crate::Doc) records and ships: [`Op`]s grouped into [`Change`]s.
//!
//! A change is one committed transaction of one replica. Its operations take consecutive
//! counters of that replica: an insert of `n` elements into a text or list takes `n` (one per
//! element, so each element's id is a [`Dot`]), every other operation takes one. The change's id is
//! the run of counters it took, so version vectors say exactly which changes a replica holds.
//! `parents` is the frontier the replica had applied when it committed: the last events of the
//! changes no other applied change depended on (usually one), as diamond-types and Automerge
//! store a change's causal past. Never a copy of the whole version: a document written by
//! many replicas would make every keystroke carry all of them. The replica's own previous event
//! is part of every change's causal past whether named or not (each replica's events apply in
//! order). `lamport` is the Lamport timestamp of its first operation, exactly one more than the
//! highest in its causal past, used to pick deterministic, intuitive winners among concurrent
//! map writes.

use serde::{Deserialize, Serialize};

use crate::clock::{Dot, SeqRange};
use crate::doc::commit_meta::CommitMeta;
use crate::doc::marks::Anchor;
use crate::doc::value::{ContainerId, ContainerKind, Scalar, Value};
use crate::seq::Content;
use crate::seq::{ListContent, SeqOp, TextContent};

/// The value a map write carries: a scalar, or a new container (whose id is the write's dot).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum NewValue {
    /// A plain value.
    Scalar(Scalar),
    /// A new, empty container of this kind, named by the operation's dot.
    Container(ContainerKind),
}

/// One operation on one container.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Writes `key` of map `obj`, superseding the values with ids in `pred` (those it observed).
    MapSet {
        /// The map.
        obj: ContainerId,
        /// The key.
        key: String,
        /// The new value.
        value: NewValue,
        /// Ids of the values this write replaces.
        pred: Vec<Dot>,
    },
    /// Removes the values with ids in `pred` from `key` of map `obj` (those it observed).
    MapDelete {
        /// The map.
        obj: ContainerId,
        /// The key.
        key: String,
        /// Ids of the values removed.
        pred: Vec<Dot>,
    },
    /// A sequence operation on text `obj`.
    Text {
        /// The text.
        obj: ContainerId,
        /// The operation.
        op: SeqOp<TextContent>,
    },
    /// A sequence operation on list `obj`. Inserted containers are named by their element's dot.
    List {
        /// The list.
        obj: ContainerId,
        /// The operation.
        op: SeqOp<ListContent<Value>>,
    },
    /// Sets `key` to `value` (removes it when `None`) on the characters of text `obj` between
    /// `start` and `end`; see `marks` for how ranges and conflicts resolve.
    TextMark {
        /// The text.
        obj: ContainerId,
        /// Where the range starts.
        start: Anchor,
        /// Where the range ends.
        end: Anchor,
        /// The formatting key (`bold`, `link`).
        key: String,
        /// The value, or `None` to remove the key.
        value: Option<Scalar>,
    },
    /// Adds `delta` to counter `obj`.
    CounterAdd {
        /// The counter.
        obj: ContainerId,
        /// The amount (may be negative).
        delta: i64,
    },
}

impl Op {
    /// How many counters the operation takes: one per inserted element, else one.
    pub fn width(&self) -> u64 {
        match self {
            Op::Text {
                op: SeqOp::Insert { content, .. },
                ..
            } => content.len() as u64,
            Op::List {
                op: SeqOp::Insert { content, .. },
                ..
            } => content.len() as u64,
            _ => 1,
        }
    }

    /// The container the operation acts on.
    pub fn obj(&self) -> &ContainerId {
        match self {
            Op::MapSet { obj, .. }
            | Op::MapDelete { obj, .. }
            | Op::Text { obj, .. }
            | Op::List { obj, .. }
            | Op::TextMark { obj, .. }
            | Op::CounterAdd { obj, .. } => obj,
        }
    }
}

/// One committed transaction of one replica.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The counters the change's operations take, in order.
    pub id: SeqRange,
    /// The frontier the replica had applied when it committed: the events its causal past ends
    /// at, sorted, without repeats (empty for a document's first change).
    pub parents: Vec<Dot>,
    /// Lamport timestamp of the first operation; operation `i` (by counter) has `lamport + i`.
    pub lamport: u64,
    /// The operations, in the order they were made.
    pub ops: Vec<Op>,
    /// The author's commit message and wall-clock time, when given
    /// ([`Doc::commit_with`](crate::Doc::commit_with)); boxed so that the many changes without
    /// them cost one pointer.
    pub meta: Option<Box<CommitMeta>>,
}

/// Why a change is not well formed (checked before it is buffered or applied).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// The id range is empty or starts at 0, or the ops do not fill it exactly.
    #[error(
        "change {id:?}: its {ops} operations take {width} counters, which do not match its id"
    )]
    BadWidth {
        /// The change's id.
        id: SeqRange,
        /// Number of ops.
        ops: usize,
        /// Counters the ops take.
        width: u64,
    },
    /// An operation is malformed (named inside).
    #[error("change {id:?}: operation {index} is malformed: {reason}")]
    BadOp {
        /// The change's id.
        id: SeqRange,
        /// Index of the op in the change.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The parents are not sorted and distinct, name counter 0, or name an event of the
    /// change's own replica at or after its start.
    #[error("change {id:?}: bad parents: {reason}")]
    BadParents {
        /// The change's id.
        id: SeqRange,
        /// What is wrong.
        reason: &'static str,
    },
    /// The commit message is longer than
    /// [`MAX_MESSAGE_LEN`](crate::doc::MAX_MESSAGE_LEN).
    #[error("change {id:?}: commit message of {len} bytes is too long")]
    MessageTooLong {
        /// The change's id.
        id: SeqRange,
        /// The message's length in bytes.
        len: usize,
    },
    /// The Lamport timestamp is not above every operation it depends on, or would overflow.
    #[error("change {id:?}: bad lamport timestamp {lamport}")]
    BadLamport {
        /// The change's id.
        id: SeqRange,
        /// The timestamp.
        lamport: u64,
    },
}

/// Longest map key accepted.
pub const MAX_KEY_LEN: usize = 4096;
/// Longest root container name accepted.
pub const MAX_ROOT_NAME_LEN: usize = 1024;

impl Change {
    /// Each operation with the dot of its first counter.
    pub fn ops_with_dots(&self) -> impl Iterator<Item = (Dot, &Op)> {
        let replica = self.id.replica;
        self.ops.iter().scan(self.id.start, move |next, op| {
            let dot = Dot::new(replica, *next);
            *next = next.saturating_add(op.width());
            Some((dot, op))
        })
    }

    /// The Lamport timestamp of the operation at `dot` (a dot of this change).
    pub fn lamport_of(&self, dot: Dot) -> u64 {
        self.lamport.saturating_add(dot.counter - self.id.start)
    }

    /// Checks everything that can be checked without the document: widths, ids of inserts and
    /// created containers, key and name lengths.
    pub fn validate(&self) -> Result<(), ChangeError> {
        let id = self.id;
        let bad = |index, reason| ChangeError::BadOp { id, index, reason };
        let mut width: u64 = 0;
        for (index, (dot, op)) in self.ops_with_dots().enumerate() {
            let w = op.width();
            if w == 0 {
                return Err(bad(index, "inserts no element"));
            }
            width = width.saturating_add(w);
            check_container_id(op.obj()).map_err(|r| bad(index, r))?;
            match op {
                Op::MapSet { key, pred, .. } | Op::MapDelete { key, pred, .. } => {
                    if key.len() > MAX_KEY_LEN {
                        return Err(bad(index, "map key too long"));
                    }
                    if pred.iter().any(|p| p.counter == 0) {
                        return Err(bad(index, "pred names counter 0"));
                    }
                }
                Op::Text { op, .. } => check_seq_op(op, dot).map_err(|r| bad(index, r))?,
                Op::List { op, .. } => {
                    check_seq_op(op, dot).map_err(|r| bad(index, r))?;
                    if let SeqOp::Insert { content, .. } = op {
                        for (offset, value) in content.0.iter().enumerate() {
                            if let Value::Container(cid) = value {
                                let expected = Dot::new(dot.replica, dot.counter + offset as u64);
                                if !matches!(cid, ContainerId::Created { id, .. } if *id == expected)
                                {
                                    return Err(bad(
                                        index,
                                        "list container not named by its element",
                                    ));
                                }
                            }
                        }
                    }
                }
                Op::TextMark {
                    start, end, key, ..
                } => check_mark(*start, *end, key).map_err(|r| bad(index, r))?,
                Op::CounterAdd { obj, .. } => {
                    if obj.kind() != ContainerKind::Counter {
                        return Err(bad(index, "counter op on a non-counter"));
                    }
                }
            }
            let expected_kind = match op {
                Op::MapSet { .. } | Op::MapDelete { .. } => ContainerKind::Map,
                Op::Text { .. } | Op::TextMark { .. } => ContainerKind::Text,
                Op::List { .. } => ContainerKind::List,
                Op::CounterAdd { .. } => ContainerKind::Counter,
            };
            if op.obj().kind() != expected_kind {
                return Err(bad(index, "operation does not fit its container's kind"));
            }
        }
        if id.start == 0 || id.is_empty() || width != id.len() {
            return Err(ChangeError::BadWidth {
                id,
                ops: self.ops.len(),
                width,
            });
        }
        self.check_parents()?;
        if let Some(meta) = &self.meta {
            meta.check(id)?;
        }
        if self.lamport == 0 || self.lamport.checked_add(id.len()).is_none() {
            return Err(ChangeError::BadLamport {
                id,
                lamport: self.lamport,
            });
        }
        Ok(())
    }
}

impl Change {
    fn check_parents(&self) -> Result<(), ChangeError> {
        check_parents(self.id, &self.parents)
    }
}

/// The parents are a canonical frontier: sorted, distinct, real events, none of them change
/// `id`'s own or later events of its replica.
pub(crate) fn check_parents(id: SeqRange, parents: &[Dot]) -> Result<(), ChangeError> {
    let bad = |reason| Err(ChangeError::BadParents { id, reason });
    if !parents.windows(2).all(|w| w[0] < w[1]) {
        return bad("not sorted and distinct");
    }
    for parent in parents {
        if parent.counter == 0 {
            return bad("names counter 0");
        }
        if parent.replica == id.replica && parent.counter >= id.start {
            return bad("names the change's own or a later event of its replica");
        }
    }
    Ok(())
}

/// A container id a change may name: a root's name not too long, a created container not
/// named by counter 0.
pub(crate) fn check_container_id(id: &ContainerId) -> Result<(), &'static str> {
    match id {
        ContainerId::Root { name, .. } if name.len() > MAX_ROOT_NAME_LEN => {
            Err("root container name too long")
        }
        ContainerId::Created { id, .. } if id.counter == 0 => Err("container named by counter 0"),
        _ => Ok(()),
    }
}

fn check_mark(start: Anchor, end: Anchor, key: &str) -> Result<(), &'static str> {
    if key.len() > MAX_KEY_LEN {
        return Err("mark key too long");
    }
    if [start, end]
        .iter()
        .any(|a| a.dot().is_some_and(|d| d.counter == 0))
    {
        return Err("mark anchored to counter 0");
    }
    Ok(())
}

fn check_seq_op<C: Content>(op: &SeqOp<C>, dot: Dot) -> Result<(), &'static str> {
    match op {
        SeqOp::Insert { id, content, .. } => {
            if *id != dot {
                return Err("insert's first element is not named by the operation's dot");
            }
            if content.len() == 0 {
                return Err("empty insert");
            }
            Ok(())
        }
        SeqOp::Delete { target, len } => {
            if *len == 0 || target.counter == 0 || target.counter.checked_add(*len).is_none() {
                return Err("bad delete range");
            }
            Ok(())
        }
    }
}

/// Extends insert `prev` with `next` when `next` continues it (typing at the end of the run it
/// just made): one op then holds the whole run. Returns whether it did.
pub(crate) fn try_extend<C: Content>(prev: &mut SeqOp<C>, next: &SeqOp<C>) -> bool {
    let (
        SeqOp::Insert {
            id,
            origin_right,
            content,
            ..
        },
        SeqOp::Insert {
            id: next_id,
            origin_left: next_left,
            origin_right: next_right,
            content: next_content,
        },
    ) = (prev, next)
    else {
        return false;
    };
    let len = content.len() as u64;
    let last = Dot::new(id.replica, id.counter + len - 1);
    if next_id.replica == id.replica
        && next_id.counter == id.counter + len
        && *next_left == Some(last)
        && next_right == origin_right
    {
        content.append(next_content);
        true
    } else {
        false
    }
}
