//! [`Config`]: every setting of the relay in one plain struct, with defaults that are safe to run
//! as they are. The `sync-server` binary builds it from its flags and environment
//! (`src/bin/sync-server/cli.rs`); a program that embeds the relay builds it in code.
//!
//! Invariant: [`Config::check`] refuses a configuration that would expose an open relay (bound
//! to a non-loopback address, the relay needs a secret or an explicit `allow_anonymous`) or a
//! weak one (a secret shorter than [`MIN_SECRET_BYTES`]). Limits are all finite and non-zero.
//! Without a secret, only pages served from loopback origins may open a WebSocket, so a page of
//! another site cannot use a developer's browser against their local relay. The library takes a
//! built configuration and the binary owns the command line, as mini-redis keeps clap in
//! `src/bin/server.rs`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The shortest `--auth-secret` accepted, in bytes: HS256's key should be at least as long as its
/// 256-bit output (RFC 7518 §3.2), or the secret can be found by brute force from one token.
pub const MIN_SECRET_BYTES: usize = 32;

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

impl Default for StorageConfig {
    /// `./sync-server.db`, fsynced on every commit.
    fn default() -> Self {
        StorageConfig::Sqlite {
            path: PathBuf::from("./sync-server.db"),
            synchronous: Synchronous::Full,
        }
    }
}

/// SQLite's `synchronous` setting for the WAL database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Every commit is fsynced: acked changes survive a power loss.
    #[default]
    Full,
    /// Commits reach the OS at once and the disk at checkpoints: acked changes survive a crash
    /// of the relay process, not of the machine.
    Normal,
}

/// The relay's configuration; `Config::default()` is what `sync-server` runs with no flags.
///
/// ```
/// use sync_server::Config;
/// let mut config = Config::for_tests();
/// config.limits.max_connections = 5;
/// assert!(config.check().is_ok(), "loopback without a secret runs open to loopback pages");
/// config.bind = "0.0.0.0:8080".parse().unwrap();
/// assert!(config.check().is_err(), "a public bind needs a secret or allow_anonymous");
/// config.auth_secret = Some("a secret of at least thirty-two bytes".into());
/// assert!(config.check().is_ok());
/// ```
#[derive(Clone, PartialEq)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port). Default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// Where documents are stored. Default: SQLite at `./sync-server.db`, fsynced per commit.
    pub storage: StorageConfig,
    /// HS256 secret that peers' tokens must be signed with, at least [`MIN_SECRET_BYTES`] long.
    /// Without it every peer may read and write every document.
    pub auth_secret: Option<String>,
    /// Run without a secret although bound to a non-loopback address.
    pub allow_anonymous: bool,
    /// Serve the files of this directory at `/` (never dotfiles nor the relay's database).
    pub static_dir: Option<PathBuf>,
    /// Origins (`scheme://host[:port]`) whose pages may open a WebSocket; an upgrade from another
    /// origin gets HTTP 403. Empty: loopback origins only without a secret, any origin with one
    /// (the token is then what protects documents). See [`Config::origin_allowed`].
    pub allowed_origins: Vec<String>,
    /// Limits.
    pub limits: Limits,
    /// Storage maintenance.
    pub maintenance: Maintenance,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            storage: StorageConfig::default(),
            auth_secret: None,
            allow_anonymous: false,
            static_dir: None,
            allowed_origins: Vec::new(),
            limits: Limits::default(),
            maintenance: Maintenance::default(),
        }
    }
}

impl std::fmt::Debug for Config {
    /// Every field, the secret redacted (configurations end up in logs and panic messages).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("storage", &self.storage)
            .field(
                "auth_secret",
                &self.auth_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_anonymous", &self.allow_anonymous)
            .field("static_dir", &self.static_dir)
            .field("allowed_origins", &self.allowed_origins)
            .field("limits", &self.limits)
            .field("maintenance", &self.maintenance)
            .finish()
    }
}

