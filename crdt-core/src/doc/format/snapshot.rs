//! The binary format of a whole document ([`Doc::save`](crate::Doc::save)): its version, its
//! history as the log holds it (graph runs, merged operations: the log's own `encode`), the
//! changes still waiting for their causal past in the columnar change format of
//! [`changes`](super::changes), and the materialized state of every container, so that loading
//! replays nothing and rebuilds no change.
//!
//! Body (inside the [`compress`](crate::encoding::compress) envelope): the version (a count, then per
//! entry the replica as 8 bytes LE and the counter as a varint); the history (a byte string the
//! log decodes and checks) and the waiting changes (a length-prefixed raw change batch); the
//! containers (a count, then per container
//! its id and its state: a kind byte, then a map's entries as MessagePack (0), a list's (1) or
//! text's (2) sequence state ([`Sequence::encode_state`](crate::seq::Sequence::encode_state)) as
//! a byte string, a counter's value as a zigzag varint (3), or a text's sequence state with an
//! empty content column (4), whose live characters the loader takes from the history's inserts
//! by their ids (`doc/container_snapshot.rs`; what `save` writes for every text whose
//! characters the history gives back exactly)); the parent links (a count, then per link the
//! child's id, the parent's id, and the key: `0` and a byte string for a map key, `1` and a dot
//! for a list element). A container id is a byte `created << 2 | kind`, then a root's name as a
//! byte string or a created container's dot (replica 8 bytes LE, counter varint).
//!
//! Invariant of the decoder: as for every format of this module, counts are bounded by the bytes
//! that remain before anything is allocated, everything decoded (the waiting changes, every
//! container's state, the parent links; the log charges the history's parts) is charged to the one
//! [`DecodeBudget`](crate::encoding::budget::DecodeBudget) of the whole snapshot, the version's entries
//! come in the order the encoder writes them (strictly increasing replicas, so building the
//! version is linear), and every failure is a [`DecodeError`]; agreement between the parts
//! (version and history, kinds, parents) is checked by the caller.

use crate::clock::{Dot, ReplicaId, VersionVector};
use crate::doc::format::changes::{self, kind_code, kind_from_code};
use crate::doc::format::value_pack;
use crate::doc::state::{MapEntry, ParentKey, ParentLink};
use crate::doc::{Change, ContainerId};
use crate::encoding::budget::DecodeBudget;
use crate::encoding::column::{put_bytes, put_i64, put_u64, ColumnReader};
use crate::encoding::DecodeError;

/// One container's state in a snapshot.
pub(crate) enum ContainerSnapshot {
    /// A map's keys and their concurrent values.
    Map(Vec<(String, Vec<MapEntry>)>),
    /// A list's sequence state.
    List(Vec<u8>),
    /// A text's sequence state.
    Text(Vec<u8>),
    /// A text's sequence state without its live characters, which the history's inserts hold
    /// (see `doc/container_snapshot.rs`).
    TextFromHistory(Vec<u8>),
    /// A text's sequence state without its live characters and without the origins the
    /// history's inserts give its runs (see `doc/container_snapshot.rs`): what saves write.
    TextRunsFromHistory(Vec<u8>),
    /// A counter's value.
    Counter(i64),
}

/// A snapshot as written, borrowing the document.
pub(crate) struct SnapshotRef<'a> {
    pub(crate) version: &'a VersionVector,
    /// The history, as the log encodes itself.
    pub(crate) history: Vec<u8>,
    pub(crate) pending: Vec<&'a Change>,
    pub(crate) containers: Vec<(&'a ContainerId, ContainerSnapshot)>,
    pub(crate) parents: Vec<(&'a ContainerId, &'a ParentLink)>,
}

/// A snapshot as read.
pub(crate) struct Snapshot<'a> {
    pub(crate) version: VersionVector,
    /// The history's bytes, for the log to decode.
    pub(crate) history: &'a [u8],
    pub(crate) pending: Vec<Change>,
    pub(crate) containers: Vec<(ContainerId, ContainerSnapshot)>,
    pub(crate) parents: Vec<(ContainerId, ParentLink)>,
}

pub(crate) fn put_dot(out: &mut Vec<u8>, dot: Dot) {
    out.extend_from_slice(&dot.replica.0.to_le_bytes());
    put_u64(out, dot.counter);
}

pub(crate) fn read_dot(r: &mut ColumnReader<'_>) -> Result<Dot, DecodeError> {
    let replica = ReplicaId(r.fixed_u64("replica")?);
    Ok(Dot::new(replica, r.u64("counter")?))
}

pub(crate) fn put_container_id(out: &mut Vec<u8>, id: &ContainerId) {
    match id {
        ContainerId::Root { name, kind } => {
            out.push(kind_code(*kind));
            put_bytes(out, name.as_bytes());
        }
        ContainerId::Created { id, kind } => {
            out.push(4 | kind_code(*kind));
            put_dot(out, *id);
        }
    }
}

pub(crate) fn read_container_id(
    r: &mut ColumnReader<'_>,
    budget: &mut DecodeBudget,
) -> Result<ContainerId, DecodeError> {
    let tag = r.u8("container tag")?;
    if tag > 7 {
        return Err(DecodeError::Malformed("unknown container tag"));
    }
    let kind = kind_from_code(tag & 3)?;
    budget.charge_values::<ContainerId>(1, 0, "container ids")?;
    Ok(if tag & 4 == 0 {
        ContainerId::root(read_str(r, "root name", budget)?, kind)
    } else {
        ContainerId::Created {
            id: read_dot(r)?,
            kind,
        }
    })
}

