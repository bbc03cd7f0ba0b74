//! The columnar binary format of a batch of document [`Change`]s: what
//! [`Doc::encode_changes_since`](crate::Doc::encode_changes_since) sends and what a snapshot
//! stores as its history.
//!
//! Following Automerge's columnar change storage and diamond-types' op encoding (and the text
//! engine's own [`ops_format`](crate::seq::ops_format)), each field is its own column, so that
//! runs of equal values and small deltas dominate, and the whole body is deflated by
//! [`compress`](crate::encoding::compress). A change committed per keystroke then costs about a byte.
//!
//! Tables (each a count, then the entries): replicas (8 bytes LE each), containers (a byte
//! `created << 2 | kind`, then a root's name as a byte string or a created container's replica
//! index and counter), map keys (byte strings). Then the change count, the op count, and the
//! columns, each length-prefixed:
//!
//! | column | per | value | encoding |
//! |---|---|---|---|
//! | `change_replica` | change | replica index | run-length |
//! | `change_start` | change | first counter minus the end of the replica's previous change in the batch (1 for its first) | zigzag, run-length |
//! | `change_lamport` | change | Lamport time minus the previous change's last Lamport time + 1 | zigzag, run-length |
//! | `change_ops` | change | number of ops (at least 1) | run-length |
//! | `parent_count` | change | 0 for the default parents, else the number of parents + 1 | run-length |
//! | `parent_replica` | stored parent | replica index | run-length |
//! | `parent_counter` | stored parent | its counter | varint |
//! | `op_head` | op | `len << 4 \| continues << 3 \| kind`; for kind 7 (extended), `flags << 8 \| extended kind << 4 \| 7` | run-length |
//! | `op_obj` | op | container index | run-length |
//! | `op_key` | map op, mark | key index | run-length |
//! | `pred_count` | map op | number of `pred` ids | run-length |
//! | `ref_agents` | reference | 0 for none, else replica index + 1 | run-length |
//! | `ref_counters` | `pred` id, mark anchor | its counter minus the op's counter | zigzag varint |
//! | `left_counters` | present left origin | its counter minus the op's counter | zigzag, run-length |
//! | `right_counters` | present right origin | its counter minus the left origin's (the op's when none) | zigzag, run-length |
//! | `target_counters` | delete | first target minus the previous delete's first target | zigzag varint |
//! | `counter_deltas` | counter op | the delta | zigzag varint |
//! | `text` | text insert | the inserted text, all concatenated | UTF-8 |
//! | `map_values` | map write, mark with a value | the new values (a mark's as a scalar new value) | MessagePack array |
//! | `list_values` | list insert | the inserted values, all concatenated | MessagePack array |
//! | `meta_*` | change | commit message and time (format 5; see [`commit_meta`](super::commit_meta)) | |
//!
//! Extended kinds: 0 is a text mark ([`Op::TextMark`]); its flags are `has_value << 4 | end << 2
//! | start`, each anchor coded 0 (start of text), 1 (before a character), 2 (after one) or 3
//! (end of text); an anchor on a character stores it as a reference (its agent in `ref_agents`,
//! its counter in `ref_counters`), start then end. Any other extended kind is refused with
//! [`DecodeError::UnknownOpKind`]: a change from a newer build that this one cannot apply. Old
//! builds, which know kinds 0 to 6 only, refuse kind 7 as malformed.
//!
//! A change's id end is its start plus the width of its ops (not stored). Its `parents` (a
//! frontier, usually one event) are stored only when they are not the default: the replica's
//! own previous event (none for a change starting at counter 1). So a replica that saw nothing
//! new since its last change stores one zero, as diamond-types stores a parent only when it is
//! not the previous op of the same run. References are an insert's
//! left and right origin, a delete's target, a map op's `pred` ids. An insert flagged
//! `continues` follows an insert into the same container whose last element is its left origin
//! and whose right origin it shares (typing): it stores no reference.
//!
//! Invariant of the decoder: nothing is allocated from a claimed length (vectors grow as values
//! arrive); the change and op counts are bounded by the bytes of the body, and no run of a column
//! with one value per change or per op is longer than the values still expected; the loops over
//! parents and `pred` ids are bounded by the input (each entry consumes a byte of a plain varint
//! column); every change, op, `pred` id, copied key, container id and value decoded is charged,
//! before it is built, to the message's [`DecodeBudget`] (which the inflated body was charged to
//! first), because ops can cost no byte of their own (a map delete without `pred` is all
//! run-length columns) and deflate multiplies what bytes there are; every index is checked,
//! every column is consumed exactly, and every failure is a [`DecodeError`]. Semantic checks
//! ([`Change::validate`], causality) are the caller's.

