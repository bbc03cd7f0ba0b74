//! The wire format of the sync protocol: the [`Message`]s peers exchange and their encoding as
//! MessagePack frames. This is the only file of the protocol that touches bytes.
//!
//! Every frame is one MessagePack array whose first element is the protocol version
//! ([`PROTOCOL_VERSION`]) and whose second is the message kind; the remaining elements are the
//! message's fields, in this order:
//!
//! | kind | message | elements |
//! |---|---|---|
//! | 0 | [`Message::Hello`] | `[1, 0, doc: str, version: map<u64,u64>]` |
//! | 1 | [`Message::Changes`] | `[1, 1, doc: str, bytes: bin, version: map<u64,u64>]` |
//! | 2 | [`Message::Ack`] | `[1, 2, doc: str, version: map<u64,u64>]` |
//! | 3 | [`Message::Presence`] | `[1, 3, doc: str, peer: u64, clock: u64, state: bin \| nil]` |
//! | 4 | [`Message::Error`] | `[1, 4, doc: str \| nil, code: u16, message: str]` |
//! | 5 | [`Message::Signal`] | `[1, 5, doc: str, from: u64, to: u64, payload: bin]` |
//!
//! A version map goes from replica id to the highest contiguous counter seen of that replica
//! (see [`VersionVector`]). A document id is 1 to [`MAX_DOC_ID_LEN`] bytes of `[A-Za-z0-9._~:/-]`.
//!
//! Invariant: [`decode`] never panics and never allocates more than the frame it is given; every
//! way a frame can be wrong is a [`ProtocolError`] variant. A frame of another protocol version is
//! refused as [`ProtocolError::UnsupportedVersion`] before anything else of it is read, so a newer
//! peer can be told which version to speak.
//!
//! The framing follows the practice of Automerge's sync messages (a version byte ahead of every
//! message) with MessagePack in place of a custom binary layout, so a client in another language
//! needs only a MessagePack library.
//!
//! ```
//! use crdt_core::sync::{decode, encode, DocId, Message};
//! use crdt_core::{ReplicaId, VersionVector};
//!
//! let doc = DocId::new("notes/2024:draft").unwrap();
//! let version: VersionVector = [(ReplicaId::new(7), 3)].into_iter().collect();
//! let hello = Message::Hello { doc, version };
//! let frame = encode(&hello);
//! assert_eq!(decode(&frame).unwrap(), hello);
//! assert!(decode(&frame[..frame.len() - 1]).is_err());
//! ```

use std::fmt;
use std::io::ErrorKind;
use std::str::FromStr;

use crate::clock::{ReplicaId, VersionVector};
use crate::encoding::msgpack::{
    put_array_len, put_bin, put_map_len, put_nil, put_str, put_uint, PackReader,
};
use crate::encoding::FormatError;

/// The protocol version this code speaks; the first element of every frame.
pub const PROTOCOL_VERSION: u64 = 1;

/// Largest frame [`decode`] accepts: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// Longest document id, in bytes.
pub const MAX_DOC_ID_LEN: usize = 256;

/// Most entries (replicas) one version vector in a frame may hold: far above any real document
/// (one entry per device or tab that ever wrote to it), and low enough that a peer cannot make
/// the other side merge millions of entries per frame. A frame over it is refused with
/// [`ProtocolError::TooManyVersionEntries`].
/// It equals the document's `MAX_REPLICAS` (asserted at compile time at the crate root, so that
/// the protocol does not depend on the document): a document never holds more.
pub const MAX_VERSION_ENTRIES: usize = 1 << 16;

const KIND_HELLO: u64 = 0;
const KIND_CHANGES: u64 = 1;
const KIND_ACK: u64 = 2;
const KIND_PRESENCE: u64 = 3;
const KIND_ERROR: u64 = 4;
const KIND_SIGNAL: u64 = 5;

/// Why a string is not a [`DocId`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DocIdError {
    /// The id is the empty string.
    #[error("document id is empty")]
    Empty,
    /// The id is longer than [`MAX_DOC_ID_LEN`] bytes.
    #[error("document id is {len} bytes long, more than {MAX_DOC_ID_LEN}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The id holds a character outside `[A-Za-z0-9._~:/-]`.
    #[error("document id holds {found:?} at byte {at}; allowed are A-Z a-z 0-9 . _ ~ : / -")]
    BadChar {
        /// The offending character.
        found: char,
        /// Its byte offset.
        at: usize,
    },
}