fn read_str(
    r: &mut ColumnReader<'_>,
    what: &'static str,
    budget: &mut DecodeBudget,
) -> Result<String, DecodeError> {
    let s = std::str::from_utf8(r.bytes(what)?)
        .map_err(|_| DecodeError::Malformed("string is not UTF-8"))?;
    budget.charge(s.len(), what)?;
    Ok(s.to_owned())
}

/// A byte string of the body, copied, charged to `budget`.
fn read_owned_bytes(
    r: &mut ColumnReader<'_>,
    what: &'static str,
    budget: &mut DecodeBudget,
) -> Result<Vec<u8>, DecodeError> {
    let bytes = r.bytes(what)?;
    budget.charge(bytes.len(), what)?;
    Ok(bytes.to_vec())
}

/// Encodes a snapshot body (without header or envelope).
pub(crate) fn encode_raw(s: &SnapshotRef<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    put_u64(&mut out, s.version.len() as u64);
    for (replica, counter) in s.version.iter() {
        put_dot(&mut out, Dot::new(replica, counter));
    }
    put_bytes(&mut out, &s.history);
    put_bytes(&mut out, &changes::encode_raw(s.pending.iter().copied()));
    put_u64(&mut out, s.containers.len() as u64);
    for (id, state) in &s.containers {
        put_container_id(&mut out, id);
        match state {
            ContainerSnapshot::Map(entries) => {
                out.push(0);
                put_bytes(&mut out, &value_pack::map_entries(entries));
            }
            ContainerSnapshot::List(bytes) => {
                out.push(1);
                put_bytes(&mut out, bytes);
            }
            ContainerSnapshot::Text(bytes) => {
                out.push(2);
                put_bytes(&mut out, bytes);
            }
            ContainerSnapshot::Counter(n) => {
                out.push(3);
                put_i64(&mut out, *n);
            }
            ContainerSnapshot::TextFromHistory(bytes) => {
                out.push(4);
                put_bytes(&mut out, bytes);
            }
            ContainerSnapshot::TextRunsFromHistory(bytes) => {
                out.push(5);
                put_bytes(&mut out, bytes);
            }
        }
    }
    put_u64(&mut out, s.parents.len() as u64);
    for (id, link) in &s.parents {
        put_container_id(&mut out, id);
        put_container_id(&mut out, &link.parent);
        match &link.key {
            ParentKey::Map(key) => {
                out.push(0);
                put_bytes(&mut out, key.as_bytes());
            }
            ParentKey::List(dot) => {
                out.push(1);
                put_dot(&mut out, *dot);
            }
        }
    }
    out
}

/// Decodes a snapshot body made by [`encode_raw`], charging what it decodes to `budget`.
/// Structure only: the caller checks that the parts agree and validates the changes.
pub(crate) fn decode_raw<'a>(
    raw: &'a [u8],
    budget: &mut DecodeBudget,
) -> Result<Snapshot<'a>, DecodeError> {
    let mut r = ColumnReader::new(raw);
    let n = r.count("version entries", 9, r.remaining())?;
    let mut version = VersionVector::new();
    let mut previous: Option<ReplicaId> = None;
    for _ in 0..n {
        let dot = read_dot(&mut r)?;
        // In increasing order, as written: each entry is appended, never inserted.
        if previous.is_some_and(|p| p >= dot.replica) || dot.counter == 0 {
            return Err(DecodeError::Malformed("bad version entry"));
        }
        previous = Some(dot.replica);
        version.set(dot.replica, dot.counter);
    }
    let history = r.bytes("history")?;
    let pending = changes::decode_raw(r.bytes("waiting changes")?, budget)?;
    let n = r.count("containers", 3, r.remaining())?;
    let mut containers = Vec::new();
    for _ in 0..n {
        let id = read_container_id(&mut r, budget)?;
        budget.charge_values::<ContainerSnapshot>(1, 0, "containers")?;
        let state = match r.u8("container state")? {
            0 => ContainerSnapshot::Map(value_pack::read_map_entries(
                r.bytes("map entries")?,
                budget,
            )?),
            1 => ContainerSnapshot::List(read_owned_bytes(&mut r, "list state", budget)?),
            2 => ContainerSnapshot::Text(read_owned_bytes(&mut r, "text state", budget)?),
            3 => ContainerSnapshot::Counter(r.i64("counter")?),
            4 => {
                ContainerSnapshot::TextFromHistory(read_owned_bytes(&mut r, "text state", budget)?)
            }
            5 => ContainerSnapshot::TextRunsFromHistory(read_owned_bytes(
                &mut r,
                "text state",
                budget,
            )?),
            _ => return Err(DecodeError::Malformed("unknown container state")),
        };
        containers.push((id, state));
    }
    let n = r.count("parent links", 5, r.remaining())?;
    let mut parents = Vec::new();
    for _ in 0..n {
        let id = read_container_id(&mut r, budget)?;
        let parent = read_container_id(&mut r, budget)?;
        budget.charge_values::<ParentLink>(1, 0, "parent links")?;
        let key = match r.u8("parent key")? {
            0 => ParentKey::Map(read_str(&mut r, "parent key", budget)?),
            1 => ParentKey::List(read_dot(&mut r)?),
            _ => return Err(DecodeError::Malformed("unknown parent key")),
        };
        parents.push((id, ParentLink { parent, key }));
    }
    r.finish("snapshot")?;
    Ok(Snapshot {
        version,
        history,
        pending,
        containers,
        parents,
    })
}
