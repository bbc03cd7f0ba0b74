//! [`Config`]: every setting of the relay in one struct, read from the command line and the
//! environment (clap derive), with defaults that are safe to run as they are.
//!
//! Invariant: [`Config::check`] refuses a configuration that would expose an open relay: bound
//! to a non-loopback address, the relay needs `--auth-secret` or an explicit `--allow-anonymous`.
//! Limits are all finite and non-zero. This follows the twelve-factor practice (flags and env for
//! the same settings) as mini-redis's and most Rust servers' `clap` configs do.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Where documents are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageConfig {
    /// An SQLite database file (WAL mode).
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// How hard SQLite syncs each commit to disk.
        synchronous: Synchronous,
    },
    /// In memory only: everything is lost when the process exits (for tests).
    Memory,
    /// Cluster mode: every node shares the Redis server at this URL (see `crate::cluster`).
    Redis {
        /// `redis://host:port[/db]`.
        url: String,
    },
}

/// SQLite's `synchronous` setting for the WAL database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Synchronous {
    /// Every commit is fsynced: acked changes survive a power loss.
    Full,
    /// Commits reach the OS at once and the disk at checkpoints: acked changes survive a crash
    /// of the relay process, not of the machine.
    Normal,
}

/// The relay's configuration; see `sync-server --help`.
///
/// ```
/// use clap::Parser;
/// use sync_server::Config;
/// let config = Config::parse_from(["sync-server", "--memory", "--max-connections", "5"]);
/// assert_eq!(config.limits.max_connections, 5);
/// assert!(config.check().is_ok(), "loopback without a secret runs open");
/// let open = Config::parse_from(["sync-server", "--memory", "--bind", "0.0.0.0:8080"]);
/// assert!(open.check().is_err(), "a public bind needs a secret or --allow-anonymous");
/// ```
#[derive(Clone, Debug, Parser)]
#[command(
    name = "sync-server",
    version,
    about = "WebSocket relay for crdt-core documents"
)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SYNC_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// SQLite database file.
    #[arg(long, env = "SYNC_DATABASE", default_value = "./sync-server.db")]
    pub database: PathBuf,

    /// Keep documents in memory only (nothing survives a restart; for tests).
    #[arg(long, env = "SYNC_MEMORY", conflicts_with = "database")]
    pub memory: bool,

    /// Cluster mode: share documents with every relay using the Redis server at this URL
    /// (`redis://host:port`); Redis then stores them instead of SQLite.
    #[arg(long, env = "SYNC_REDIS", conflicts_with = "memory")]
    pub redis: Option<String>,

    /// SQLite `synchronous` level: `full` fsyncs every commit, `normal` survives process crashes.
    #[arg(
        long,
        env = "SYNC_SQLITE_SYNCHRONOUS",
        value_enum,
        default_value = "full"
    )]
    pub sqlite_synchronous: Synchronous,

    /// HS256 secret that peers' tokens must be signed with. Without it every peer may read and
    /// write every document.
    #[arg(long, env = "SYNC_AUTH_SECRET", hide_env_values = true)]
    pub auth_secret: Option<String>,

    /// Run without a secret although bound to a non-loopback address.
    #[arg(long, env = "SYNC_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,

    /// Serve the files of this directory at `/` (e.g. the browser example).
    #[arg(long = "static", env = "SYNC_STATIC")]
    pub static_dir: Option<PathBuf>,

    /// Accept WebSocket upgrades only from pages of this origin (repeatable, e.g.
    /// `--allowed-origin https://app.example.com`). Without it every origin is accepted; an
    /// upgrade from another origin gets HTTP 403.
    #[arg(
        long = "allowed-origin",
        env = "SYNC_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// Limits.
    #[command(flatten)]
    pub limits: Limits,

    /// Storage maintenance.
    #[command(flatten)]
    pub maintenance: Maintenance,
}