use std::collections::BTreeMap;

use crate::clock::{Dot, ReplicaId, SeqRange};
use crate::doc::format::commit_meta::{MetaReader, MetaWriter};
use crate::doc::format::value_pack::{self, ReadDocValue};
use crate::doc::{Anchor, Change, ContainerId, ContainerKind, NewValue, Op, Scalar, Value};
use crate::encoding::budget::DecodeBudget;
use crate::encoding::column::{
    add_delta, delta, put_bytes, put_i64, put_u64, unzigzag, zigzag, ColumnReader, RleReader,
    RleWriter,
};
use crate::encoding::DecodeError;
use crate::seq::ops_format::read_replicas;
use crate::seq::{ListContent, SeqError, SeqOp, TextContent};

/// Op kinds in the `op_head` column.
const MAP_SET: u64 = 0;
const MAP_DELETE: u64 = 1;
const TEXT_INSERT: u64 = 2;
const TEXT_DELETE: u64 = 3;
const LIST_INSERT: u64 = 4;
const LIST_DELETE: u64 = 5;
const COUNTER_ADD: u64 = 6;
/// An extended op: its kind is the low 4 bits of `op_head >> 4` (see the module docs).
const EXTENDED: u64 = 7;
const CONTINUES: u64 = 8;
/// Extended kinds.
const TEXT_MARK: u64 = 0;
/// Mark flags (in `op_head >> 8`): anchor codes of the start and end, and whether a value is
/// stored.
const MARK_HAS_VALUE: u64 = 16;
const MARK_FLAGS_END: u64 = 32;

pub(crate) fn kind_code(kind: ContainerKind) -> u8 {
    match kind {
        ContainerKind::Map => 0,
        ContainerKind::List => 1,
        ContainerKind::Text => 2,
        ContainerKind::Counter => 3,
    }
}

pub(crate) fn kind_from_code(code: u8) -> Result<ContainerKind, DecodeError> {
    Ok(match code {
        0 => ContainerKind::Map,
        1 => ContainerKind::List,
        2 => ContainerKind::Text,
        3 => ContainerKind::Counter,
        _ => return Err(DecodeError::Malformed("unknown container kind")),
    })
}

impl From<SeqError> for DecodeError {
    fn from(e: SeqError) -> Self {
        match e {
            SeqError::Format(f) => DecodeError::Format(f),
            SeqError::Malformed(m) => DecodeError::Malformed(m),
            other => DecodeError::Body(other.to_string()),
        }
    }
}

/// The parents a change starting at `start` of `replica` has unless it stores others: the
/// replica's previous event, or none for its first.
fn default_parent(replica: ReplicaId, start: u64) -> Option<Dot> {
    (start > 1).then(|| Dot::new(replica, start - 1))
}

mod decode;
mod encode;

pub(crate) use decode::{decode_each, decode_raw};
pub(crate) use encode::encode_raw;

