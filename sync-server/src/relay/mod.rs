//! [`Relay`]: the server. It binds the listener, serves the WebSocket endpoint (`/` and
//! `/sync`), `GET /healthz`, `GET /metrics` and optionally static files, runs the persister
//! thread and the background compactor, and shuts down gracefully.
//!
//! Invariant: shutdown stops accepting, closes every socket with 1001 ("going away"), then waits
//! until every change handed to the persister is durable before returning: nothing a room
//! accepted is lost on an orderly stop. The layout (a context shared by connection tasks, a
//! shutdown signal threaded through them) follows mini-redis's `server.rs`.

mod compactor;
mod connection;
mod peer;
mod persister;
mod room;
mod rooms;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::Authorizer;
use crate::cluster::{Backplane, ClusterError};
use crate::config::{Config, ConfigError, StorageConfig};
use crate::metrics::{Metrics, Rejection};
use crate::storage::{MemoryStore, RedisStore, SqliteStore, Store, StoreError};

pub use peer::ConnId;

/// What every connection and room shares.
pub(crate) struct RelayContext {
    pub config: Config,
    pub metrics: Arc<Metrics>,
    pub store: Arc<dyn Store>,
    pub persist_queue: std_mpsc::Sender<persister::PersistMessage>,
    pub rooms: rooms::Rooms,
    pub auth: Authorizer,
    pub next_conn: AtomicU64,
    pub shutdown: watch::Receiver<bool>,
    /// The cluster backplane, in cluster mode (`--redis`).
    pub cluster: Option<Arc<Backplane>>,
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

#[derive(Deserialize)]
struct ConnectParams {
    token: Option<String>,
}

impl Relay {
    /// Opens the configured store and starts serving.
    pub async fn start(config: Config) -> Result<Relay, RelayError> {
        config.check()?;
        let (store, cluster): (Arc<dyn Store>, _) = match config.storage() {
            StorageConfig::Memory => (Arc::new(MemoryStore::new()), None),
            StorageConfig::Sqlite { path, synchronous } => {
                (Arc::new(SqliteStore::open(&path, synchronous)?), None)
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
        let persister = persister::Persister::start(Arc::clone(&store), Arc::clone(&metrics))?;
        let persist_queue = persister
            .queue()
            .ok_or_else(|| std::io::Error::other("persister has no queue"))?;
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let auth = Authorizer::new(config.auth_secret.as_deref());
        if auth.requires_token() {
            tracing::info!(%addr, "relay listening; peers need a signed token");
        } else {
            tracing::warn!(%addr, "relay listening WITHOUT authentication: every peer may read and write every document");
        }
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let ctx = Arc::new(RelayContext {
            config,
            metrics,
            store,
            persist_queue,
            rooms: rooms::Rooms::default(),
            auth,
            next_conn: AtomicU64::new(cluster.as_ref().map_or(0, |c| c.first_connection_id())),
            shutdown: shutdown_rx.clone(),
            cluster,
        });
        let router = router(Arc::clone(&ctx));
        let mut stop = shutdown_rx.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.changed().await;
                })
                .await
        });
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

fn router(ctx: Arc<RelayContext>) -> Router {
    let mut router = Router::new()
        .route("/", get(websocket))
        .route("/sync", get(websocket))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics));
    if let Some(dir) = &ctx.config.static_dir {
        router = router.fallback_service(tower_http::services::ServeDir::new(dir));
    }
    router.with_state(ctx)
}

async fn metrics(State(ctx): State<Arc<RelayContext>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        ctx.metrics.render(),
    )
        .into_response()
}

/// Decrements the connection gauge when the connection ends, however it ends.
struct ConnectionSlot(Arc<Metrics>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Relaxed);
    }
}

async fn websocket(
    State(ctx): State<Arc<RelayContext>>,
    Query(params): Query<ConnectParams>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let max = ctx.config.limits.max_connections as i64;
    if ctx.metrics.connections.fetch_add(1, Relaxed) >= max {
        ctx.metrics.connections.fetch_sub(1, Relaxed);
        ctx.metrics.rejected(Rejection::TooManyConnections);
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections\n").into_response();
    }
    let slot = ConnectionSlot(Arc::clone(&ctx.metrics));
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let token = params.token.or(bearer);
    let grant = ctx.auth.grant(token.as_deref());
    let max_frame = ctx.config.limits.max_frame_bytes;
    // The socket's own limit sits above ours, so that a frame just over ours gets a protocol
    // Error and a 1009 close from the connection rather than a bare transport failure.
    let hard_limit = max_frame
        .saturating_add(max_frame / 4)
        .saturating_add(64 << 10);
    upgrade
        .max_message_size(hard_limit)
        .max_frame_size(hard_limit)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            connection::serve(socket, ctx, grant).await;
        })
}