/// The name of a document on the wire: 1 to [`MAX_DOC_ID_LEN`] bytes of `[A-Za-z0-9._~:/-]`, so
/// that it is safe in URLs, file names (after mapping `/`) and logs.
///
/// ```
/// use crdt_core::sync::{DocId, DocIdError};
/// assert_eq!(DocId::new("team-1/notes.md").unwrap().as_str(), "team-1/notes.md");
/// assert_eq!(DocId::new(""), Err(DocIdError::Empty));
/// assert!(matches!(DocId::new("a b"), Err(DocIdError::BadChar { found: ' ', at: 1 })));
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocId(String);

impl DocId {
    /// Validates `id` as a document id.
    pub fn new(id: impl Into<String>) -> Result<Self, DocIdError> {
        let id = id.into();
        Self::check(&id)?;
        Ok(DocId(id))
    }

    fn check(id: &str) -> Result<(), DocIdError> {
        if id.is_empty() {
            return Err(DocIdError::Empty);
        }
        if id.len() > MAX_DOC_ID_LEN {
            return Err(DocIdError::TooLong { len: id.len() });
        }
        match id
            .char_indices()
            // `matches!`, not `"._~:/-".contains(c)`: that searches a string for the char's UTF-8
            // (core's two-way string search, 2 KB of the wasm build).
            .find(|&(_, c)| {
                !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | ':' | '/' | '-'))
            }) {
            Some((at, found)) => Err(DocIdError::BadChar { found, at }),
            None => Ok(()),
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocId({:?})", self.0)
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DocId {
    type Err = DocIdError;
    fn from_str(s: &str) -> Result<Self, DocIdError> {
        DocId::new(s)
    }
}

impl TryFrom<String> for DocId {
    type Error = DocIdError;
    fn try_from(s: String) -> Result<Self, DocIdError> {
        DocId::new(s)
    }
}

impl TryFrom<&str> for DocId {
    type Error = DocIdError;
    fn try_from(s: &str) -> Result<Self, DocIdError> {
        DocId::new(s)
    }
}

impl AsRef<str> for DocId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Who a [`Message::Presence`] is about: a connection-level peer id (a client typically uses its
/// [`crate::ReplicaId`]'s value; a relay should overwrite it with the id of the connection it
/// came from, so that peers cannot speak for each other).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u64);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// What went wrong, as carried by [`Message::Error`]. The numbers are stable wire values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 1: a frame could not be decoded.
    BadMessage,
    /// 2: the frame's protocol version is not spoken here; the message says which is.
    UnsupportedVersion,
    /// 3: a message other than `Hello` for a document the sender has not joined.
    NotJoined,
    /// 4: the sender may not access the document.
    Unauthorized,
    /// 5: the sender may read but not write the document.
    ReadOnly,
    /// 6: the sender sends too much too fast.
    RateLimited,
    /// 7: a frame or document exceeds a size limit.
    TooLarge,
    /// 8: the other side failed for reasons of its own.
    Internal,
    /// 9: `Changes` whose bytes the document refused.
    BadChanges,
    /// 10: `Changes` under a replica id that another live connection writes. The sender must
    /// continue under a fresh replica id (see the relay's protocol documentation).
    ReplicaTaken,
    /// 11: a `Signal` addressed to a peer that is not in the document's room (it left, is in
    /// another room, or in cluster mode is connected to another node).
    UnknownPeer,
    /// A code this version does not know (sent by a newer peer); kept so it can be reported.
    Unknown(u16),
}

impl ErrorCode {
    /// Every code this version knows.
    pub const KNOWN: [ErrorCode; 11] = [
        ErrorCode::BadMessage,
        ErrorCode::UnsupportedVersion,
        ErrorCode::NotJoined,
        ErrorCode::Unauthorized,
        ErrorCode::ReadOnly,
        ErrorCode::RateLimited,
        ErrorCode::TooLarge,
        ErrorCode::Internal,
        ErrorCode::BadChanges,
        ErrorCode::ReplicaTaken,
        ErrorCode::UnknownPeer,
    ];

    /// The wire value.
    pub fn code(self) -> u16 {
        match self {
            ErrorCode::BadMessage => 1,
            ErrorCode::UnsupportedVersion => 2,
            ErrorCode::NotJoined => 3,
            ErrorCode::Unauthorized => 4,
            ErrorCode::ReadOnly => 5,
            ErrorCode::RateLimited => 6,
            ErrorCode::TooLarge => 7,
            ErrorCode::Internal => 8,
            ErrorCode::BadChanges => 9,
            ErrorCode::ReplicaTaken => 10,
            ErrorCode::UnknownPeer => 11,
            ErrorCode::Unknown(code) => code,
        }
    }

    /// The code of a wire value; values this version does not know become [`ErrorCode::Unknown`].
    pub fn from_code(code: u16) -> ErrorCode {
        Self::KNOWN
            .into_iter()
            .find(|known| known.code() == code)
            .unwrap_or(ErrorCode::Unknown(code))
    }
}

/// One message of the sync protocol; see the [module docs](self) for the frame layout and
/// [`crate::sync`] for when each is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Joins `doc` (or re-synchronises it): "I hold `version`; send me what I lack".
    Hello {
        /// The document.
        doc: DocId,
        /// Everything the sender holds.
        version: VersionVector,
    },
    /// Encoded changes of `doc`, as the document's `encode_changes_since` produced them.
    Changes {
        /// The document.
        doc: DocId,
        /// The encoded changes, opaque to the protocol.
        bytes: Vec<u8>,
        /// Entries of the sender's version that grew since it last told this peer (the sender
        /// holds at least these events). Lets the receiver know the sender has what it sent, so
        /// nothing is echoed back.
        version: VersionVector,
    },
    /// "I now hold `version`": answers `Changes` that advanced the receiver.
    Ack {
        /// The document.
        doc: DocId,
        /// Entries of the sender's version that grew since it last told this peer.
        version: VersionVector,
    },
    /// Ephemeral per-peer state (cursor, selection, name, ...), opaque bytes chosen by the app.
    Presence {
        /// The document.
        doc: DocId,
        /// Whose state this is.
        peer: PeerId,
        /// The peer's presence counter: a receiver keeps the state with the highest clock, so a
        /// stale or repeated update is ignored.
        clock: u64,
        /// The state, or `None` when the peer left (a removal wins over a state of equal clock).
        state: Option<Vec<u8>>,
    },
    /// Something went wrong, about `doc` or about the connection as a whole.
    Error {
        /// The document concerned, if any.
        doc: Option<DocId>,
        /// What kind of failure.
        code: ErrorCode,
        /// A human-readable explanation.
        message: String,
    },
    /// A signaling payload (a WebRTC offer, answer or ICE candidate: opaque to the protocol)
    /// from one peer of `doc`'s room to another, so that the two can open a direct channel and
    /// run a [`SyncSession`](crate::sync::SyncSession) over it. A relay routes it only to `to`,
    /// with `from` replaced by the sender's connection id (as for presence).
    Signal {
        /// The document whose room both peers joined.
        doc: DocId,
        /// The sender (set by the relay; a sender's own claim is not trusted).
        from: PeerId,
        /// The addressee: a peer id as presence carries it.
        to: PeerId,
        /// What the peers' WebRTC stacks exchange.
        payload: Vec<u8>,
    },
}

