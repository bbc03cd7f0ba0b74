//! The command line of `sync-server`: every flag (each also an environment variable) and how it
//! maps onto the library's [`Config`].
//!
//! Invariant: with no flags the relay runs [`Config::default`]; the defaults shown by `--help` are
//! read from the library's `Default` impls, so they cannot drift from what the library does.
//! Checking the values (`Config::check`) is the library's job, so a relay embedded in another
//! program refuses the same settings.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use sync_server::config::{Limits, Maintenance, StorageConfig, Synchronous};
use sync_server::Config;

/// WebSocket relay for crdt-core documents: stores them, checks tokens, and syncs every peer.
#[derive(Parser)]
#[command(
    name = "sync-server",
    version,
    long_about = None,
    after_help = "Without --auth-secret every peer may read and write every document, and only \
                  pages served from localhost may open a WebSocket. With it, peers send an \
                  HS256 token as `Authorization: Bearer <JWT>` or as the WebSocket subprotocol \
                  `token.<JWT>` (never in the URL)."
)]
pub struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SYNC_BIND", value_name = "ADDR", default_value_t = Config::default().bind)]
    bind: SocketAddr,

    /// SQLite database file.
    #[arg(
        long,
        env = "SYNC_DATABASE",
        value_name = "FILE",
        default_value = "./sync-server.db"
    )]
    database: PathBuf,

    /// Keep documents in memory only (nothing survives a restart; for tests).
    #[arg(long, env = "SYNC_MEMORY", conflicts_with = "database")]
    memory: bool,

    /// Cluster mode: share documents with every relay using the Redis server at this URL
    /// (redis://host:port); Redis then stores them instead of SQLite.
    #[arg(
        long,
        env = "SYNC_REDIS",
        value_name = "URL",
        conflicts_with = "memory"
    )]
    redis: Option<String>,

    /// How hard SQLite syncs: `full` fsyncs every commit, `normal` survives a crash of the relay
    /// but not of the machine.
    #[arg(
        long,
        env = "SYNC_SQLITE_SYNCHRONOUS",
        value_name = "LEVEL",
        value_enum,
        default_value = "full"
    )]
    sqlite_synchronous: SynchronousArg,

    /// Secret (at least 32 bytes) that peers' HS256 tokens must be signed with; prefer the
    /// environment variable, which `ps` does not show. Without it every peer may read and write
    /// every document.
    #[arg(
        long,
        env = "SYNC_AUTH_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    auth_secret: Option<String>,

    /// Run without a secret although bound to a non-loopback address.
    #[arg(long, env = "SYNC_ALLOW_ANONYMOUS")]
    allow_anonymous: bool,

    /// Serve the files of this directory at / (never dotfiles nor the relay's database).
    #[arg(long = "static", env = "SYNC_STATIC", value_name = "DIR")]
    static_dir: Option<PathBuf>,

    /// Accept WebSocket upgrades only from pages of this origin (repeatable, e.g.
    /// https://app.example.com); others get HTTP 403. Default: localhost pages only without
    /// --auth-secret, any page with it.
    #[arg(
        long = "allowed-origin",
        env = "SYNC_ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    allowed_origins: Vec<String>,

    #[command(flatten, next_help_heading = "Limits")]
    limits: LimitArgs,

    #[command(flatten, next_help_heading = "Storage maintenance")]
    maintenance: MaintenanceArgs,
}

/// `--sqlite-synchronous`.
#[derive(Clone, Copy, ValueEnum)]
enum SynchronousArg {
    Full,
    Normal,
}

/// The flags of [`Limits`].
#[derive(clap::Args)]
struct LimitArgs {
    /// Largest message a peer may send, in bytes (one frame, or all fragments of a message).
    #[arg(long, env = "SYNC_MAX_FRAME_BYTES", default_value_t = Limits::default().max_frame_bytes)]
    max_frame_bytes: usize,

    /// Largest HTTP request head, in bytes (at least 8192); larger ones get HTTP 431.
    #[arg(long, env = "SYNC_MAX_HEADER_BYTES", default_value_t = Limits::default().max_header_bytes)]
    max_header_bytes: usize,

