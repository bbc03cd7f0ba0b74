//! [`RedisStore`]: the [`Store`] of cluster mode, one Redis server shared by every relay node.
//!
//! Layout (names in [`super::keys`]): per document a stream `sync:doc:{id}:log` whose
//! entry ids are `0-{seq}` (so a stream id *is* the store's sequence number) with fields `n` (the
//! node that appended it) and `b` (the batch), a counter `sync:doc:{id}:seq` the sequence numbers
//! come from, and a hash `sync:doc:{id}:snap` (`upto`, `bytes`); plus one sorted set
//! `sync:backlog` scoring each document by its batches since the last snapshot.
//!
//! Invariants (on top of every store's, see [`super`]):
//! - Every call is one Lua script, so it is atomic on the server: appending a batch, bumping the
//!   counter, the backlog and publishing the wake-up on the document's channel happen together,
//!   and every node reads the log in the same order. The wake-up is published only once the
//!   entry exists, so a node woken by it always finds the entry.
//! - Reads ([`fetch`]) return the snapshot whenever it covers entries after the reader's position,
//!   so a reader behind a compaction never skips the trimmed entries.
//! - A compaction never replaces a snapshot by an older one (two nodes may compact at once).
//! - "Durable" means what the Redis server's `appendfsync` says: with `appendonly yes` and
//!   `appendfsync always` an acknowledged change survives a crash of Redis.
//!
//! The blocking [`Store`] methods use one synchronous connection; on a connection failure they
//! reconnect and retry for up to `retry_for`, so a Redis restart delays acks rather than failing
//! the rooms. A retried append whose first attempt reached Redis is stored twice; that is
//! harmless, since applying changes is idempotent (every replica skips events its version
//! vector covers). This is the log-plus-snapshot layout of event sourcing on Redis Streams.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crdt_core::sync::DocId;
use redis::{Script, Value};

use super::durability::RedisPersistence;
use super::keys;
use super::{ClusterEvent, NodeId};
use crate::storage::{AckDurability, Store, StoreError, StoredDoc};

/// How long a blocking call keeps reconnecting before it reports the error.
const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(30);
/// Connect, read and write timeout of the synchronous connection.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Appends batches: `KEYS[1]` backlog; `ARGV[1]` node id, `ARGV[2]` wake-up payload; then per
/// batch `KEYS` log, counter and `ARGV` document id, bytes, channel. Returns the new seqs.
const APPEND: &str = r"
local seqs = {}
local woken = {}
local j = 0
for i = 2, #KEYS, 2 do
  local doc, bytes, channel = ARGV[3 + j * 3], ARGV[4 + j * 3], ARGV[5 + j * 3]
  local seq = redis.call('INCR', KEYS[i + 1])
  redis.call('XADD', KEYS[i], string.format('0-%d', seq), 'n', ARGV[1], 'b', bytes)
  redis.call('ZINCRBY', KEYS[1], 1, doc)
  woken[channel] = true
  seqs[#seqs + 1] = seq
  j = j + 1
end
for channel, _ in pairs(woken) do
  redis.call('PUBLISH', channel, ARGV[2])
end
return seqs
";

/// Reads a document after `ARGV[1]`: `KEYS` log, snapshot; `ARGV[2]` most entries (0 = all).
/// Returns `{upto, snapshot bytes or nil, entries}`; the snapshot comes with the entries after it
/// whenever it covers entries after `ARGV[1]`.
const FETCH: &str = r"
local after = tonumber(ARGV[1])
local upto = tonumber(redis.call('HGET', KEYS[2], 'upto') or '0')
local snap = false
if upto > after then
  snap = redis.call('HGET', KEYS[2], 'bytes')
  after = upto
end
local start = string.format('(0-%d', after)
local entries
if tonumber(ARGV[2]) > 0 then
  entries = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', ARGV[2])
else
  entries = redis.call('XRANGE', KEYS[1], start, '+')
end
return {upto, snap, entries}
";

/// Compacts: `KEYS` log, snapshot, backlog; `ARGV` upto, bytes, document id. Returns 1, or 0
/// when a snapshot at least as new is already stored.
const COMPACT: &str = r"
local upto = tonumber(ARGV[1])
local old = tonumber(redis.call('HGET', KEYS[2], 'upto') or '-1')
if old >= upto then return 0 end
redis.call('HSET', KEYS[2], 'upto', ARGV[1], 'bytes', ARGV[2])
redis.call('XTRIM', KEYS[1], 'MINID', string.format('0-%d', upto + 1))
local left = redis.call('XLEN', KEYS[1])
if left > 0 then
  redis.call('ZADD', KEYS[3], left, ARGV[3])
else
  redis.call('ZREM', KEYS[3], ARGV[3])
end
return 1
";

/// Why a reply from Redis could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RedisReplyError {
    /// The reply does not have the shape the script returns.
    #[error("unexpected reply shape: {0}")]
    Shape(&'static str),
    /// A stream entry id is not `0-{seq}`.
    #[error("stream entry id {0:?} is not 0-<seq>")]
    EntryId(String),
}

/// One entry of a document's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Its sequence number.
    pub seq: u64,
    /// The node that appended it.
    pub node: NodeId,
    /// The change batch.
    pub bytes: Vec<u8>,
}