impl Message {
    /// The document the message is about (`None` for a connection-level error).
    pub fn doc(&self) -> Option<&DocId> {
        match self {
            Message::Hello { doc, .. }
            | Message::Changes { doc, .. }
            | Message::Ack { doc, .. }
            | Message::Presence { doc, .. }
            | Message::Signal { doc, .. } => Some(doc),
            Message::Error { doc, .. } => doc.as_ref(),
        }
    }
}

/// Why a frame could not be decoded. [`decode`] returns one of these for every bad input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The frame is larger than the limit it was decoded with.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Frame length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The frame ends before its last field does.
    #[error("frame is truncated")]
    Truncated,
    /// The frame is of a protocol version this code does not speak.
    #[error("protocol version {version} is not supported (this peer speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion {
        /// The version the frame claims.
        version: u64,
    },
    /// The message kind is unknown.
    #[error("unknown message kind {kind}")]
    UnknownKind {
        /// The kind the frame claims.
        kind: u64,
    },
    /// The frame is not the MessagePack array its kind requires.
    #[error("malformed frame: {reason}")]
    Malformed {
        /// What the decoder found wrong.
        reason: String,
    },
    /// The document id is invalid.
    #[error("bad document id: {0}")]
    BadDocId(#[from] DocIdError),
    /// A version vector holds more entries than [`MAX_VERSION_ENTRIES`].
    #[error("a version vector of {count} entries exceeds the limit of {max}")]
    TooManyVersionEntries {
        /// Entries the frame claims.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Bytes follow the message.
    #[error("{count} bytes follow the message")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

impl ProtocolError {
    /// The [`ErrorCode`] to report this error to the sender with.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::TooLarge { .. } => ErrorCode::TooLarge,
            ProtocolError::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
            _ => ErrorCode::BadMessage,
        }
    }
}