    /// Seconds a new connection has to send its request head; a slower one is dropped.
    #[arg(long, env = "SYNC_HANDSHAKE_TIMEOUT_SECS", default_value_t = Limits::default().handshake_timeout_secs)]
    handshake_timeout_secs: f64,

    /// Most documents one connection may join.
    #[arg(long, env = "SYNC_MAX_DOCS_PER_CONNECTION", default_value_t = Limits::default().max_docs_per_connection)]
    max_docs_per_connection: usize,

    /// Messages per second one connection may send, on average.
    #[arg(long, env = "SYNC_RATE_PER_SEC", default_value_t = Limits::default().rate_per_sec)]
    rate_per_sec: u32,

    /// Messages one connection may send in a burst above its rate.
    #[arg(long, env = "SYNC_RATE_BURST", default_value_t = Limits::default().rate_burst)]
    rate_burst: u32,

    /// Most concurrent connections; further ones get HTTP 503.
    #[arg(long, env = "SYNC_MAX_CONNECTIONS", default_value_t = Limits::default().max_connections)]
    max_connections: usize,

    /// Seconds between pings to each peer.
    #[arg(long, env = "SYNC_PING_SECS", default_value_t = Limits::default().ping_secs)]
    ping_secs: f64,

    /// Seconds without any frame from a peer (pongs included) before it is disconnected; also
    /// the longest a write to a peer may take.
    #[arg(long, env = "SYNC_IDLE_TIMEOUT_SECS", default_value_t = Limits::default().idle_timeout_secs)]
    idle_timeout_secs: f64,

    /// Frames queued for one peer before it counts as too slow and is disconnected.
    #[arg(long, env = "SYNC_OUTBOUND_QUEUE", default_value_t = Limits::default().outbound_queue)]
    outbound_queue: usize,

    /// Bytes of frames queued for one peer before it counts as too slow and is disconnected
    /// (close 1008); a single larger frame still goes to a peer whose queue is empty.
    #[arg(long, env = "SYNC_OUTBOUND_QUEUE_BYTES", default_value_t = Limits::default().outbound_queue_bytes)]
    outbound_queue_bytes: usize,

    /// Bytes of peers' messages queued for one document; past it a message is refused with an
    /// `Error` until the document catches up.
    #[arg(long, env = "SYNC_ROOM_QUEUE_BYTES", default_value_t = Limits::default().room_queue_bytes)]
    room_queue_bytes: usize,

    /// Largest presence state a peer may publish, in bytes; larger ones are refused.
    #[arg(long, env = "SYNC_MAX_PRESENCE_BYTES", default_value_t = Limits::default().max_presence_bytes)]
    max_presence_bytes: usize,

    /// Largest signaling payload (WebRTC offer, answer or ICE candidate) a peer may send to
    /// another, in bytes; larger ones are refused and not routed.
    #[arg(long, env = "SYNC_MAX_SIGNAL_BYTES", default_value_t = Limits::default().max_signal_bytes)]
    max_signal_bytes: usize,

    /// Most concurrent connections from one IP address; further ones get HTTP 429.
    #[arg(long, env = "SYNC_MAX_CONNECTIONS_PER_IP", default_value_t = Limits::default().max_connections_per_ip)]
    max_connections_per_ip: usize,

    /// Largest stored size of one document, in bytes; changes past it are refused.
    #[arg(long, env = "SYNC_MAX_DOC_BYTES", default_value_t = Limits::default().max_doc_bytes)]
    max_doc_bytes: usize,

    /// Bytes per second one connection may send, on average; past it the connection is closed.
    #[arg(long, env = "SYNC_BYTES_PER_SEC", default_value_t = Limits::default().bytes_per_sec)]
    bytes_per_sec: u64,

    /// Bytes one connection may send in a burst above `--bytes-per-sec`.
    #[arg(long, env = "SYNC_BYTES_BURST", default_value_t = Limits::default().bytes_burst)]
    bytes_burst: u64,
}