/// Per-connection and per-process limits. Past a limit the peer gets an `Error` or a close frame
/// that says which limit; other peers are unaffected.
#[derive(Clone, Debug, clap::Args)]
pub struct Limits {
    /// Largest message a peer may send, in bytes: one frame, or all fragments of a message
    /// together (the WebSocket layer refuses anything larger before buffering it).
    #[arg(long, env = "SYNC_MAX_FRAME_BYTES", default_value_t = 4 << 20)]
    pub max_frame_bytes: usize,

    /// Largest HTTP request head (request line and headers) of a connection, in bytes; larger
    /// ones get HTTP 431. At least 8192.
    #[arg(long, env = "SYNC_MAX_HEADER_BYTES", default_value_t = 16 << 10)]
    pub max_header_bytes: usize,

    /// Seconds a new connection has to send its complete HTTP request head; a slower one is
    /// dropped (slowloris).
    #[arg(long, env = "SYNC_HANDSHAKE_TIMEOUT_SECS", default_value_t = 10.0)]
    pub handshake_timeout_secs: f64,

    /// Most documents one connection may join.
    #[arg(long, env = "SYNC_MAX_DOCS_PER_CONNECTION", default_value_t = 100)]
    pub max_docs_per_connection: usize,

    /// Messages per second one connection may send, on average.
    #[arg(long, env = "SYNC_RATE_PER_SEC", default_value_t = 500)]
    pub rate_per_sec: u32,

    /// Messages one connection may send in a burst above its rate.
    #[arg(long, env = "SYNC_RATE_BURST", default_value_t = 1000)]
    pub rate_burst: u32,

    /// Most concurrent connections; further ones are refused with HTTP 503.
    #[arg(long, env = "SYNC_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Seconds between pings to each peer.
    #[arg(long, env = "SYNC_PING_SECS", default_value_t = 15.0)]
    pub ping_secs: f64,

    /// Seconds without any frame from a peer (pongs included) before it is disconnected; also
    /// the longest a write to a peer that does not read may take.
    #[arg(long, env = "SYNC_IDLE_TIMEOUT_SECS", default_value_t = 45.0)]
    pub idle_timeout_secs: f64,

    /// Frames queued for one peer before it counts as too slow and is disconnected.
    #[arg(long, env = "SYNC_OUTBOUND_QUEUE", default_value_t = 1024)]
    pub outbound_queue: usize,

    /// Bytes of frames queued for one peer before it counts as too slow and is disconnected
    /// (close 1008). A single larger frame still goes to a peer whose queue is empty.
    #[arg(long, env = "SYNC_OUTBOUND_QUEUE_BYTES", default_value_t = 8 << 20)]
    pub outbound_queue_bytes: usize,

    /// Bytes of peers' messages queued for one document; past it, a peer's message is refused
    /// with an `Error` (rate limited) until the document catches up.
    #[arg(long, env = "SYNC_ROOM_QUEUE_BYTES", default_value_t = 32 << 20)]
    pub room_queue_bytes: usize,

    /// Largest presence state a peer may publish, in bytes; larger ones are refused with an
    /// `Error` (too large) and not forwarded.
    #[arg(long, env = "SYNC_MAX_PRESENCE_BYTES", default_value_t = 4 << 10)]
    pub max_presence_bytes: usize,

    /// Most concurrent connections from one IP address; further ones are refused with HTTP 429.
    #[arg(long, env = "SYNC_MAX_CONNECTIONS_PER_IP", default_value_t = 64)]
    pub max_connections_per_ip: usize,

    /// Largest stored size of one document, in bytes (its snapshot and change log); changes
    /// past it are refused with an `Error` (too large) and not acknowledged.
    #[arg(long, env = "SYNC_MAX_DOC_BYTES", default_value_t = 64 << 20)]
    pub max_doc_bytes: usize,

    /// Bytes per second one connection may send, on average (every frame counts, control
    /// frames too); past it the connection is closed (1008).
    #[arg(long, env = "SYNC_BYTES_PER_SEC", default_value_t = 4 << 20)]
    pub bytes_per_sec: u64,

    /// Bytes one connection may send in a burst above `--bytes-per-sec`.
    #[arg(long, env = "SYNC_BYTES_BURST", default_value_t = 16 << 20)]
    pub bytes_burst: u64,
}