/// MessagePack of any serializable value (for forging bodies in tests). Serializing into a Vec
/// cannot fail for the plain values the tests use.
#[cfg(test)]
fn msgpack<T: serde::Serialize + ?Sized>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::format::{decode_changes, encode_changes};
    use crate::doc::Scalar;
    use crate::encoding::FormatError;
    use crate::{Doc, VersionVector};
    use proptest::prelude::*;

    /// Decodes a raw body within the budget of its own length.
    fn decode_body(raw: &[u8]) -> Result<Vec<Change>, DecodeError> {
        decode_raw(raw, &mut DecodeBudget::for_input(raw.len()))
    }

    fn r(n: u64) -> ReplicaId {
        ReplicaId::new(n)
    }

    /// A change of replica `replica` from `start` with `ops` built from their dots.
    fn change(
        replica: u64,
        start: u64,
        lamport: u64,
        parents: &[(u64, u64)],
        ops: Vec<Box<dyn Fn(Dot) -> Op>>,
    ) -> Change {
        let mut next = start;
        let mut built = Vec::new();
        for f in ops {
            let op = f(Dot::new(r(replica), next));
            next += op.width();
            built.push(op);
        }
        Change {
            id: SeqRange {
                replica: r(replica),
                start,
                end: next,
            },
            parents: parents.iter().map(|&(a, c)| Dot::new(r(a), c)).collect(),
            lamport,
            ops: built,
            meta: None,
        }
    }

    fn text_insert(
        obj: &ContainerId,
        left: Option<Dot>,
        right: Option<Dot>,
        s: &str,
    ) -> Box<dyn Fn(Dot) -> Op> {
        let (obj, s) = (obj.clone(), s.to_owned());
        Box::new(move |id| Op::Text {
            obj: obj.clone(),
            op: SeqOp::Insert {
                id,
                origin_left: left,
                origin_right: right,
                content: TextContent::from(s.as_str()),
            },
        })
    }

    fn sample() -> Vec<Change> {
        let t = ContainerId::root("body", ContainerKind::Text);
        let l = ContainerId::root("todo", ContainerKind::List);
        let m = ContainerId::root("meta", ContainerKind::Map);
        let c = ContainerId::root("likes", ContainerKind::Counter);
        let nested = ContainerId::Created {
            id: Dot::new(r(2), 1),
            kind: ContainerKind::Map,
        };
        let (m2, c2, l2, l3) = (m.clone(), c.clone(), l.clone(), l.clone());
        let n2 = nested.clone();
        vec![
            change(1, 1, 1, &[], vec![text_insert(&t, None, None, "hé😀")]),
            // Typing on: continues the previous insert (no references stored).
            change(
                1,
                4,
                4,
                &[(1, 3)],
                vec![text_insert(&t, Some(Dot::new(r(1), 3)), None, "x")],
            ),
            change(
                2,
                1,
                2,
                &[(1, 1)],
                vec![
                    Box::new(move |_| Op::MapSet {
                        obj: m2.clone(),
                        key: "child".into(),
                        value: NewValue::Container(ContainerKind::Map),
                        pred: vec![],
                    }),
                    Box::new(move |_| Op::CounterAdd {
                        obj: c2.clone(),
                        delta: -7,
                    }),
                    Box::new(move |id| Op::List {
                        obj: l2.clone(),
                        op: SeqOp::Insert {
                            id,
                            origin_left: None,
                            origin_right: None,
                            content: ListContent(vec![
                                Value::Scalar(Scalar::Str("a".into())),
                                Value::Container(ContainerId::Created {
                                    id: Dot::new(id.replica, id.counter + 1),
                                    kind: ContainerKind::Text,
                                }),
                            ]),
                        },
                    }),
                    Box::new(move |_| Op::MapSet {
                        obj: n2.clone(),
                        key: "k".into(),
                        value: NewValue::Scalar(Scalar::Bytes(vec![1, 2])),
                        pred: vec![Dot::new(r(1), 2)],
                    }),
                ],
            ),
            // Deps that lose an entry and gain others relative to the reference.
            change(
                2,
                6,
                9,
                &[(1, 4), (3, 2)],
                vec![
                    Box::new(move |_| Op::MapDelete {
                        obj: nested.clone(),
                        key: "k".into(),
                        pred: vec![Dot::new(r(2), 5)],
                    }),
                    Box::new(move |_| Op::List {
                        obj: l3.clone(),
                        op: SeqOp::Delete {
                            target: Dot::new(r(2), 3),
                            len: 2,
                        },
                    }),
                    Box::new(move |_| Op::Text {
                        obj: ContainerId::root("body", ContainerKind::Text),
                        op: SeqOp::Delete {
                            target: Dot::new(r(1), 2),
                            len: 3,
                        },
                    }),
                ],
            ),
            // A start that is not right after the replica's previous change; then marks with
            // every anchor shape, with and without a value.
            change(
                1,
                40,
                3,
                &[(2, 2)],
                vec![
                    text_insert(&t, Some(Dot::new(r(1), 1)), Some(Dot::new(r(1), 2)), "y"),
                    mark(
                        &t,
                        Anchor::Before(Dot::new(r(1), 1)),
                        Anchor::After(Dot::new(r(1), 40)),
                        Some(Scalar::Str("https://x".into())),
                    ),
                    mark(&t, Anchor::Start, Anchor::End, None),
                    mark(
                        &t,
                        Anchor::After(Dot::new(r(2), 3)),
                        Anchor::Before(Dot::new(r(1), 4)),
                        Some(Scalar::Bool(true)),
                    ),
                ],
            ),
        ]
    }

    fn mark(
        obj: &ContainerId,
        start: Anchor,
        end: Anchor,
        value: Option<Scalar>,
    ) -> Box<dyn Fn(Dot) -> Op> {
        let obj = obj.clone();
        Box::new(move |_| Op::TextMark {
            obj: obj.clone(),
            start,
            end,
            key: if value.is_some() { "link" } else { "bold" }.into(),
            value: value.clone(),
        })
    }

    /// A body of one op with head `head` on a map, every other column empty.
    fn one_op(head: u64) -> Vec<u8> {
        let empty: &[u8] = &[];
        let nil = msgpack(&Vec::<u8>::new());
        let (zero, one, head) = (run(1, 0), run(1, 1), run(1, head));
        forged(
            1,
            1,
            [
                &zero, &zero, &zero, &one, &zero, empty, empty, &head, &zero, &zero, &zero, empty,
                empty, empty, empty, empty, empty, empty, &nil, &nil,
            ],
        )
    }

    #[test]
    fn op_kinds_this_build_does_not_know_are_refused_with_a_typed_error() {
        // Extended kinds 1.. are kinds 8..: a newer build's ops.
        for ext in [1u64, 2, 15] {
            assert_eq!(
                decode_body(&one_op(ext << 4 | EXTENDED)),
                Err(DecodeError::UnknownOpKind(EXTENDED + ext))
            );
        }
        // Through the whole decoder path a peer uses (framed, compressed), with a mark of
        // unknown flags refused as malformed, not a panic.
        let bytes = crate::encoding::frame(
            crate::encoding::EncodingKind::Changes,
            &one_op(3 << 4 | EXTENDED),
        );
        assert_eq!(decode_changes(&bytes), Err(DecodeError::UnknownOpKind(10)));
        assert_eq!(
            decode_body(&one_op(MARK_FLAGS_END << 8 | TEXT_MARK << 4 | EXTENDED)),
            Err(DecodeError::Malformed("unknown mark flags"))
        );
        // A known mark whose anchor reference is missing.
        assert!(decode_body(&one_op(1 << 8 | TEXT_MARK << 4 | EXTENDED)).is_err());
        // A document refuses such changes whole with the typed error and stays as it was.
        let mut doc = Doc::with_replica(r(5));
        doc.text("t").insert(0, "kept").unwrap();
        doc.commit();
        assert!(matches!(
            doc.apply_changes(&bytes),
            Err(crate::DocError::Decode(DecodeError::UnknownOpKind(10)))
        ));
        assert_eq!(doc.text("t").to_string(), "kept");
        assert_eq!(doc.change_count(), 1);
    }

    #[test]
    fn every_op_kind_and_dependency_shape_round_trips() {
        let changes = sample();
        let bytes = encode_changes(&changes);
        assert_eq!(decode_changes(&bytes).unwrap(), changes);
        assert_eq!(decode_body(&encode_raw(&[])).unwrap(), vec![]);
    }

    #[test]
    fn typing_costs_about_a_byte_per_change() {
        let mut doc = Doc::with_replica(r(1));
        let text: String = "the quick brown fox jumps over the lazy dog ".repeat(50);
        for (i, ch) in text.chars().enumerate() {
            doc.text("body").insert(i, &ch.to_string()).unwrap();
            doc.commit();
        }
        let raw = encode_raw(&doc.log.changes().collect::<Vec<_>>());
        assert_eq!(doc.change_count(), text.chars().count());
        // The text itself, plus a few bytes for the whole run of changes.
        assert!(raw.len() < text.len() + 200, "{} bytes", raw.len());
        // Backspacing it all, a change per keystroke: a byte of target per delete, which
        // deflate squeezes; within the decoder's bound of one op per body byte.
        let n = text.chars().count();
        for i in (0..n).rev() {
            doc.text("body").delete(i, 1).unwrap();
            doc.commit();
        }
        let bytes = doc.encode_changes_since(&VersionVector::new());
        assert_eq!(Doc::change_ids(&bytes).unwrap().len(), 2 * n);
        let mut fresh = Doc::with_replica(r(2));
        fresh.apply_changes(&bytes).unwrap();
        assert_eq!(fresh.text("body").to_string(), "");
        assert!(bytes.len() < text.len() / 2, "{} bytes", bytes.len());
    }

    /// A body with the given raw columns and changes without commit metadata (the three
    /// metadata columns of format 5 follow), for forging hostile inputs.
    fn forged(change_count: u64, op_count: u64, columns: [&[u8]; 20]) -> Vec<u8> {
        let mut raw = Vec::new();
        put_u64(&mut raw, 1);
        raw.extend_from_slice(&1u64.to_le_bytes());
        put_u64(&mut raw, 1);
        raw.push(kind_code(ContainerKind::Map));
        put_bytes(&mut raw, b"m");
        put_u64(&mut raw, 1);
        put_bytes(&mut raw, b"k");
        put_u64(&mut raw, change_count);
        put_u64(&mut raw, op_count);
        for c in columns {
            put_bytes(&mut raw, c);
        }
        let no_meta = run(change_count.min(i64::MAX as u64) as i64, 0);
        for c in [&no_meta[..], &[], &[]] {
            put_bytes(&mut raw, c);
        }
        raw
    }

    /// A run-length column holding `value` `n` times.
    fn run(n: i64, value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_i64(&mut out, n);
        put_u64(&mut out, value);
        out
    }

    #[test]
    fn huge_claimed_counts_are_refused_without_work() {
        let empty: &[u8] = &[];
        let nil = msgpack(&Vec::<u8>::new());
        let one = run(1, 1);
        let zero = run(1, 0);
        let many_zeros = run(i64::MAX, 0);
        let delete = run(1, MAP_DELETE);
        // Counts of changes or ops beyond the bytes present.
        for (changes, ops) in [(1 << 40, 1 << 40), (1, 1 << 40), (2, 1)] {
            let body = forged(changes, ops, [empty; 20]);
            assert!(decode_body(&body).is_err());
        }
        // A change claiming 2^62 parents from one run: stops at the first missing
        // counter byte.
        let huge_parents = run(1, 1 << 62);
        let cols: [&[u8]; 20] = [
            &zero,
            &zero,
            &zero,
            &one,
            &huge_parents,
            &many_zeros,
            empty,
            &delete,
            &zero,
            &zero,
            &zero,
            empty,
            empty,
            empty,
            empty,
            empty,
            empty,
            empty,
            &nil,
            &nil,
        ];
        assert_eq!(
            decode_body(&forged(1, 1, cols)),
            Err(DecodeError::Format(FormatError::Truncated(
                "parent counters"
            )))
        );
        // A map delete claiming 2^62 preds: stops at the first missing reference.
        let huge_preds = run(1, 1 << 62);
        let cols: [&[u8]; 20] = [
            &zero,
            &zero,
            &zero,
            &one,
            &zero,
            empty,
            empty,
            &delete,
            &zero,
            &zero,
            &huge_preds,
            &many_zeros,
            empty,
            empty,
            empty,
            empty,
            empty,
            empty,
            &nil,
            &nil,
        ];
        assert_eq!(
            decode_body(&forged(1, 1, cols)),
            Err(DecodeError::Malformed("empty pred id"))
        );
        // A text insert claiming 2^59 characters that are not there.
        let big_insert = run(1, (1 << 59) | TEXT_INSERT);
        let cols: [&[u8]; 20] = [
            &zero,
            &zero,
            &zero,
            &one,
            &zero,
            empty,
            empty,
            &big_insert,
            &zero,
            empty,
            empty,
            &run(2, 0),
            empty,
            empty,
            empty,
            empty,
            empty,
            b"abc",
            &nil,
            &nil,
        ];
        let mut body = forged(1, 1, cols);
        body[10] = kind_code(ContainerKind::Text);
        assert_eq!(
            decode_body(&body),
            Err(DecodeError::Malformed("text column too short"))
        );
        // Index out of the tables.
        let cols: [&[u8]; 20] = [
            &one, &zero, &zero, &one, &zero, empty, empty, &delete, &zero, &zero, &zero, empty,
            empty, empty, empty, empty, empty, empty, &nil, &nil,
        ];
        assert_eq!(
            decode_body(&forged(1, 1, cols)),
            Err(DecodeError::Malformed("table index out of range"))
        );
        // The same body with a valid replica index decodes (so the forgeries above are close
        // to valid ones).
        let cols: [&[u8]; 20] = [
            &zero, &zero, &zero, &one, &zero, empty, empty, &delete, &zero, &zero, &zero, empty,
            empty, empty, empty, empty, empty, empty, &nil, &nil,
        ];
        assert_eq!(decode_body(&forged(1, 1, cols)).unwrap().len(), 1);
    }

    /// A body of one change of `n` map deletes without `pred`: their heads as one literal
    /// stretch (a byte each), every other op column one run (nothing per op).
    fn map_deletes(n: usize) -> Vec<u8> {
        let empty: &[u8] = &[];
        let nil = msgpack(&Vec::<u8>::new());
        let mut heads = Vec::new();
        put_i64(&mut heads, -(n as i64));
        heads.resize(heads.len() + n, MAP_DELETE as u8);
        let (zero, one, ops, all_zero) = (run(1, 0), run(1, 1), run(1, n as u64), run(n as i64, 0));
        forged(
            1,
            n as u64,
            [
                &zero, &zero, &one, &ops, &zero, empty, empty, &heads, &all_zero, &all_zero,
                &all_zero, empty, empty, empty, empty, empty, empty, empty, &nil, &nil,
            ],
        )
    }

    #[test]
    fn ops_that_cost_no_byte_of_their_own_are_charged_to_the_budget() {
        let raw = map_deletes(1000);
        let decoded = decode_body(&raw).unwrap();
        assert_eq!(decoded[0].ops.len(), 1000);
        // A budget with room for the tables, the change and 100 ops stops at the 101st op.
        let mut budget = DecodeBudget::for_input(raw.len());
        let room = 4096 + std::mem::size_of::<Change>() + 100 * (std::mem::size_of::<Op>() + 2);
        budget.charge(budget.left() - room, "earlier").unwrap();
        assert!(matches!(
            decode_raw(&raw, &mut budget),
            Err(DecodeError::Format(FormatError::BudgetExceeded {
                what: "ops",
                ..
            }))
        ));
    }

    #[test]
    fn runs_longer_than_the_values_expected_are_refused_when_read() {
        let raw = map_deletes(3);
        // The same body with the op containers claiming 2^62 values in one run.
        let mut claims = raw.clone();
        let at = claims
            .windows(2)
            .position(|w| w == run(3, 0))
            .expect("the op container column");
        let huge = run(1 << 62, 0);
        claims.splice(at - 1..at + 2, [&[huge.len() as u8][..], &huge].concat());
        assert_eq!(
            decode_body(&claims),
            Err(DecodeError::Format(FormatError::BadRun("op containers")))
        );
        assert_eq!(decode_body(&raw).unwrap()[0].ops.len(), 3);
    }

    #[test]
    fn truncations_and_bit_flips_are_errors_or_valid_batches() {
        let bytes = encode_changes(&sample());
        for cut in 0..bytes.len() {
            assert!(decode_changes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let raw = encode_raw(&sample());
        for cut in 0..raw.len() {
            assert!(decode_body(&raw[..cut]).is_err(), "raw cut at {cut}");
        }
        for i in 0..raw.len() {
            for bit in 0..8 {
                let mut flipped = raw.clone();
                flipped[i] ^= 1 << bit;
                if let Ok(changes) = decode_body(&flipped) {
                    // Whatever decodes re-encodes to something that decodes to the same.
                    assert_eq!(decode_body(&encode_raw(&changes)).unwrap(), changes);
                    for c in &changes {
                        let _ = c.validate();
                    }
                }
            }
        }
    }

    fn arb_dot() -> impl Strategy<Value = Dot> {
        (1u64..4, 1u64..50).prop_map(|(a, c)| Dot::new(r(a), c))
    }

    fn arb_obj(kind: ContainerKind) -> impl Strategy<Value = ContainerId> {
        prop_oneof![
            prop::sample::select(vec!["a", "b"]).prop_map(move |n| ContainerId::root(n, kind)),
            arb_dot().prop_map(move |id| ContainerId::Created { id, kind }),
        ]
    }

    /// An op builder: the op given its dot.
    #[derive(Clone, Debug)]
    enum OpShape {
        Map(ContainerId, String, Option<i64>, Vec<Dot>),
        Counter(ContainerId, i64),
        TextInsert(ContainerId, Option<Dot>, Option<Dot>, String, bool),
        TextDelete(ContainerId, Dot, u64),
        ListInsert(ContainerId, Option<Dot>, Option<Dot>, Vec<i64>),
        ListDelete(ContainerId, Dot, u64),
        Mark(ContainerId, Anchor, Anchor, String, Option<i64>),
    }

    fn arb_anchor() -> impl Strategy<Value = Anchor> {
        prop_oneof![
            Just(Anchor::Start),
            Just(Anchor::End),
            arb_dot().prop_map(Anchor::Before),
            arb_dot().prop_map(Anchor::After),
        ]
    }

    fn arb_op() -> impl Strategy<Value = OpShape> {
        let opt = || prop::option::of(arb_dot());
        prop_oneof![
            (
                arb_obj(ContainerKind::Map),
                "[a-c]{0,2}",
                prop::option::of(any::<i64>()),
                prop::collection::vec(arb_dot(), 0..3)
            )
                .prop_map(|(o, k, v, p)| OpShape::Map(o, k, v, p)),
            (arb_obj(ContainerKind::Counter), any::<i64>())
                .prop_map(|(o, d)| OpShape::Counter(o, d)),
            (
                arb_obj(ContainerKind::Text),
                opt(),
                opt(),
                "[a-z😀é]{1,4}",
                any::<bool>()
            )
                .prop_map(|(o, l, r, s, c)| OpShape::TextInsert(o, l, r, s, c)),
            (arb_obj(ContainerKind::Text), arb_dot(), 1u64..5)
                .prop_map(|(o, t, n)| OpShape::TextDelete(o, t, n)),
            (
                arb_obj(ContainerKind::List),
                opt(),
                opt(),
                prop::collection::vec(any::<i64>(), 1..3)
            )
                .prop_map(|(o, l, r, v)| OpShape::ListInsert(o, l, r, v)),
            (arb_obj(ContainerKind::List), arb_dot(), 1u64..5)
                .prop_map(|(o, t, n)| OpShape::ListDelete(o, t, n)),
            (
                arb_obj(ContainerKind::Text),
                arb_anchor(),
                arb_anchor(),
                "[a-c]{0,2}",
                prop::option::of(any::<i64>())
            )
                .prop_map(|(o, a, b, k, v)| OpShape::Mark(o, a, b, k, v)),
        ]
    }

    fn build(shapes: Vec<OpShape>) -> Vec<Box<dyn Fn(Dot) -> Op>> {
        let mut last: Option<(ContainerId, Dot, Option<Dot>)> = None;
        let mut out: Vec<Box<dyn Fn(Dot) -> Op>> = Vec::new();
        for shape in shapes {
            // `continue_run` text inserts are made to continue the previous one when they can,
            // so that continuations are exercised; the builder tracks the last insert by the
            // width of earlier ops, which the closures cannot see, so it is resolved here.
            let prev = last.take();
            out.push(match shape {
                OpShape::Map(o, k, v, p) => Box::new(move |_| match v {
                    Some(v) => Op::MapSet {
                        obj: o.clone(),
                        key: k.clone(),
                        value: NewValue::Scalar(Scalar::Int(v)),
                        pred: p.clone(),
                    },
                    None => Op::MapDelete {
                        obj: o.clone(),
                        key: k.clone(),
                        pred: p.clone(),
                    },
                }),
                OpShape::Counter(o, d) => Box::new(move |_| Op::CounterAdd {
                    obj: o.clone(),
                    delta: d,
                }),
                OpShape::TextInsert(o, l, rt, s, cont) => {
                    let (o, l, rt) = match (&prev, cont) {
                        (Some((po, _, pr)), true) => (po.clone(), None, *pr),
                        _ => (o, l, rt),
                    };
                    let n = s.chars().count() as u64;
                    last = Some((o.clone(), Dot::new(r(0), n), rt));
                    Box::new(move |id| Op::Text {
                        obj: o.clone(),
                        op: SeqOp::Insert {
                            id,
                            // A continuation's left origin is the element just before `id`.
                            origin_left: if cont && l.is_none() && id.counter > 1 {
                                Some(Dot::new(id.replica, id.counter - 1))
                            } else {
                                l
                            },
                            origin_right: rt,
                            content: TextContent::from(s.as_str()),
                        },
                    })
                }
                OpShape::TextDelete(o, target, len) => Box::new(move |_| Op::Text {
                    obj: o.clone(),
                    op: SeqOp::Delete { target, len },
                }),
                OpShape::ListInsert(o, l, rt, v) => Box::new(move |id| Op::List {
                    obj: o.clone(),
                    op: SeqOp::Insert {
                        id,
                        origin_left: l,
                        origin_right: rt,
                        content: ListContent(
                            v.iter().map(|&i| Value::Scalar(Scalar::Int(i))).collect(),
                        ),
                    },
                }),
                OpShape::ListDelete(o, target, len) => Box::new(move |_| Op::List {
                    obj: o.clone(),
                    op: SeqOp::Delete { target, len },
                }),
                OpShape::Mark(o, start, end, key, value) => Box::new(move |_| Op::TextMark {
                    obj: o.clone(),
                    start,
                    end,
                    key: key.clone(),
                    value: value.map(Scalar::Int),
                }),
            });
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn arbitrary_batches_round_trip(
            specs in prop::collection::vec(
                (1u64..4, 1u64..30, 1u64..40, prop::collection::vec((1u64..4, 0u64..30), 0..3),
                 prop::collection::vec(arb_op(), 1..5)),
                0..8,
            )
        ) {
            let changes: Vec<Change> = specs
                .into_iter()
                .map(|(replica, start, lamport, deps, ops)| {
                    change(replica, start, lamport, &deps, build(ops))
                })
                .collect();
            let raw = encode_raw(&changes);
            prop_assert_eq!(decode_body(&raw).unwrap(), changes);
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_body(&bytes);
            let mut framed = [b"CRDTC".as_slice(), &[crate::encoding::FORMAT_VERSION; 2], &[0]].concat();
            framed.extend_from_slice(&bytes);
            let _ = decode_changes(&framed);
        }
    }
}