/// The flags of [`Maintenance`].
#[derive(clap::Args)]
struct MaintenanceArgs {
    /// Seconds a document with no connected peer stays loaded.
    #[arg(long, env = "SYNC_UNLOAD_IDLE_SECS", default_value_t = Maintenance::default().unload_idle_secs)]
    unload_idle_secs: f64,

    /// Stored change batches of a document after which its log is compacted into a snapshot.
    #[arg(long, env = "SYNC_COMPACT_AFTER", default_value_t = Maintenance::default().compact_after)]
    compact_after: u64,

    /// Seconds between compaction passes.
    #[arg(long, env = "SYNC_COMPACT_INTERVAL_SECS", default_value_t = Maintenance::default().compact_interval_secs)]
    compact_interval_secs: f64,

    /// Largest size of the SQLite database, in bytes; past it writes are refused (never
    /// acknowledged) and reads go on. Default: unlimited.
    #[arg(long, env = "SYNC_SQLITE_MAX_BYTES")]
    sqlite_max_bytes: Option<u64>,

    /// Seconds the relay refuses changes after the store failed to write (disk full) before it
    /// tries again.
    #[arg(long, env = "SYNC_STORAGE_RETRY_SECS", default_value_t = Maintenance::default().storage_retry_secs)]
    storage_retry_secs: f64,
}

impl Cli {
    /// The relay's configuration these flags describe (not yet checked).
    pub fn into_config(self) -> Config {
        Config {
            bind: self.bind,
            storage: storage(
                self.redis,
                self.memory,
                self.database,
                self.sqlite_synchronous,
            ),
            auth_secret: self.auth_secret,
            allow_anonymous: self.allow_anonymous,
            static_dir: self.static_dir,
            allowed_origins: self.allowed_origins,
            limits: self.limits.into(),
            maintenance: self.maintenance.into(),
        }
    }
}

/// `--redis` wins, then `--memory` (clap refuses the two together), else SQLite.
fn storage(
    redis: Option<String>,
    memory: bool,
    database: PathBuf,
    synchronous: SynchronousArg,
) -> StorageConfig {
    match (redis, memory) {
        (Some(url), _) => StorageConfig::Redis { url },
        (None, true) => StorageConfig::Memory,
        (None, false) => StorageConfig::Sqlite {
            path: database,
            synchronous: match synchronous {
                SynchronousArg::Full => Synchronous::Full,
                SynchronousArg::Normal => Synchronous::Normal,
            },
        },
    }
}

impl From<LimitArgs> for Limits {
    fn from(a: LimitArgs) -> Limits {
        Limits {
            max_frame_bytes: a.max_frame_bytes,
            max_header_bytes: a.max_header_bytes,
            handshake_timeout_secs: a.handshake_timeout_secs,
            max_docs_per_connection: a.max_docs_per_connection,
            rate_per_sec: a.rate_per_sec,
            rate_burst: a.rate_burst,
            max_connections: a.max_connections,
            ping_secs: a.ping_secs,
            idle_timeout_secs: a.idle_timeout_secs,
            outbound_queue: a.outbound_queue,
            outbound_queue_bytes: a.outbound_queue_bytes,
            room_queue_bytes: a.room_queue_bytes,
            max_presence_bytes: a.max_presence_bytes,
            max_signal_bytes: a.max_signal_bytes,
            max_connections_per_ip: a.max_connections_per_ip,
            max_doc_bytes: a.max_doc_bytes,
            bytes_per_sec: a.bytes_per_sec,
            bytes_burst: a.bytes_burst,
        }
    }
}