impl From<rmp_serde::decode::Error> for ProtocolError {
    fn from(e: rmp_serde::decode::Error) -> Self {
        use rmp_serde::decode::Error as E;
        match &e {
            E::InvalidMarkerRead(io) | E::InvalidDataRead(io)
                if io.kind() == ErrorKind::UnexpectedEof =>
            {
                ProtocolError::Truncated
            }
            _ => ProtocolError::Malformed {
                reason: e.to_string(),
            },
        }
    }
}

/// Encodes `message` as one frame.
pub fn encode(message: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    let header = |out: &mut Vec<u8>, len: usize, kind: u64| {
        put_array_len(out, len);
        put_uint(out, PROTOCOL_VERSION);
        put_uint(out, kind);
    };
    match message {
        Message::Hello { doc, version } => {
            header(&mut out, 4, KIND_HELLO);
            put_str(&mut out, doc.as_str());
            put_version(&mut out, version);
        }
        Message::Changes {
            doc,
            bytes,
            version,
        } => {
            header(&mut out, 5, KIND_CHANGES);
            put_str(&mut out, doc.as_str());
            put_bin(&mut out, bytes);
            put_version(&mut out, version);
        }
        Message::Ack { doc, version } => {
            header(&mut out, 4, KIND_ACK);
            put_str(&mut out, doc.as_str());
            put_version(&mut out, version);
        }
        Message::Presence {
            doc,
            peer,
            clock,
            state,
        } => {
            header(&mut out, 6, KIND_PRESENCE);
            put_str(&mut out, doc.as_str());
            put_uint(&mut out, peer.0);
            put_uint(&mut out, *clock);
            match state {
                Some(state) => put_bin(&mut out, state),
                None => put_nil(&mut out),
            }
        }
        Message::Error { doc, code, message } => {
            header(&mut out, 5, KIND_ERROR);
            match doc {
                Some(doc) => put_str(&mut out, doc.as_str()),
                None => put_nil(&mut out),
            }
            put_uint(&mut out, u64::from(code.code()));
            put_str(&mut out, message);
        }
        Message::Signal {
            doc,
            from,
            to,
            payload,
        } => {
            header(&mut out, 6, KIND_SIGNAL);
            put_str(&mut out, doc.as_str());
            put_uint(&mut out, from.0);
            put_uint(&mut out, to.0);
            put_bin(&mut out, payload);
        }
    }
    out
}

/// A version as a map of replica to counter, in replica order.
fn put_version(out: &mut Vec<u8>, version: &VersionVector) {
    put_map_len(out, version.len());
    for (replica, counter) in version.iter() {
        put_uint(out, replica.get());
        put_uint(out, counter);
    }
}

/// Decodes one frame of at most [`DEFAULT_MAX_FRAME`] bytes.
pub fn decode(frame: &[u8]) -> Result<Message, ProtocolError> {
    decode_bounded(frame, DEFAULT_MAX_FRAME)
}

/// Decodes one frame of at most `max_frame` bytes. Never panics; allocates at most in proportion
/// to the frame (every string and byte string is a slice of it, copied once). The body of a
/// `Changes` stays bytes here: the document decodes it within the budget of its own length (see
/// `DecodeBudget` in `crate::encoding`).
pub fn decode_bounded(frame: &[u8], max_frame: usize) -> Result<Message, ProtocolError> {
    if frame.len() > max_frame {
        return Err(ProtocolError::TooLarge {
            len: frame.len(),
            max: max_frame,
        });
    }
    peek_header(frame)?;
    let mut r = PackReader::new(frame, "frame");
    let message = read_message(&mut r).map_err(|e| match e {
        // A claimed length beyond the bytes present is a cut frame, as running out is.
        FormatError::Truncated(_) | FormatError::CountTooLarge { .. } => ProtocolError::Truncated,
        other => ProtocolError::Malformed {
            reason: other.to_string(),
        },
    })??;
    if r.remaining() > 0 {
        return Err(ProtocolError::TrailingBytes {
            count: r.remaining(),
        });
    }
    Ok(message)
}