/// Per-connection and per-process limits. Past a limit the peer gets an `Error` or a close frame
/// that says which limit; other peers are unaffected.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Largest message a peer may send, in bytes: one frame, or all fragments of a message
    /// together (the WebSocket layer refuses anything larger before buffering it).
    pub max_frame_bytes: usize,
    /// Largest HTTP request head (request line and headers) of a connection, in bytes; larger
    /// ones get HTTP 431. At least 8192.
    pub max_header_bytes: usize,
    /// Seconds a new connection has to send its complete HTTP request head; a slower one is
    /// dropped (slowloris).
    pub handshake_timeout_secs: f64,
    /// Most documents one connection may join.
    pub max_docs_per_connection: usize,
    /// Messages per second one connection may send, on average.
    pub rate_per_sec: u32,
    /// Messages one connection may send in a burst above its rate.
    pub rate_burst: u32,
    /// Most concurrent connections; further ones are refused with HTTP 503.
    pub max_connections: usize,
    /// Seconds between pings to each peer.
    pub ping_secs: f64,
    /// Seconds without any frame from a peer (pongs included) before it is disconnected; also
    /// the longest a write to a peer that does not read may take.
    pub idle_timeout_secs: f64,
    /// Frames queued for one peer before it counts as too slow and is disconnected.
    pub outbound_queue: usize,

    /// Bytes of frames queued for one peer before it counts as too slow and is disconnected
    /// (close 1008). A single larger frame still goes to a peer whose queue is empty.
    pub outbound_queue_bytes: usize,

    /// Bytes of peers' messages queued for one document; past it, a peer's message is refused
    /// with an `Error` (rate limited) until the document catches up.
    pub room_queue_bytes: usize,

    /// Largest presence state a peer may publish, in bytes; larger ones are refused with an
    /// `Error` (too large) and not forwarded.
    pub max_presence_bytes: usize,

    /// Largest signaling payload (a WebRTC offer, answer or ICE candidate) a peer may send to
    /// another, in bytes; larger ones are refused with an `Error` (too large) and not routed.
    pub max_signal_bytes: usize,

    /// Most concurrent connections from one IP address; further ones are refused with HTTP 429.
    pub max_connections_per_ip: usize,

    /// Largest stored size of one document, in bytes (its snapshot and change log); changes
    /// past it are refused with an `Error` (too large) and not acknowledged.
    pub max_doc_bytes: usize,

    /// Bytes per second one connection may send, on average (every frame counts, control
    /// frames too); past it the connection is closed (1008).
    pub bytes_per_sec: u64,

    /// Bytes one connection may send in a burst above `--bytes-per-sec`.
    pub bytes_burst: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 4 << 20,
            max_header_bytes: 16 << 10,
            handshake_timeout_secs: 10.0,
            max_docs_per_connection: 100,
            rate_per_sec: 500,
            rate_burst: 1000,
            max_connections: 10_000,
            ping_secs: 15.0,
            idle_timeout_secs: 45.0,
            outbound_queue: 1024,
            outbound_queue_bytes: 8 << 20,
            room_queue_bytes: 32 << 20,
            max_presence_bytes: 4 << 10,
            max_signal_bytes: 16 << 10,
            max_connections_per_ip: 64,
            max_doc_bytes: 64 << 20,
            bytes_per_sec: 4 << 20,
            bytes_burst: 16 << 20,
        }
    }
}

/// Background upkeep of documents and storage.
#[derive(Clone, Debug, PartialEq)]
pub struct Maintenance {
    /// Seconds a document with no connected peer stays loaded.
    pub unload_idle_secs: f64,
    /// Stored change batches of a document after which its log is compacted into a snapshot.
    pub compact_after: u64,
    /// Seconds between compaction passes.
    pub compact_interval_secs: f64,
    /// Largest size of the SQLite database, in bytes (rounded down to whole pages). Past it,
    /// writes are refused (never acknowledged) and reads go on. Unlimited when absent.
    pub sqlite_max_bytes: Option<u64>,
    /// Seconds the relay refuses changes after the store failed to write (disk full, read-only
    /// database) before it tries writing again.
    pub storage_retry_secs: f64,
}

impl Default for Maintenance {
    fn default() -> Self {
        Maintenance {
            unload_idle_secs: 60.0,
            compact_after: 500,
            compact_interval_secs: 30.0,
            sqlite_max_bytes: None,
            storage_retry_secs: 5.0,
        }
    }
}