/// What `fetch` read: the snapshot when it covers entries after the reader's position, and the
/// entries after both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The sequence number the stored snapshot covers (0 without one).
    pub upto: u64,
    /// The snapshot, if the reader had not seen everything it covers.
    pub snapshot: Option<Vec<u8>>,
    /// Entries after the reader's position (and after the snapshot), oldest first.
    pub entries: Vec<LogEntry>,
}

impl Fetched {
    /// The position to read from next time.
    pub fn last_seq(&self, after: u64) -> u64 {
        self.entries
            .last()
            .map_or(after.max(self.upto), |entry| entry.seq)
    }

    /// What was read, as a [`StoredDoc`] to load a document from.
    pub fn into_stored(self) -> StoredDoc {
        StoredDoc {
            snapshot: self.snapshot,
            batches: self
                .entries
                .into_iter()
                .map(|entry| (entry.seq, entry.bytes))
                .collect(),
        }
    }
}

/// The script [`fetch`] runs, to invoke on any connection.
pub(crate) fn fetch_script() -> &'static Script {
    static SCRIPT: std::sync::OnceLock<Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| Script::new(FETCH))
}

/// Builds the [`fetch`] invocation for `doc` after `after`, at most `count` entries (0 = all).
pub(crate) fn fetch_invocation(
    doc: &DocId,
    after: u64,
    count: usize,
) -> redis::ScriptInvocation<'static> {
    let mut invocation = fetch_script().key(keys::log(doc));
    invocation.key(keys::snapshot(doc)).arg(after).arg(count);
    invocation
}

/// Reads a document's log after `after` (see [`Fetched`]) from a synchronous connection.
pub fn fetch(
    conn: &mut redis::Connection,
    doc: &DocId,
    after: u64,
    count: usize,
) -> Result<Fetched, StoreError> {
    let reply: Value = fetch_invocation(doc, after, count).invoke(conn)?;
    Ok(parse_fetched(reply)?)
}

/// Parses the reply of the fetch script.
pub(crate) fn parse_fetched(reply: Value) -> Result<Fetched, RedisReplyError> {
    let Value::Array(parts) = reply else {
        return Err(RedisReplyError::Shape("fetch reply is not an array"));
    };
    let mut parts = parts.into_iter();
    let (Some(upto), Some(snapshot), Some(entries)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(RedisReplyError::Shape("fetch reply has fewer than 3 parts"));
    };
    let upto = match upto {
        Value::Int(n) => u64::try_from(n).map_err(|_| RedisReplyError::Shape("negative upto"))?,
        _ => return Err(RedisReplyError::Shape("upto is not an integer")),
    };
    let snapshot = match snapshot {
        Value::Nil => None,
        Value::BulkString(bytes) => Some(bytes),
        _ => return Err(RedisReplyError::Shape("snapshot is not bytes")),
    };
    let Value::Array(entries) = entries else {
        return Err(RedisReplyError::Shape("entries are not an array"));
    };
    let entries = entries
        .into_iter()
        .map(parse_entry)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Fetched {
        upto,
        snapshot,
        entries,
    })
}