/// Reads the frame array (after [`peek_header`] checked its version and kind). The outer error is
/// the MessagePack's, the inner one a document id's or the element count's.
fn read_message(r: &mut PackReader<'_>) -> Result<Result<Message, ProtocolError>, FormatError> {
    let len = r.array_len()?;
    let _version = r.u64()?;
    let kind = r.u64()?;
    let want = match kind {
        KIND_HELLO | KIND_ACK => 4,
        KIND_CHANGES | KIND_ERROR => 5,
        KIND_PRESENCE | KIND_SIGNAL => 6,
        other => return Ok(Err(ProtocolError::UnknownKind { kind: other })),
    };
    if len != want {
        return Ok(Err(ProtocolError::Malformed {
            reason: format!("a frame of kind {kind} has {want} elements, not {len}"),
        }));
    }
    let doc = if kind == KIND_ERROR && r.nil()? {
        None
    } else {
        Some(r.str()?)
    };
    let id = |s: &str| DocId::new(s).map_err(ProtocolError::BadDocId);
    Ok(match (kind, doc) {
        (KIND_HELLO, Some(doc)) => {
            let version = match read_version(r)? {
                Ok(version) => version,
                Err(e) => return Ok(Err(e)),
            };
            id(doc).map(|doc| Message::Hello { doc, version })
        }
        (KIND_CHANGES, Some(doc)) => {
            let bytes = r.bin()?.to_vec();
            let version = match read_version(r)? {
                Ok(version) => version,
                Err(e) => return Ok(Err(e)),
            };
            id(doc).map(|doc| Message::Changes {
                doc,
                bytes,
                version,
            })
        }
        (KIND_ACK, Some(doc)) => {
            let version = match read_version(r)? {
                Ok(version) => version,
                Err(e) => return Ok(Err(e)),
            };
            id(doc).map(|doc| Message::Ack { doc, version })
        }
        (KIND_PRESENCE, Some(doc)) => {
            let peer = PeerId(r.u64()?);
            let clock = r.u64()?;
            let state = if r.nil()? {
                None
            } else {
                Some(r.bin()?.to_vec())
            };
            id(doc).map(|doc| Message::Presence {
                doc,
                peer,
                clock,
                state,
            })
        }
        (KIND_SIGNAL, Some(doc)) => {
            let from = PeerId(r.u64()?);
            let to = PeerId(r.u64()?);
            let payload = r.bin()?.to_vec();
            id(doc).map(|doc| Message::Signal {
                doc,
                from,
                to,
                payload,
            })
        }
        (_, doc) => {
            let code =
                u16::try_from(r.u64()?).map_err(|_| FormatError::OutOfRange("error code"))?;
            let message = r.str()?.to_owned();
            doc.map(id).transpose().map(|doc| Message::Error {
                doc,
                code: ErrorCode::from_code(code),
                message,
            })
        }
    })
}

/// A version map; a repeated replica keeps its highest counter and zero counters are dropped.
/// More than [`MAX_VERSION_ENTRIES`] entries is refused before any is read. Entries come in
/// replica order from any honest encoder, so the vector is built in one pass.
fn read_version(
    r: &mut PackReader<'_>,
) -> Result<Result<VersionVector, ProtocolError>, FormatError> {
    let n = r.map_len()?;
    if n > MAX_VERSION_ENTRIES {
        return Ok(Err(ProtocolError::TooManyVersionEntries {
            count: n,
            max: MAX_VERSION_ENTRIES,
        }));
    }
    // `map_len` checked that the entries fit in the bytes left (two bytes or more each).
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let replica = ReplicaId::new(r.u64()?);
        entries.push((replica, r.u64()?));
    }
    Ok(Ok(entries.into_iter().collect()))
}

