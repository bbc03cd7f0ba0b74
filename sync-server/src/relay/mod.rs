//! [`Relay`]: the server. It binds the listener and serves on it ([`serve`]) the relay's router
//! (`http.rs`: the WebSocket endpoint at `/` and `/sync`, `GET /healthz`, `GET /metrics` and
//! optionally static files), runs the persister thread and the background compactor, and shuts
//! down gracefully.
//!
//! Invariant: shutdown stops accepting, closes every socket with 1001 ("going away"), then waits
//! until every change handed to the persister is durable before returning: nothing a room
//! accepted is lost on an orderly stop. The layout (a context shared by connection tasks, a
//! shutdown signal threaded through them) follows mini-redis's `server.rs`.

mod byte_budget;
mod compactor;
mod connection;
mod encode_once;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handler;
mod health;
mod http;
mod peer;
mod per_ip;
mod persister;
mod room;
mod rooms;
pub mod serve;
mod static_files;
pub mod websocket;
mod write_gate;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::Authorizer;
use crate::cluster::{Backplane, ClusterError};
use crate::config::{Config, ConfigError, StorageConfig};
use crate::metrics::Metrics;
use crate::storage::{MemoryStore, RedisStore, SqliteStore, Store, StoreError};

pub use peer::ConnId;
pub(crate) use write_gate::WriteGate;

/// The WebSocket subprotocol of this relay. A browser, which cannot set headers, may offer
/// `Sec-WebSocket-Protocol: crdt-sync, token.<JWT>`: the relay selects `crdt-sync` and takes the
/// token from the second entry.
pub const SUBPROTOCOL: &str = "crdt-sync";

/// The prefix of a subprotocol entry that carries a token.
pub const TOKEN_SUBPROTOCOL_PREFIX: &str = "token.";

/// What every connection and room shares.
pub(crate) struct RelayContext {
    pub config: Config,
    pub metrics: Arc<Metrics>,
    pub store: Arc<dyn Store>,
    pub persist_queue: std_mpsc::Sender<persister::PersistMessage>,
    pub rooms: rooms::Rooms,
    pub auth: Authorizer,
    pub write_gate: Arc<WriteGate>,
    pub next_conn: AtomicU64,
    /// Connections per IP address (`--max-connections-per-ip`).
    pub per_ip: Arc<per_ip::PerIp>,
    pub shutdown: watch::Receiver<bool>,
    /// The cluster backplane, in cluster mode (`--redis`).
    pub cluster: Option<Arc<Backplane>>,
}

