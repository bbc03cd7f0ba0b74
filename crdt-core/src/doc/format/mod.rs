//! The binary formats of documents: encoded changes (what peers exchange) and snapshots (what is
//! saved). Bytes of a document are touched here and in the log's own `encode`/`decode`
//! (`doc::oplog`, which writes the history as it holds it) and nowhere else; the
//! formats are built on the codec primitives of `crate::encoding` (columns, the envelope, the
//! decode budget, MessagePack) and on the sequence engine's own formats, and nothing below them
//! imports these modules.
//!
//! # Format
//!
//! Every encoding starts with the 6-byte header of `crate::encoding` (magic `b"CRDT"`, a kind
//! byte, `b'C'` changes, `b'H'` a whole history or `b'S'` snapshot, and the format version,
//! currently `6`), then a columnar body in the envelope of `crate::encoding::compress`:
//!
//! * Changes body: a batch of changes in causal order, in the columnar format of the `changes` module
//!   (tables of replicas, containers and keys; change columns with deltas and dependency
//!   differences; op columns with runs of typing costing almost nothing; all text in one column).
//! * History body: a whole history as the log holds it (written and read by `doc::oplog`, as a
//!   snapshot's history is): what `Doc::encode_changes_since` sends a peer that holds nothing.
//!   A document that holds nothing builds its state from the log's merged operations and keeps
//!   the log as decoded, so a joining replica rebuilds no change; one that holds something
//!   applies the changes the log rebuilds. `Doc::apply_changes` and `Doc::change_ids` take
//!   both kinds.
//! * Snapshot body (the `snapshot` module): the version, the history as the log holds it (runs
//!   of the causal graph, run-length change widths, merged operations; written by
//!   `doc::oplog`), the changes still waiting for their causal past (a change batch), and the
//!   materialized state of every container (texts and lists as the sequence engine's own
//!   run-length encoded state), so that loading neither replays operations nor rebuilds
//!   changes.
//!
//! Older versions are not read: 2 had MessagePack bodies, 3 stored a full version vector per
//! change, 4 had no commit messages and times, 5 saved the history as a change batch. A
//! document or batch of an older version is
//! refused as [`DecodeError::UnsupportedVersion`].
//!
//! Decoding is bounded by what was received, not by what the bytes claim: every length is
//! checked against the bytes that remain before anything is allocated, run-length columns hold
//! no more values than expected, and the bytes inflated and the memory of every value decoded
//! are charged to one `DecodeBudget` (the private module `crate::encoding::budget`) per message,
//! a fixed multiple of the bytes received ([`DECODE_RATIO`](crate::DECODE_RATIO), at most
//! [`MAX_DECODED`](crate::MAX_DECODED)). Every failure is a [`DecodeError`].

pub(crate) mod changes;
pub(crate) mod commit_meta;
pub(crate) mod snapshot;
pub(crate) mod value_pack;

use std::borrow::Cow;

use crate::doc::Change;
use crate::encoding::budget::DecodeBudget;
use crate::encoding::{frame, unframe, DecodeError, EncodingKind};

/// Encodes a batch of changes (in causal order).
pub(crate) fn encode_changes<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Vec<u8> {
    frame(EncodingKind::Changes, &changes::encode_raw(changes))
}

/// Encodes a whole history, as the log encodes itself (`OpLog::encode`): a batch for a peer
/// that holds nothing.
pub(crate) fn encode_history(raw_log: &[u8]) -> Vec<u8> {
    frame(EncodingKind::History, raw_log)
}

/// Decodes a batch of changes made by [`encode_changes`]; structure only (see [`changes`]),
/// within the budget of `bytes`' length (the tests' and the fuzz targets' reader).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn decode_changes(bytes: &[u8]) -> Result<Vec<Change>, DecodeError> {
    let mut budget = DecodeBudget::for_input(bytes.len());
    let raw = unframe(EncodingKind::Changes, bytes, &mut budget)?;
    changes::decode_raw(&raw, &mut budget)
}

/// A received batch of changes made by [`encode_changes`] or [`encode_history`], inflated
/// once and decoded as often as its receiver needs: `Doc::apply_changes` checks the whole
/// batch in one pass and applies it in a second (in one pass when the document holds nothing,
/// undoing it when refused), so that it never holds all of its changes at once (a whole history
/// held as changes took 42 times the memory of the document it built).
pub(crate) struct ChangeBatch<'a> {
    raw: Cow<'a, [u8]>,
    /// Whether the body is a whole history in the log's form (`b'H'`), not a change batch.
    history: bool,
    /// The message's budget once the body is inflated: each pass decodes within a copy of it,
    /// so a pass may decode what one decoding of the whole batch may.
    budget: DecodeBudget,
}

impl<'a> ChangeBatch<'a> {
    /// Checks the header of `bytes` and inflates the body, within the budget of their length.
    pub(crate) fn open(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut budget = DecodeBudget::for_input(bytes.len());
        let history = bytes.get(4) == Some(&EncodingKind::History.byte());
        let kind = match history {
            true => EncodingKind::History,
            false => EncodingKind::Changes,
        };
        let raw = unframe(kind, bytes, &mut budget)?;
        Ok(ChangeBatch {
            raw,
            history,
            budget,
        })
    }

    /// A whole history's body, for the log to decode, and a copy of the budget left to
    /// decode it in; `None` for a change batch.
    pub(crate) fn history(&self) -> Option<(&[u8], DecodeBudget)> {
        self.history.then(|| (&*self.raw, self.budget.clone()))
    }

    /// Decodes a change batch one change at a time (structure only, see [`changes`]), handing
    /// each to `each` with the number of changes that follow it, until `each` returns false. A
    /// pass that ran to the end without error read a well-formed batch. A whole history has no
    /// change of its own: it is refused here, and read through [`ChangeBatch::history`].
    pub(crate) fn for_each(
        &self,
        each: &mut dyn FnMut(Change, usize) -> bool,
    ) -> Result<(), DecodeError> {
        if self.history {
            return Err(DecodeError::Malformed(
                "a whole history read as a change batch",
            ));
        }
        changes::decode_each(&self.raw, &mut self.budget.clone(), each)
    }
}