/// Reads the protocol version and kind ahead of everything else, so that a frame of another
/// version is refused as such whatever the rest of it looks like.
fn peek_header(frame: &[u8]) -> Result<(), ProtocolError> {
    fn malformed(what: impl fmt::Display) -> ProtocolError {
        ProtocolError::Malformed {
            reason: what.to_string(),
        }
    }
    let mut rd = frame;
    if rd.is_empty() {
        return Err(ProtocolError::Truncated);
    }
    let len = rmp::decode::read_array_len(&mut rd)
        .map_err(|e| malformed(format_args!("frame is not an array: {e}")))?;
    if len < 2 {
        return Err(malformed(format_args!(
            "frame array has {len} elements, fewer than 2"
        )));
    }
    let mut int = |what: &str| match rmp::decode::read_int::<u64, _>(&mut rd) {
        Ok(n) => Ok(n),
        Err(rmp::decode::NumValueReadError::InvalidMarkerRead(_)) => Err(ProtocolError::Truncated),
        Err(rmp::decode::NumValueReadError::InvalidDataRead(_)) => Err(ProtocolError::Truncated),
        Err(e) => Err(malformed(format_args!(
            "{what} is not an unsigned integer: {e}"
        ))),
    };
    let version = int("protocol version")?;
    if version != PROTOCOL_VERSION {
        return Err(ProtocolError::UnsupportedVersion { version });
    }
    let kind = int("message kind")?;
    if kind > KIND_SIGNAL {
        return Err(ProtocolError::UnknownKind { kind });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ReplicaId;
    use proptest::prelude::*;

    fn doc(s: &str) -> DocId {
        DocId::new(s).unwrap()
    }

    fn vv(entries: &[(u64, u64)]) -> VersionVector {
        entries
            .iter()
            .map(|&(r, c)| (ReplicaId::new(r), c))
            .collect()
    }

    #[test]
    fn a_version_of_too_many_entries_is_refused() {
        let at_limit: VersionVector = (0..MAX_VERSION_ENTRIES as u64)
            .map(|r| (ReplicaId::new(r), 1))
            .collect();
        let hello = |version| Message::Hello {
            doc: doc("d"),
            version,
        };
        assert!(decode(&encode(&hello(at_limit.clone()))).is_ok());
        let mut over = at_limit;
        over.set(ReplicaId::new(u64::MAX), 1);
        assert_eq!(
            decode(&encode(&hello(over))),
            Err(ProtocolError::TooManyVersionEntries {
                count: MAX_VERSION_ENTRIES + 1,
                max: MAX_VERSION_ENTRIES,
            })
        );
    }

    #[test]
    fn doc_ids_are_validated() {
        assert!(DocId::new("a").is_ok());
        assert!(DocId::new("A-z_0.9~:/x").is_ok());
        assert!(DocId::new("x".repeat(MAX_DOC_ID_LEN)).is_ok());
        assert_eq!(
            DocId::new("x".repeat(MAX_DOC_ID_LEN + 1)),
            Err(DocIdError::TooLong { len: 257 })
        );
        assert_eq!(DocId::new(""), Err(DocIdError::Empty));
        assert_eq!(
            DocId::new("abc\u{e9}"),
            Err(DocIdError::BadChar {
                found: '\u{e9}',
                at: 3
            })
        );
        for bad in ["a b", "a\0", "a?b", "a#", "%20", "a\\b"] {
            assert!(DocId::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn frame_layout_is_the_documented_one() {
        let frame = encode(&Message::Ack {
            doc: doc("d"),
            version: vv(&[(2, 3)]),
        });
        // fixarray(4), version 1, kind 2, fixstr "d", fixmap(1) {2: 3}
        assert_eq!(frame, [0x94, 0x01, 0x02, 0xa1, b'd', 0x81, 0x02, 0x03]);
        let frame = encode(&Message::Changes {
            doc: doc("d"),
            bytes: vec![9, 8],
            version: VersionVector::new(),
        });
        // the bytes travel as bin 8, not as an array of integers
        assert_eq!(
            frame,
            [0x95, 0x01, 0x01, 0xa1, b'd', 0xc4, 0x02, 9, 8, 0x80]
        );
        let frame = encode(&Message::Error {
            doc: None,
            code: ErrorCode::ReadOnly,
            message: "no".into(),
        });
        assert_eq!(frame, [0x95, 0x01, 0x04, 0xc0, 0x05, 0xa2, b'n', b'o']);
        let frame = encode(&Message::Signal {
            doc: doc("d"),
            from: PeerId(1),
            to: PeerId(2),
            payload: b"sdp".to_vec(),
        });
        // fixarray(6), version 1, kind 5, "d", from 1, to 2, bin 8 "sdp"
        assert_eq!(
            frame,
            [0x96, 0x01, 0x05, 0xa1, b'd', 0x01, 0x02, 0xc4, 0x03, b's', b'd', b'p']
        );
    }

    #[test]
    fn error_codes_are_stable() {
        let codes: Vec<u16> = ErrorCode::KNOWN.iter().map(|c| c.code()).collect();
        assert_eq!(codes, (1..=11).collect::<Vec<_>>());
        for c in ErrorCode::KNOWN {
            assert_eq!(ErrorCode::from_code(c.code()), c);
        }
        assert_eq!(ErrorCode::from_code(0), ErrorCode::Unknown(0));
        assert_eq!(ErrorCode::from_code(700), ErrorCode::Unknown(700));
    }

    #[test]
    fn wrong_versions_kinds_and_shapes_are_typed_errors() {
        let mut frame = encode(&Message::Hello {
            doc: doc("d"),
            version: VersionVector::new(),
        });
        frame[1] = 0x02;
        assert_eq!(
            decode(&frame),
            Err(ProtocolError::UnsupportedVersion { version: 2 })
        );
        // A future version with a completely different layout is still recognised as such.
        let future = rmp_serde::to_vec(&(7u64, "whatever", [1, 2, 3])).unwrap();
        assert_eq!(
            decode(&future),
            Err(ProtocolError::UnsupportedVersion { version: 7 })
        );
        assert_eq!(
            decode(&[0x93, 0x01, 0x09, 0xa1, b'd']),
            Err(ProtocolError::UnknownKind { kind: 9 })
        );
        assert_eq!(
            decode(&[0x93, 0x01, 0x06, 0xa1, b'd']),
            Err(ProtocolError::UnknownKind { kind: 6 })
        );
        assert_eq!(decode(&[]), Err(ProtocolError::Truncated));
        assert!(matches!(
            decode(&[0x01]),
            Err(ProtocolError::Malformed { .. })
        ));
        assert!(matches!(
            decode(&[0x91, 0x01]),
            Err(ProtocolError::Malformed { .. })
        ));
        // Hello with an extra element, and with one too few.
        assert!(matches!(
            decode(&[0x95, 0x01, 0x00, 0xa1, b'd', 0x80, 0x00]),
            Err(ProtocolError::Malformed { .. })
        ));
        assert!(matches!(
            decode(&[0x93, 0x01, 0x00, 0xa1, b'd']),
            Err(ProtocolError::Malformed { .. })
        ));
        // Changes whose bytes are an array of integers instead of bin.
        assert!(matches!(
            decode(&[0x95, 0x01, 0x01, 0xa1, b'd', 0x91, 0x07, 0x80]),
            Err(ProtocolError::Malformed { .. })
        ));
        assert_eq!(
            decode(&[0x94, 0x01, 0x02, 0xa1, b'd', 0x80, 0x00]),
            Err(ProtocolError::TrailingBytes { count: 1 })
        );
        assert_eq!(
            decode(&[0x94, 0x01, 0x02, 0xa1, b' ', 0x80]),
            Err(ProtocolError::BadDocId(DocIdError::BadChar {
                found: ' ',
                at: 0
            }))
        );
        assert_eq!(
            decode(&[0x94, 0x01, 0x02, 0xa0, 0x80]),
            Err(ProtocolError::BadDocId(DocIdError::Empty))
        );
        assert_eq!(
            ProtocolError::UnsupportedVersion { version: 2 }.code(),
            ErrorCode::UnsupportedVersion
        );
    }

    #[test]
    fn oversized_frames_and_lengths_are_refused_without_allocating() {
        let frame = encode(&Message::Changes {
            doc: doc("d"),
            bytes: vec![0; 100],
            version: VersionVector::new(),
        });
        assert_eq!(
            decode_bounded(&frame, 50),
            Err(ProtocolError::TooLarge {
                len: frame.len(),
                max: 50
            })
        );
        assert!(decode_bounded(&frame, frame.len()).is_ok());
        // bin 32 claiming 4 GiB, a map claiming 4 billion entries, a str claiming 4 GiB.
        let claims: [&[u8]; 3] = [
            &[
                0x95, 0x01, 0x01, 0xa1, b'd', 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00,
            ],
            &[
                0x94, 0x01, 0x00, 0xa1, b'd', 0xdf, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
            &[0x94, 0x01, 0x00, 0xdb, 0xff, 0xff, 0xff, 0xff, b'd'],
        ];
        for frame in claims {
            assert_eq!(decode(frame), Err(ProtocolError::Truncated), "{frame:x?}");
        }
        // An array header claiming 4 billion elements.
        assert_eq!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00]),
            Err(ProtocolError::Truncated)
        );
    }

    fn doc_id() -> impl Strategy<Value = DocId> {
        "[A-Za-z0-9._~:/-]{1,40}".prop_map(|s| DocId::new(s).unwrap())
    }

    fn version() -> impl Strategy<Value = VersionVector> {
        prop::collection::btree_map(any::<u64>(), 1..u64::MAX, 0..5)
            .prop_map(|m| m.into_iter().map(|(r, c)| (ReplicaId::new(r), c)).collect())
    }

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), 0..300)
    }

    fn message() -> impl Strategy<Value = Message> {
        let code = prop_oneof![
            prop::sample::select(ErrorCode::KNOWN.to_vec()),
            (12u16..).prop_map(ErrorCode::Unknown),
            Just(ErrorCode::Unknown(0)),
        ];
        prop_oneof![
            (doc_id(), version()).prop_map(|(doc, version)| Message::Hello { doc, version }),
            (doc_id(), bytes(), version()).prop_map(|(doc, bytes, version)| Message::Changes {
                doc,
                bytes,
                version
            }),
            (doc_id(), version()).prop_map(|(doc, version)| Message::Ack { doc, version }),
            (
                doc_id(),
                any::<u64>(),
                any::<u64>(),
                prop::option::of(bytes())
            )
                .prop_map(|(doc, peer, clock, state)| Message::Presence {
                    doc,
                    peer: PeerId(peer),
                    clock,
                    state
                }),
            (prop::option::of(doc_id()), code, ".{0,40}")
                .prop_map(|(doc, code, message)| { Message::Error { doc, code, message } }),
            (doc_id(), any::<u64>(), any::<u64>(), bytes()).prop_map(|(doc, from, to, payload)| {
                Message::Signal {
                    doc,
                    from: PeerId(from),
                    to: PeerId(to),
                    payload,
                }
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn messages_round_trip(m in message()) {
            let frame = encode(&m);
            prop_assert_eq!(decode(&frame), Ok(m));
        }

        #[test]
        fn every_truncation_of_a_frame_is_truncated(m in message()) {
            let frame = encode(&m);
            for cut in 0..frame.len() {
                prop_assert_eq!(decode(&frame[..cut]), Err(ProtocolError::Truncated), "cut {}", cut);
            }
        }

        #[test]
        fn random_bytes_never_panic(frame in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(m) = decode(&frame) {
                // Whatever decodes is a valid message that encodes again.
                prop_assert_eq!(decode(&encode(&m)), Ok(m));
            }
        }

        #[test]
        fn corrupted_frames_never_panic(
            m in message(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let mut frame = encode(&m);
            for (at, byte) in edits {
                let i = at.index(frame.len());
                frame[i] = byte;
            }
            if let Ok(m) = decode(&frame) {
                prop_assert_eq!(decode(&encode(&m)), Ok(m));
            }
        }

        #[test]
        fn other_versions_are_unsupported(m in message(), v in 2u64..) {
            let mut frame = encode(&m);
            // Rewrite the version (second byte, a positive fixint) as a u64.
            let mut patched = vec![frame[0], 0xcf];
            patched.extend_from_slice(&v.to_be_bytes());
            patched.extend_from_slice(&frame.split_off(2));
            prop_assert_eq!(decode(&patched), Err(ProtocolError::UnsupportedVersion { version: v }));
        }

        #[test]
        fn bad_doc_ids_are_refused_on_decode(bad in "[ -~]{0,8}[^A-Za-z0-9._~:/-][ -~]{0,8}") {
            // Hand-encode a Hello whose doc id is the bad string.
            let frame = rmp_serde::to_vec(&(1u64, 0u64, bad.as_str(), VersionVector::new())).unwrap();
            prop_assert!(matches!(decode(&frame), Err(ProtocolError::BadDocId(_))));
        }
    }
}