/// Why a [`Config`] is refused. Messages name the command-line flag of the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Open relay on a public address.
    #[error(
        "refusing to listen on {0} without --auth-secret: anyone could read and write every \
         document; pass --allow-anonymous to do so on purpose"
    )]
    OpenOnPublicAddress(SocketAddr),
    /// The secret is too short to resist brute force (its length, never its bytes, is shown).
    #[error(
        "--auth-secret is {0} bytes; it must be at least {MIN_SECRET_BYTES} (e.g. the output \
         of `openssl rand -base64 32`)"
    )]
    ShortSecret(usize),
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
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            storage: StorageConfig::Memory,
            ..Config::default()
        }
    }

    /// Refuses unsafe or impossible settings.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.auth_secret.is_none() && !self.bind.ip().is_loopback() && !self.allow_anonymous {
            return Err(ConfigError::OpenOnPublicAddress(self.bind));
        }
        if let Some(secret) = &self.auth_secret {
            if secret.len() < MIN_SECRET_BYTES {
                return Err(ConfigError::ShortSecret(secret.len()));
            }
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
            ("--max-signal-bytes", l.max_signal_bytes),
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
            if split_origin(origin).is_none() {
                return Err(ConfigError::BadOrigin(origin.clone()));
            }
        }
        Ok(())
    }

    /// The SQLite database file, when documents are stored in one.
    pub fn database(&self) -> Option<&std::path::Path> {
        match &self.storage {
            StorageConfig::Sqlite { path, .. } => Some(path),
            StorageConfig::Memory | StorageConfig::Redis { .. } => None,
        }
    }

    /// Whether a WebSocket upgrade with this `Origin` header is accepted.
    ///
    /// - With `allowed_origins`, only a listed origin (compared without case).
    /// - Without, and without a secret: only loopback origins (`http(s)://localhost`,
    ///   `127.0.0.0/8`, `[::1]`, any port), so that a page of another site cannot read or rewrite
    ///   a developer's local documents through their browser (cross-site WebSocket hijacking).
    /// - Without, and with a secret: any origin; documents are protected by tokens.
    ///
    /// A request without `Origin` is not from a browser page (browsers always send it on
    /// upgrades), and a non-browser client could claim any origin anyway, so it is accepted: the
    /// allowlist protects browsers' users, not the relay.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        let origin = origin.trim_end_matches('/');
        if !self.allowed_origins.is_empty() {
            return self
                .allowed_origins
                .iter()
                .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin));
        }
        self.auth_secret.is_some() || is_loopback_origin(origin)
    }
}

/// `scheme://host[:port]` as (scheme, host[:port]), if it has that shape.
fn split_origin(origin: &str) -> Option<(&str, &str)> {
    let (scheme, authority) = origin.trim_end_matches('/').split_once("://")?;
    let valid = !scheme.is_empty() && !authority.is_empty() && !authority.contains('/');
    valid.then_some((scheme, authority))
}

/// Whether `origin` is an `http`/`https` origin on this machine: `localhost`, an address in
/// `127.0.0.0/8` or `[::1]`, with any port.
fn is_loopback_origin(origin: &str) -> bool {
    let Some((scheme, authority)) = split_origin(origin) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        // `[v6]` or `[v6]:port`.
        Some(rest) => match rest.split_once(']') {
            Some((v6, "")) => v6,
            Some((v6, port)) if port.strip_prefix(':').is_some_and(is_port) => v6,
            _ => return false,
        },
        None => match authority.split_once(':') {
            Some((host, port)) if is_port(port) => host,
            Some(_) => return false,
            None => authority,
        },
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6 == Ipv6Addr::LOCALHOST,
        Err(_) => false,
    }
}