/// Background upkeep of documents and storage.
#[derive(Clone, Debug, clap::Args)]
pub struct Maintenance {
    /// Seconds a document with no connected peer stays loaded.
    #[arg(long, env = "SYNC_UNLOAD_IDLE_SECS", default_value_t = 60.0)]
    pub unload_idle_secs: f64,

    /// Stored change batches of a document after which its log is compacted into a snapshot.
    #[arg(long, env = "SYNC_COMPACT_AFTER", default_value_t = 500)]
    pub compact_after: u64,

    /// Seconds between compaction passes.
    #[arg(long, env = "SYNC_COMPACT_INTERVAL_SECS", default_value_t = 30.0)]
    pub compact_interval_secs: f64,

    /// Largest size of the SQLite database, in bytes (rounded down to whole pages). Past it,
    /// writes are refused (never acknowledged) and reads go on. Unlimited when absent.
    #[arg(long, env = "SYNC_SQLITE_MAX_BYTES")]
    pub sqlite_max_bytes: Option<u64>,

    /// Seconds the relay refuses changes after the store failed to write (disk full, read-only
    /// database) before it tries writing again.
    #[arg(long, env = "SYNC_STORAGE_RETRY_SECS", default_value_t = 5.0)]
    pub storage_retry_secs: f64,
}

/// Why a [`Config`] is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Open relay on a public address.
    #[error(
        "refusing to listen on {0} without --auth-secret: anyone could read and write every \
         document; pass --allow-anonymous to do so on purpose"
    )]
    OpenOnPublicAddress(SocketAddr),
    /// A limit is zero.
    #[error("{0} must be greater than zero")]
    ZeroLimit(&'static str),
    /// The idle timeout is not longer than the ping interval.
    #[error("--idle-timeout-secs must exceed --ping-secs, or live peers are disconnected")]
    IdleBeforePing,
    /// A duration is not a positive, finite number of seconds (below about 30 years).
    #[error("{0} must be a positive number of seconds")]
    BadDuration(&'static str),
    /// The header limit is below what HTTP clients need.
    #[error("--max-header-bytes must be at least 8192")]
    HeaderLimitTooSmall,
    /// An allowed origin is not `scheme://host[:port]`.
    #[error("--allowed-origin {0:?} is not an origin like https://app.example.com")]
    BadOrigin(String),
}

impl Config {
    /// A configuration for tests: loopback port 0, in memory, default limits.
    pub fn for_tests() -> Config {
        Config::parse_from(["sync-server", "--memory", "--bind", "127.0.0.1:0"])
    }

    /// Refuses unsafe or impossible settings.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.auth_secret.is_none() && !self.bind.ip().is_loopback() && !self.allow_anonymous {
            return Err(ConfigError::OpenOnPublicAddress(self.bind));
        }
        let l = &self.limits;
        for (name, value) in [
            ("--max-frame-bytes", l.max_frame_bytes),
            ("--max-header-bytes", l.max_header_bytes),
            ("--max-docs-per-connection", l.max_docs_per_connection),
            ("--rate-per-sec", l.rate_per_sec as usize),
            ("--rate-burst", l.rate_burst as usize),
            ("--max-connections", l.max_connections),
            ("--outbound-queue", l.outbound_queue),
            ("--outbound-queue-bytes", l.outbound_queue_bytes),
            ("--room-queue-bytes", l.room_queue_bytes),
            ("--max-presence-bytes", l.max_presence_bytes),
            ("--max-connections-per-ip", l.max_connections_per_ip),
            ("--max-doc-bytes", l.max_doc_bytes),
            (
                "--bytes-per-sec",
                usize::try_from(l.bytes_per_sec).unwrap_or(usize::MAX),
            ),
            (
                "--bytes-burst",
                usize::try_from(l.bytes_burst).unwrap_or(usize::MAX),
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit(name));
            }
        }
        let m = &self.maintenance;
        for (name, value) in [
            ("--ping-secs", l.ping_secs),
            ("--idle-timeout-secs", l.idle_timeout_secs),
            ("--handshake-timeout-secs", l.handshake_timeout_secs),
            ("--unload-idle-secs", m.unload_idle_secs),
            ("--compact-interval-secs", m.compact_interval_secs),
            ("--storage-retry-secs", m.storage_retry_secs),
        ] {
            if seconds(value).is_none() {
                return Err(ConfigError::BadDuration(name));
            }
        }
        if l.idle_timeout_secs <= l.ping_secs {
            return Err(ConfigError::IdleBeforePing);
        }
        if l.max_header_bytes < 8192 {
            return Err(ConfigError::HeaderLimitTooSmall);
        }
        for origin in &self.allowed_origins {
            let valid = origin.split_once("://").is_some_and(|(scheme, host)| {
                !scheme.is_empty() && !host.is_empty() && !host.contains('/')
            });
            if !valid {
                return Err(ConfigError::BadOrigin(origin.clone()));
            }
        }
        Ok(())
    }

    /// The storage this configuration asks for.
    pub fn storage(&self) -> StorageConfig {
        if let Some(url) = &self.redis {
            StorageConfig::Redis { url: url.clone() }
        } else if self.memory {
            StorageConfig::Memory
        } else {
            StorageConfig::Sqlite {
                path: self.database.clone(),
                synchronous: self.sqlite_synchronous,
            }
        }
    }

    /// Whether a WebSocket upgrade with this `Origin` header is accepted: always without
    /// `--allowed-origin`, else only for a listed origin (compared without case). A request
    /// without `Origin` is not from a browser page (browsers always send it on upgrades), and
    /// a non-browser client could claim any origin anyway, so it is accepted: the allowlist
    /// stops other sites' pages from using a visitor's browser against the relay (CSWSH).
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        if self.allowed_origins.is_empty() {
            return true;
        }
        origin.is_none_or(|o| {
            let o = o.trim_end_matches('/');
            self.allowed_origins
                .iter()
                .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(o))
        })
    }
}