impl From<MaintenanceArgs> for Maintenance {
    fn from(a: MaintenanceArgs) -> Maintenance {
        Maintenance {
            unload_idle_secs: a.unload_idle_secs,
            compact_after: a.compact_after,
            compact_interval_secs: a.compact_interval_secs,
            sqlite_max_bytes: a.sqlite_max_bytes,
            storage_retry_secs: a.storage_retry_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Config {
        Cli::parse_from(std::iter::once("sync-server").chain(args.iter().copied())).into_config()
    }

    #[test]
    fn no_flags_is_the_library_default() {
        assert_eq!(parse(&[]), Config::default());
    }

    #[test]
    fn every_flag_reaches_its_setting() {
        let config = parse(&[
            "--bind=0.0.0.0:9000",
            "--database=/tmp/x.db",
            "--sqlite-synchronous=normal",
            "--auth-secret=0123456789abcdef0123456789abcdef",
            "--allow-anonymous",
            "--static=web",
            "--allowed-origin=https://a.example,https://b.example",
            "--allowed-origin=http://localhost:3000",
            "--max-frame-bytes=1",
            "--max-header-bytes=2",
            "--handshake-timeout-secs=0.5",
            "--max-docs-per-connection=3",
            "--rate-per-sec=4",
            "--rate-burst=5",
            "--max-connections=6",
            "--ping-secs=0.25",
            "--idle-timeout-secs=7",
            "--outbound-queue=8",
            "--outbound-queue-bytes=12",
            "--room-queue-bytes=14",
            "--max-presence-bytes=15",
            "--max-signal-bytes=20",
            "--max-connections-per-ip=16",
            "--max-doc-bytes=17",
            "--bytes-per-sec=18",
            "--bytes-burst=19",
            "--unload-idle-secs=9",
            "--compact-after=10",
            "--compact-interval-secs=11",
            "--sqlite-max-bytes=12",
            "--storage-retry-secs=13",
        ]);
        let want = Config {
            bind: "0.0.0.0:9000".parse().unwrap(),
            storage: StorageConfig::Sqlite {
                path: "/tmp/x.db".into(),
                synchronous: Synchronous::Normal,
            },
            auth_secret: Some("0123456789abcdef0123456789abcdef".into()),
            allow_anonymous: true,
            static_dir: Some("web".into()),
            allowed_origins: vec![
                "https://a.example".into(),
                "https://b.example".into(),
                "http://localhost:3000".into(),
            ],
            limits: Limits {
                max_frame_bytes: 1,
                max_header_bytes: 2,
                handshake_timeout_secs: 0.5,
                max_docs_per_connection: 3,
                rate_per_sec: 4,
                rate_burst: 5,
                max_connections: 6,
                ping_secs: 0.25,
                idle_timeout_secs: 7.0,
                outbound_queue: 8,
                outbound_queue_bytes: 12,
                room_queue_bytes: 14,
                max_presence_bytes: 15,
                max_signal_bytes: 20,
                max_connections_per_ip: 16,
                max_doc_bytes: 17,
                bytes_per_sec: 18,
                bytes_burst: 19,
            },
            maintenance: Maintenance {
                unload_idle_secs: 9.0,
                compact_after: 10,
                compact_interval_secs: 11.0,
                sqlite_max_bytes: Some(12),
                storage_retry_secs: 13.0,
            },
        };
        assert_eq!(config, want);
    }

    #[test]
    fn storage_flags() {
        assert_eq!(parse(&["--memory"]).storage, StorageConfig::Memory);
        assert_eq!(
            parse(&["--redis", "redis://127.0.0.1:6379"]).storage,
            StorageConfig::Redis {
                url: "redis://127.0.0.1:6379".into()
            }
        );
        let conflicts = [
            ["--memory", "--database=x.db"],
            ["--memory", "--redis=redis://x"],
        ];
        for args in conflicts {
            let args = std::iter::once("sync-server").chain(args);
            assert!(Cli::try_parse_from(args).is_err());
        }
    }

    #[test]
    fn help_reads_like_a_tool_and_lists_every_flag() {
        let help = Cli::command().render_long_help().to_string();
        assert!(
            !help.contains("```") && !help.contains("use sync_server"),
            "{help}"
        );
        for flag in [
            "--bind",
            "--database",
            "--memory",
            "--redis",
            "--auth-secret",
            "--allowed-origin",
            "--static",
            "--max-frame-bytes",
            "--outbound-queue",
            "--storage-retry-secs",
        ] {
            assert!(help.contains(flag), "{flag} missing from\n{help}");
        }
        Cli::command().debug_assert();
    }
}
