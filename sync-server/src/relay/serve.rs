//! The listener loop under the relay: accepts TCP connections and serves the relay's router
//! (`relay/http.rs`) on each with hyper, with the limits `axum::serve` does not expose.
//!
//! Invariant: a connection must deliver its complete request head within
//! `--handshake-timeout-secs` and in at most `--max-header-bytes` (and 100 headers), or hyper
//! drops it (HTTP 431 for a head too large), so half-sent handshakes (slowloris) cost a socket for
//! a bounded time and never a thread: every connection is its own task. Accept errors (such as
//! running out of file descriptors) pause accepting briefly instead of spinning. This is the
//! per-connection loop `axum::serve` runs, with hyper's `http1::Builder` configured as hyper's
//! server examples do. Each request carries its peer's address as axum's [`ConnectInfo`]
//! extension, as `into_make_service_with_connect_info` would give it (the per-address connection
//! limit reads it). It is public so the Autobahn echo server (`examples/autobahn_echo.rs`)
//! runs on this same loop.

use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt as _;

use crate::config::Limits;

/// Most header lines in a request head.
const MAX_HEADERS: usize = 100;

/// Limits of the HTTP layer.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Time to send the whole request head.
    pub head_timeout: Duration,
    /// Bytes of the request head.
    pub max_head_bytes: usize,
}

impl HttpLimits {
    /// The HTTP limits of the relay's configuration: `--handshake-timeout-secs` and
    /// `--max-header-bytes`.
    pub fn of(limits: &Limits) -> HttpLimits {
        HttpLimits {
            head_timeout: limits.handshake_timeout(),
            max_head_bytes: limits.max_header_bytes,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` turns true; then stops accepting, asks open
/// HTTP connections to finish, and returns when they have (upgraded WebSockets are separate
/// tasks that watch the same signal).
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let (done_tx, done_rx) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; pausing");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        // Small frames (acks, presence) should not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        ));
        let mut stop = shutdown.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.head_timeout)
                .max_buf_size(limits.max_head_bytes)
                .max_headers(MAX_HEADERS);
            let conn = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "http connection ended");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
            drop(done);
        });
    }
    drop(done_rx);
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), done_tx.closed()).await;
    Ok(())
}