/// `secs` as a [`Duration`], if it is positive, finite and representable.
fn seconds(secs: f64) -> Option<Duration> {
    (secs > 0.0)
        .then(|| Duration::try_from_secs_f64(secs).ok())
        .flatten()
}

/// A duration setting that [`Config::check`] accepted; a refused one (never used by a running
/// relay) falls back to one second.
fn checked(secs: f64) -> Duration {
    seconds(secs).unwrap_or(Duration::from_secs(1))
}

impl Limits {
    /// The ping interval.
    pub fn ping_interval(&self) -> Duration {
        checked(self.ping_secs)
    }

    /// The idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        checked(self.idle_timeout_secs)
    }

    /// Time allowed to send a complete request head.
    pub fn handshake_timeout(&self) -> Duration {
        checked(self.handshake_timeout_secs)
    }
}

impl Maintenance {
    /// How long a document without peers stays loaded.
    pub fn unload_idle(&self) -> Duration {
        checked(self.unload_idle_secs)
    }

    /// Time between compaction passes.
    pub fn compact_interval(&self) -> Duration {
        checked(self.compact_interval_secs)
    }

    /// How long changes are refused after a failed write.
    pub fn storage_retry(&self) -> Duration {
        checked(self.storage_retry_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::parse_from(["sync-server"]);
        assert_eq!(c.bind, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.database, PathBuf::from("./sync-server.db"));
        assert_eq!(
            c.storage(),
            StorageConfig::Sqlite {
                path: "./sync-server.db".into(),
                synchronous: Synchronous::Full
            }
        );
        assert!(c.check().is_ok());
        assert_eq!(c.limits.idle_timeout(), Duration::from_secs(45));
        assert_eq!(c.limits.max_frame_bytes, 4 << 20);
        assert_eq!(c.limits.handshake_timeout(), Duration::from_secs(10));
        assert_eq!(c.limits.max_connections_per_ip, 64);
        assert_eq!(c.limits.max_presence_bytes, 4096);
        assert_eq!(c.limits.outbound_queue_bytes, 8 << 20);
        assert_eq!(c.limits.max_doc_bytes, 64 << 20);
        assert_eq!(
            (c.limits.bytes_per_sec, c.limits.bytes_burst),
            (4 << 20, 16 << 20)
        );
        assert!(c.origin_allowed(None) && c.origin_allowed(Some("https://any.example")));
    }

    #[test]
    fn fractional_durations_and_bad_ones() {
        let c = Config::parse_from([
            "sync-server",
            "--ping-secs",
            "0.1",
            "--idle-timeout-secs",
            "0.3",
        ]);
        assert!(c.check().is_ok());
        assert_eq!(c.limits.ping_interval(), Duration::from_millis(100));
        for bad in ["-1", "0", "NaN", "inf", "1e300"] {
            let arg = format!("--unload-idle-secs={bad}");
            let c = Config::parse_from(["sync-server", arg.as_str()]);
            assert!(
                matches!(
                    c.check(),
                    Err(ConfigError::BadDuration("--unload-idle-secs"))
                ),
                "{bad}"
            );
        }
        let c = Config::parse_from(["sync-server", "--max-header-bytes", "100"]);
        assert!(matches!(c.check(), Err(ConfigError::HeaderLimitTooSmall)));
    }

    #[test]
    fn origin_allowlist() {
        let c = Config::parse_from([
            "sync-server",
            "--allowed-origin",
            "https://app.example.com",
            "--allowed-origin",
            "http://localhost:3000",
        ]);
        assert!(c.check().is_ok());
        assert!(c.origin_allowed(Some("https://app.example.com")));
        assert!(c.origin_allowed(Some("HTTPS://APP.example.com/")));
        assert!(c.origin_allowed(Some("http://localhost:3000")));
        assert!(!c.origin_allowed(Some("https://evil.example")));
        assert!(!c.origin_allowed(Some("null")));
        assert!(c.origin_allowed(None), "non-browser clients send no Origin");
        let bad = Config::parse_from(["sync-server", "--allowed-origin", "app.example.com"]);
        assert!(matches!(bad.check(), Err(ConfigError::BadOrigin(_))));
    }

    #[test]
    fn public_bind_needs_a_secret_or_explicit_anonymity() {
        let public = ["sync-server", "--bind", "0.0.0.0:9000"];
        assert!(matches!(
            Config::parse_from(public).check(),
            Err(ConfigError::OpenOnPublicAddress(_))
        ));
        let with_secret = Config::parse_from([&public[..], &["--auth-secret", "s"]].concat());
        assert!(with_secret.check().is_ok());
        let anonymous = Config::parse_from([&public[..], &["--allow-anonymous"]].concat());
        assert!(anonymous.check().is_ok());
        let v6_loopback = Config::parse_from(["sync-server", "--bind", "[::1]:9000"]);
        assert!(v6_loopback.check().is_ok());
    }

    #[test]
    fn zero_limits_and_idle_before_ping_are_refused() {
        for flag in [
            "--rate-per-sec",
            "--max-connections-per-ip",
            "--bytes-per-sec",
        ] {
            let c = Config::parse_from(["sync-server", flag, "0"]);
            assert!(
                matches!(c.check(), Err(ConfigError::ZeroLimit(f)) if f == flag),
                "{flag}"
            );
        }
        let c = Config::parse_from([
            "sync-server",
            "--ping-secs",
            "10",
            "--idle-timeout-secs",
            "10",
        ]);
        assert!(matches!(c.check(), Err(ConfigError::IdleBeforePing)));
    }

    #[test]
    fn memory_conflicts_with_database() {
        assert!(Config::try_parse_from(["sync-server", "--memory", "--database", "x.db"]).is_err());
        assert_eq!(Config::for_tests().storage(), StorageConfig::Memory);
    }

    #[test]
    fn redis_selects_cluster_storage() {
        let c = Config::parse_from(["sync-server", "--redis", "redis://127.0.0.1:6379"]);
        assert_eq!(
            c.storage(),
            StorageConfig::Redis {
                url: "redis://127.0.0.1:6379".into()
            }
        );
        assert!(
            Config::try_parse_from(["sync-server", "--memory", "--redis", "redis://x"]).is_err()
        );
    }
}