fn parse_entry(entry: Value) -> Result<LogEntry, RedisReplyError> {
    let Value::Array(pair) = entry else {
        return Err(RedisReplyError::Shape("entry is not an array"));
    };
    let mut pair = pair.into_iter();
    let (Some(Value::BulkString(id)), Some(Value::Array(fields))) = (pair.next(), pair.next())
    else {
        return Err(RedisReplyError::Shape("entry is not [id, fields]"));
    };
    let id = String::from_utf8_lossy(&id).into_owned();
    let seq = id
        .strip_prefix("0-")
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| RedisReplyError::EntryId(id.clone()))?;
    let (mut node, mut bytes) = (None, None);
    let mut fields = fields.into_iter();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        match (name, value) {
            (Value::BulkString(name), Value::BulkString(value)) if name == b"n" => {
                node = std::str::from_utf8(&value)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .map(NodeId);
            }
            (Value::BulkString(name), Value::BulkString(value)) if name == b"b" => {
                bytes = Some(value);
            }
            _ => {}
        }
    }
    match (node, bytes) {
        (Some(node), Some(bytes)) => Ok(LogEntry { seq, node, bytes }),
        _ => Err(RedisReplyError::Shape("entry lacks its n or b field")),
    }
}

/// A [`Store`](crate::storage::Store) in Redis, with the layout the `redis` module docs describe.
///
/// ```no_run
/// use sync_server::storage::{RedisStore, Store};
/// use sync_server::cluster::NodeId;
/// use crdt_core::sync::DocId;
/// let store = RedisStore::open("redis://127.0.0.1:6379", NodeId(1)).unwrap();
/// let doc = DocId::new("d").unwrap();
/// store.append(&[(doc.clone(), vec![1])]).unwrap();
/// assert_eq!(store.load(&doc).unwrap().batches.last().unwrap().1, vec![1]);
/// ```
pub struct RedisStore {
    client: redis::Client,
    conn: Mutex<Option<redis::Connection>>,
    node: NodeId,
    wake: Vec<u8>,
    retry_for: Duration,
    append: Script,
    compact: Script,
    /// The server's persistence settings, read when the store was opened.
    persistence: RedisPersistence,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the Redis server at `url` as node `node` (whose id goes with every batch it
    /// appends, and in the wake-up it publishes).
    pub fn open(url: &str, node: NodeId) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        // Fail now, not at the first write, when the server is unreachable.
        let mut conn = connect_to(&client)?;
        let persistence = RedisPersistence::read(&mut conn);
        if let AckDurability::NotDurable { why } = persistence.ack_durability() {
            tracing::warn!(
                "ACKNOWLEDGED CHANGES ARE NOT DURABLE: {why}. The relay acknowledges a change \
                 once Redis has it, and a crash of Redis can lose it; /healthz and the \
                 sync_durable_acks gauge say so"
            );
        }
        Ok(RedisStore {
            client,
            conn: Mutex::new(Some(conn)),
            node,
            wake: ClusterEvent::Appended { node }.encode(),
            retry_for: DEFAULT_RETRY_FOR,
            append: Script::new(APPEND),
            compact: Script::new(COMPACT),
            persistence,
        })
    }

    /// How long blocking calls keep reconnecting before they fail (30 s by default).
    pub fn with_retry_for(mut self, retry_for: Duration) -> Self {
        self.retry_for = retry_for;
        self
    }