#[cfg(any(test, feature = "fuzzing"))]
impl RelayContext {
    /// A context for driving rooms and connections without sockets or a persister: the test
    /// configuration, an in-memory store, open access, and writes handed to `persist_queue`,
    /// where the caller completes them (`Room::on_persisted`). Connection ids start at 1.
    pub(crate) fn for_tests(
        persist_queue: std_mpsc::Sender<persister::PersistMessage>,
        shutdown: watch::Receiver<bool>,
    ) -> RelayContext {
        let config = Config::for_tests();
        RelayContext {
            write_gate: Arc::new(WriteGate::new(config.maintenance.storage_retry())),
            config,
            metrics: Arc::new(Metrics::default()),
            store: Arc::new(crate::storage::MemoryStore::new()),
            persist_queue,
            rooms: rooms::Rooms::default(),
            auth: Authorizer::new(None),
            next_conn: AtomicU64::new(1),
            per_ip: Arc::default(),
            shutdown,
            cluster: None,
        }
    }
}

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The configuration is refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened.
    #[error("opening the store: {0}")]
    Store(#[from] StoreError),
    /// Joining the cluster failed.
    #[error("joining the cluster: {0}")]
    Cluster(#[from] ClusterError),
    /// Binding or serving failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// A running relay; see the [module docs](self).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sync_server::{Config, Relay};
/// let relay = Relay::start(Config::for_tests()).await.unwrap();
/// let addr = relay.local_addr();
/// assert!(addr.ip().is_loopback() && addr.port() != 0);
/// relay.shutdown().await;
/// # });
/// ```
pub struct Relay {
    addr: SocketAddr,
    ctx: Arc<RelayContext>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    compactor: JoinHandle<()>,
    persister: persister::Persister,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").field("addr", &self.addr).finish()
    }
}

impl Relay {
    /// Opens the configured store and starts serving.
    pub async fn start(config: Config) -> Result<Relay, RelayError> {
        config.check()?;
        let (store, cluster): (Arc<dyn Store>, _) = match config.storage.clone() {
            StorageConfig::Memory => (Arc::new(MemoryStore::new()), None),
            StorageConfig::Sqlite { path, synchronous } => {
                let store = SqliteStore::open(&path, synchronous)?;
                if let Some(max) = config.maintenance.sqlite_max_bytes {
                    store.limit_size(max)?;
                }
                (Arc::new(store), None)
            }
            StorageConfig::Redis { url } => {
                let backplane = Backplane::connect(&url).await?;
                let node = backplane.node();
                let store = tokio::task::spawn_blocking(move || RedisStore::open(&url, node))
                    .await
                    .map_err(std::io::Error::other)??;
                (Arc::new(store), Some(backplane))
            }
        };
        Self::start_inner(config, store, cluster).await
    }

    /// Starts serving with the given store.
    pub async fn start_with_store(
        config: Config,
        store: Arc<dyn Store>,
    ) -> Result<Relay, RelayError> {
        Self::start_inner(config, store, None).await
    }

    async fn start_inner(
        config: Config,
        store: Arc<dyn Store>,
        cluster: Option<Arc<Backplane>>,
    ) -> Result<Relay, RelayError> {
        config.check()?;
        let metrics = Arc::new(Metrics::default());
        let durable = store.ack_durability().is_durable();
        metrics.durable_acks.store(i64::from(durable), Relaxed);
        let write_gate = Arc::new(WriteGate::new(config.maintenance.storage_retry()));
        let persister = persister::Persister::start(
            Arc::clone(&store),
            Arc::clone(&metrics),
            Arc::clone(&write_gate),
        )?;
        let persist_queue = persister
            .queue()
            .ok_or_else(|| std::io::Error::other("persister has no queue"))?;
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let auth = Authorizer::new(config.auth_secret.as_deref());
        if auth.requires_token() {
            tracing::info!(%addr, "relay listening; peers need a signed token");
        } else {
            tracing::warn!(
                %addr,
                "relay listening WITHOUT authentication: every peer may read and write every \
                 document (browser pages only from the allowed origins, by default localhost)"
            );
        }
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let ctx = Arc::new(RelayContext {
            config,
            metrics,
            store,
            persist_queue,
            rooms: rooms::Rooms::default(),
            auth,
            write_gate,
            next_conn: AtomicU64::new(cluster.as_ref().map_or(0, |c| c.first_connection_id())),
            per_ip: Arc::default(),
            shutdown: shutdown_rx.clone(),
            cluster,
        });
        let router = http::router(Arc::clone(&ctx))?;
        let limits = serve::HttpLimits::of(&ctx.config.limits);
        let server = tokio::spawn(serve::run(listener, router, limits, shutdown_rx.clone()));
        let compactor = tokio::spawn(compactor::run(Arc::clone(&ctx)));
        Ok(Relay {
            addr,
            ctx,
            shutdown: shutdown_tx,
            server,
            compactor,
            persister,
        })
    }

    /// The address the relay listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The relay's metrics.
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.ctx.metrics)
    }

    /// Documents loaded in memory now.
    pub fn loaded_documents(&self) -> usize {
        self.ctx.rooms.len()
    }

    /// Stops accepting, closes every connection with 1001, and returns once every accepted
    /// change is durable.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        self.compactor.abort();
        // Connections see the signal and close; wait (bounded) until they are gone.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.ctx.metrics.connections.load(Relaxed) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.server).await;
        let persister = self.persister;
        let _ = tokio::task::spawn_blocking(move || persister.finish()).await;
        if let Some(cluster) = &self.ctx.cluster {
            cluster.shutdown().await;
        }
        tracing::info!("relay stopped; every accepted change is stored");
    }
}