/// Whether `s` is a decimal port number (digits only: no sign, no spaces).
fn is_port(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u16>().is_ok()
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

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::default();
        assert_eq!(c.bind, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(
            c.storage,
            StorageConfig::Sqlite {
                path: "./sync-server.db".into(),
                synchronous: Synchronous::Full
            }
        );
        assert_eq!(c.database(), Some(std::path::Path::new("./sync-server.db")));
        assert!(c.check().is_ok());
        assert_eq!(c.limits.idle_timeout(), Duration::from_secs(45));
        assert_eq!(c.limits.max_frame_bytes, 4 << 20);
        assert_eq!(c.limits.handshake_timeout(), Duration::from_secs(10));
        assert_eq!(c.limits.max_connections_per_ip, 64);
        assert_eq!(c.limits.max_presence_bytes, 4096);
        assert_eq!(c.limits.max_signal_bytes, 16 << 10);
        assert_eq!(c.limits.outbound_queue_bytes, 8 << 20);
        assert_eq!(c.limits.max_doc_bytes, 64 << 20);
        assert_eq!(
            (c.limits.bytes_per_sec, c.limits.bytes_burst),
            (4 << 20, 16 << 20)
        );
        assert_eq!(Config::for_tests().storage, StorageConfig::Memory);
        assert_eq!(Config::for_tests().database(), None);
    }

    #[test]
    fn fractional_durations_and_bad_ones() {
        let mut c = Config::default();
        c.limits.ping_secs = 0.1;
        c.limits.idle_timeout_secs = 0.3;
        assert!(c.check().is_ok());
        assert_eq!(c.limits.ping_interval(), Duration::from_millis(100));
        for bad in [-1.0, 0.0, f64::NAN, f64::INFINITY, 1e300] {
            let mut c = Config::default();
            c.maintenance.unload_idle_secs = bad;
            assert!(
                matches!(
                    c.check(),
                    Err(ConfigError::BadDuration("--unload-idle-secs"))
                ),
                "{bad}"
            );
        }
        let mut c = Config::default();
        c.limits.max_header_bytes = 100;
        assert!(matches!(c.check(), Err(ConfigError::HeaderLimitTooSmall)));
    }

    #[test]
    fn an_explicit_allowlist_replaces_the_default() {
        let mut c = Config {
            allowed_origins: vec![
                "https://app.example.com".into(),
                "http://localhost:3000".into(),
            ],
            ..Config::default()
        };
        assert!(c.check().is_ok());
        assert!(c.origin_allowed(Some("https://app.example.com")));
        assert!(c.origin_allowed(Some("HTTPS://APP.example.com/")));
        assert!(c.origin_allowed(Some("http://localhost:3000")));
        assert!(
            !c.origin_allowed(Some("http://localhost:8080")),
            "not listed"
        );
        assert!(!c.origin_allowed(Some("https://evil.example")));
        assert!(!c.origin_allowed(Some("null")));
        assert!(c.origin_allowed(None), "non-browser clients send no Origin");
        c.allowed_origins = vec!["app.example.com".into()];
        assert!(matches!(c.check(), Err(ConfigError::BadOrigin(_))));
    }

    #[test]
    fn without_a_secret_only_loopback_pages_may_connect() {
        let c = Config::default();
        for ok in [
            "http://localhost",
            "http://localhost:8080",
            "https://LOCALHOST:443/",
            "http://127.0.0.1:5173",
            "http://127.1.2.3",
            "http://[::1]:8080",
            "https://[::1]",
        ] {
            assert!(c.origin_allowed(Some(ok)), "{ok}");
        }
        for refused in [
            "https://evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example",
            "http://evil.example#127.0.0.1",
            "http://localhost:8080@evil.example",
            "http://192.168.1.2:8080",
            "http://[::2]:8080",
            "http://[::1]x",
            "http://localhost:",
            "http://localhost:99999",
            "http://localhost:+80",
            "file://localhost",
            "ws://localhost",
            "null",
            "",
        ] {
            assert!(!c.origin_allowed(Some(refused)), "{refused}");
        }
        assert!(c.origin_allowed(None), "non-browser clients send no Origin");
        let with_secret = Config {
            auth_secret: Some(SECRET.into()),
            ..Config::default()
        };
        assert!(
            with_secret.origin_allowed(Some("https://app.example.com")),
            "with a secret, tokens protect the documents"
        );
    }

    #[test]
    fn public_bind_needs_a_secret_or_explicit_anonymity() {
        let public = Config {
            bind: "0.0.0.0:9000".parse().unwrap(),
            ..Config::default()
        };
        assert!(matches!(
            public.check(),
            Err(ConfigError::OpenOnPublicAddress(_))
        ));
        let with_secret = Config {
            auth_secret: Some(SECRET.into()),
            ..public.clone()
        };
        assert!(with_secret.check().is_ok());
        let anonymous = Config {
            allow_anonymous: true,
            ..public
        };
        assert!(anonymous.check().is_ok());
        let v6_loopback = Config {
            bind: "[::1]:9000".parse().unwrap(),
            ..Config::default()
        };
        assert!(v6_loopback.check().is_ok());
    }

    #[test]
    fn a_short_secret_is_refused_without_printing_it() {
        let short = "s3cret-but-only-31-bytes-long!!";
        assert_eq!(short.len(), MIN_SECRET_BYTES - 1);
        let c = Config {
            auth_secret: Some(short.into()),
            ..Config::default()
        };
        let error = c.check().unwrap_err();
        assert!(matches!(error, ConfigError::ShortSecret(31)));
        let message = error.to_string();
        assert!(
            message.contains("at least 32") && !message.contains(short),
            "{message}"
        );
        let enough = Config {
            auth_secret: Some(SECRET.into()),
            ..Config::default()
        };
        assert!(enough.check().is_ok());
    }

    #[test]
    fn debug_redacts_the_secret() {
        let c = Config {
            auth_secret: Some(SECRET.into()),
            ..Config::default()
        };
        let debug = format!("{c:?}");
        assert!(
            !debug.contains(SECRET) && debug.contains("<redacted>"),
            "{debug}"
        );
    }

    #[test]
    fn zero_limits_and_idle_before_ping_are_refused() {
        for (name, zero) in [
            (
                "--rate-per-sec",
                (|l: &mut Limits| l.rate_per_sec = 0) as fn(&mut Limits),
            ),
            ("--max-connections-per-ip", |l| l.max_connections_per_ip = 0),
            ("--bytes-per-sec", |l| l.bytes_per_sec = 0),
        ] {
            let mut c = Config::default();
            zero(&mut c.limits);
            assert!(
                matches!(c.check(), Err(ConfigError::ZeroLimit(f)) if f == name),
                "{name}"
            );
        }
        let mut c = Config::default();
        c.limits.ping_secs = 10.0;
        c.limits.idle_timeout_secs = 10.0;
        assert!(matches!(c.check(), Err(ConfigError::IdleBeforePing)));
    }
}