    fn connect(&self) -> Result<redis::Connection, StoreError> {
        connect_to(&self.client)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Option<redis::Connection>>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Unavailable("redis connection lock poisoned".into()))
    }

    /// The persistence settings the server reported when the store was opened.
    pub fn persistence(&self) -> &RedisPersistence {
        &self.persistence
    }

    /// Runs `op` on the connection, reconnecting and retrying while the failure is one of the
    /// connection (not of the command) and `retry_for` has not passed.
    fn with_conn<T>(
        &self,
        op: impl Fn(&mut redis::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let deadline = Instant::now() + self.retry_for;
        let mut backoff = Duration::from_millis(20);
        loop {
            let error = {
                let mut slot = self.lock()?;
                if slot.is_none() {
                    match self.connect() {
                        Ok(conn) => *slot = Some(conn),
                        Err(e) => {
                            drop(slot);
                            if Instant::now() >= deadline {
                                return Err(e);
                            }
                            std::thread::sleep(backoff);
                            backoff = (backoff * 2).min(Duration::from_millis(500));
                            continue;
                        }
                    }
                }
                let Some(conn) = slot.as_mut() else {
                    continue;
                };
                match op(conn) {
                    Ok(value) => return Ok(value),
                    Err(StoreError::Redis(e)) if is_transient(&e) => {
                        *slot = None;
                        StoreError::Redis(e)
                    }
                    Err(e) => return Err(e),
                }
            };
            if Instant::now() >= deadline {
                return Err(error);
            }
            tracing::warn!(error = %error, "redis unavailable; retrying");
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }
}

/// Whether a failure is of the connection or a server still loading its data (worth a retry on
/// a new connection) rather than of the command.
fn is_transient(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || e.code() == Some("LOADING")
}

/// A blocking connection with the store's I/O timeouts.
fn connect_to(client: &redis::Client) -> Result<redis::Connection, StoreError> {
    let conn = client.get_connection_with_timeout(IO_TIMEOUT)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(conn)
}

impl Store for RedisStore {
    fn load(&self, doc: &DocId) -> Result<StoredDoc, StoreError> {
        Ok(self.with_conn(|conn| fetch(conn, doc, 0, 0))?.into_stored())
    }

    fn append(&self, batches: &[(DocId, Vec<u8>)]) -> Result<(), StoreError> {
        if batches.is_empty() {
            return Ok(());
        }
        self.with_conn(|conn| {
            let mut invocation = self.append.key(keys::BACKLOG);
            invocation.arg(self.node.0).arg(&self.wake[..]);
            for (doc, bytes) in batches {
                invocation
                    .key(keys::log(doc))
                    .key(keys::counter(doc))
                    .arg(doc.as_str())
                    .arg(&bytes[..])
                    .arg(keys::channel(doc));
            }
            let seqs: Vec<u64> = invocation.invoke(conn)?;
            if seqs.len() != batches.len() {
                return Err(RedisReplyError::Shape("append returned the wrong count").into());
            }
            Ok(())
        })
    }

    fn compact(&self, doc: &DocId, snapshot: &[u8], upto: u64) -> Result<(), StoreError> {
        self.with_conn(|conn| {
            let _replaced: i64 = self
                .compact
                .key(keys::log(doc))
                .key(keys::snapshot(doc))
                .key(keys::BACKLOG)
                .arg(upto)
                .arg(snapshot)
                .arg(doc.as_str())
                .invoke(conn)?;
            Ok(())
        })
    }

    fn ack_durability(&self) -> AckDurability {
        self.persistence.ack_durability()
    }

    fn needing_compaction(&self, threshold: u64) -> Result<Vec<DocId>, StoreError> {
        let names: Vec<String> = self.with_conn(|conn| {
            Ok(redis::cmd("ZRANGEBYSCORE")
                .arg(keys::BACKLOG)
                .arg(format!("({threshold}"))
                .arg("+inf")
                .query(conn)?)
        })?;
        // Only valid ids are ever written; skip anything else rather than fail the pass.
        let mut docs: Vec<DocId> = names
            .into_iter()
            .filter_map(|n| DocId::new(n).ok())
            .collect();
        docs.sort();
        Ok(docs)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::process::{Child, Command, Stdio};

    /// A `redis-server` on a free loopback port, killed on drop.
    pub(crate) struct TestRedis {
        child: Child,
        pub url: String,
        _dir: tempfile::TempDir,
    }

    impl TestRedis {
        /// Starts one; fails the test with a clear message if `redis-server` is not installed.
        pub fn start() -> TestRedis {
            let dir = tempfile::tempdir().unwrap();
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "yes"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start redis-server ({e}): the Redis tests need it on PATH \
                         (apt-get install redis-server; scripts/setup.sh does)"
                    )
                });
            let url = format!("redis://127.0.0.1:{port}");
            let client = redis::Client::open(url.as_str()).unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let ready = client
                    .get_connection_with_timeout(Duration::from_millis(200))
                    .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
                if ready.is_ok() {
                    break;
                }
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            TestRedis {
                child,
                url,
                _dir: dir,
            }
        }
    }

    impl Drop for TestRedis {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[test]
    fn conforms() {
        let redis = TestRedis::start();
        let store = RedisStore::open(&redis.url, NodeId(7)).unwrap();
        crate::storage::conformance::run_all(&store);
    }

    #[test]
    fn seqs_are_stream_ids_and_entries_name_their_node() {
        let redis = TestRedis::start();
        let store = RedisStore::open(&redis.url, NodeId(42)).unwrap();
        let doc = DocId::new("d").unwrap();
        store
            .append(&[(doc.clone(), vec![1]), (doc.clone(), vec![2])])
            .unwrap();
        let mut conn = redis::Client::open(redis.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let fetched = fetch(&mut conn, &doc, 1, 0).unwrap();
        assert_eq!(
            fetched.entries,
            vec![LogEntry {
                seq: 2,
                node: NodeId(42),
                bytes: vec![2]
            }]
        );
        assert_eq!(fetched.last_seq(1), 2);
        let len: u64 = redis::cmd("XLEN")
            .arg(keys::log(&doc))
            .query(&mut conn)
            .unwrap();
        assert_eq!(len, 2);
    }

    #[test]
    fn a_reader_behind_a_compaction_gets_the_snapshot() {
        let redis = TestRedis::start();
        let store = RedisStore::open(&redis.url, NodeId(1)).unwrap();
        let doc = DocId::new("d").unwrap();
        for i in 0..5u8 {
            store.append(&[(doc.clone(), vec![i])]).unwrap();
        }
        store.compact(&doc, b"snap", 3).unwrap();
        // An older snapshot does not replace it.
        store.compact(&doc, b"older", 2).unwrap();
        let mut conn = store.connect().unwrap();
        let behind = fetch(&mut conn, &doc, 1, 0).unwrap();
        assert_eq!(behind.snapshot.as_deref(), Some(&b"snap"[..]));
        assert_eq!(behind.upto, 3);
        let seqs: Vec<u64> = behind.entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![4, 5]);
        let ahead = fetch(&mut conn, &doc, 4, 0).unwrap();
        assert!(ahead.snapshot.is_none());
        assert_eq!(ahead.entries.len(), 1);
        assert_eq!(ahead.last_seq(4), 5);
        // A count bounds the entries read.
        assert_eq!(fetch(&mut conn, &doc, 3, 1).unwrap().entries.len(), 1);
    }

    #[test]
    fn append_survives_a_redis_restart_within_the_retry_window() {
        let mut redis = TestRedis::start();
        let store = RedisStore::open(&redis.url, NodeId(1))
            .unwrap()
            .with_retry_for(Duration::from_secs(10));
        let doc = DocId::new("d").unwrap();
        store.append(&[(doc.clone(), vec![1])]).unwrap();
        // Restart the server on the same port and directory (the AOF keeps the first batch).
        redis::cmd("SHUTDOWN")
            .query::<()>(&mut store.connect().unwrap())
            .ok();
        let _ = redis.child.wait();
        let port = redis.url.rsplit(':').next().unwrap().to_owned();
        redis.child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "yes"])
            .arg("--dir")
            .arg(redis._dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        store.append(&[(doc.clone(), vec![2])]).unwrap();
        let bytes: Vec<Vec<u8>> = store
            .load(&doc)
            .unwrap()
            .batches
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        assert_eq!(bytes, vec![vec![1], vec![2]]);
    }

    #[test]
    fn malformed_replies_are_typed_errors() {
        assert!(matches!(
            parse_fetched(Value::Int(3)),
            Err(RedisReplyError::Shape(_))
        ));
        let bad_id = Value::Array(vec![
            Value::Int(0),
            Value::Nil,
            Value::Array(vec![Value::Array(vec![
                Value::BulkString(b"17-3".to_vec()),
                Value::Array(vec![]),
            ])]),
        ]);
        assert!(matches!(
            parse_fetched(bad_id),
            Err(RedisReplyError::EntryId(_))
        ));
        let missing_field = Value::Array(vec![
            Value::Int(0),
            Value::Nil,
            Value::Array(vec![Value::Array(vec![
                Value::BulkString(b"0-3".to_vec()),
                Value::Array(vec![Value::BulkString(b"n".to_vec())]),
            ])]),
        ]);
        assert!(parse_fetched(missing_field).is_err());
    }
}
