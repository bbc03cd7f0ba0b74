//! The relay's HTTP surface: the router and its handlers. `/` and `/sync` upgrade to the
//! WebSocket endpoint (`/` serves `--static`'s `index.html` to a plain GET), `GET /healthz`,
//! `GET /metrics`, and `--static` files for every other path.
//!
//! Invariant: everything that decides whether a WebSocket may open is checked here, before the
//! upgrade and in this order: the page's `Origin` (HTTP 403), the connections from the peer's
//! address (HTTP 429), the connection limit (HTTP 503),
//! then the token, whose verdict travels with the socket to [`super::connection`], which answers a
//! refused one with an `Error` and close 1008. A token is read only from the `Authorization:
//! Bearer` header or a `Sec-WebSocket-Protocol` entry `token.<JWT>`, never from the URL, which
//! proxies and access logs keep: a `?token=` is refused with a message saying where to send it,
//! and nothing here logs a URL or a header. The listener loop under this router is
//! [`super::serve`].

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::static_files::StaticFiles;
use super::{handler, websocket, RelayContext, SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX};
use crate::auth::AuthError;
use crate::metrics::{Metrics, Rejection};

/// What the handlers share.
struct HttpState {
    ctx: Arc<RelayContext>,
    /// `--static`, when given.
    files: Option<StaticFiles>,
}

/// The relay's router over `ctx`; fails when `--static`'s protected files cannot be resolved.
pub(crate) fn router(ctx: Arc<RelayContext>) -> std::io::Result<Router> {
    let files = match &ctx.config.static_dir {
        Some(dir) => Some(StaticFiles::new(dir, ctx.config.database())?),
        None => None,
    };
    let serves_files = files.is_some();
    let state = Arc::new(HttpState { ctx, files });
    let mut router = Router::new()
        .route("/", get(root))
        .route("/sync", get(sync))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics));
    if serves_files {
        router = router.fallback(static_file);
    }
    Ok(router.with_state(state))
}

/// `/healthz`: "ok", plus a line when acknowledged writes are not durable (see `health.rs`).
async fn healthz(State(state): State<Arc<HttpState>>) -> String {
    super::health::healthz_body(&state.ctx.store.ack_durability())
}

/// `/metrics`: the Prometheus text exposition.
async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.ctx.metrics.render(),
    )
        .into_response()
}

/// Any path but the routes: a `--static` file.
async fn static_file(State(state): State<Arc<HttpState>>, request: Request) -> Response {
    match &state.files {
        Some(files) => files.serve(request).await,
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `/`: the WebSocket endpoint for upgrade requests; otherwise `index.html` of `--static`.
async fn root(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => websocket(&state.ctx, peer, &parts.headers, &parts.uri, upgrade),
        Err(rejection) => match &state.files {
            Some(files) => files.serve(Request::from_parts(parts, body)).await,
            None => rejection.into_response(),
        },
    }
}

/// `/sync`: the WebSocket endpoint.
async fn sync(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: WebSocketUpgrade,
) -> Response {
    websocket(&state.ctx, peer, &headers, &uri, upgrade)
}

/// Decrements the connection gauge when the connection ends, however it ends.
struct ConnectionSlot(Arc<Metrics>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Relaxed);
    }
}

/// Checks an upgrade request (origin, connection limit, token) and upgrades it.
fn websocket(
    ctx: &Arc<RelayContext>,
    peer: SocketAddr,
    headers: &HeaderMap,
    uri: &Uri,
    upgrade: WebSocketUpgrade,
) -> Response {
    let origin = headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("?"));
    if !ctx.config.origin_allowed(origin) {
        ctx.metrics.rejected(Rejection::Origin);
        tracing::info!(?origin, "refused an upgrade from an origin not allowed");
        return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
    }
    let per_ip_max = ctx.config.limits.max_connections_per_ip;
    let Some(ip_slot) = ctx.per_ip.acquire(peer.ip(), per_ip_max) else {
        ctx.metrics.rejected(Rejection::TooManyConnectionsPerIp);
        tracing::info!(ip = %peer.ip(), "refused a connection: too many from its address");
        let body = format!("too many connections from this address (at most {per_ip_max})\n");
        return (StatusCode::TOO_MANY_REQUESTS, body).into_response();
    };
    let max = ctx.config.limits.max_connections as i64;
    if ctx.metrics.connections.fetch_add(1, Relaxed) >= max {
        ctx.metrics.connections.fetch_sub(1, Relaxed);
        ctx.metrics.rejected(Rejection::TooManyConnections);
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections\n").into_response();
    }
    let slot = ConnectionSlot(Arc::clone(&ctx.metrics));
    let grant = match presented_token(headers) {
        Some(token) => ctx.auth.grant(Some(&token)),
        None if ctx.auth.requires_token() && has_token_query(uri.query()) => {
            Err(AuthError::TokenInUrl)
        }
        None => ctx.auth.grant(None),
    };
    let ctx = Arc::clone(ctx);
    // Up to the hard limit, the connection decodes and answers a message over
    // `--max-frame-bytes` with an `Error` and a 1009 close; beyond it the read fails and the
    // close is 1009 alone.
    websocket::with_limits(upgrade, &ctx.config.limits)
        .protocols([SUBPROTOCOL])
        .on_upgrade(move |socket| async move {
            let _slots = (slot, ip_slot);
            handler::serve(socket, ctx, grant).await;
        })
}

/// The token a connection presents: `Authorization: Bearer`, else a `Sec-WebSocket-Protocol`
/// entry `token.<JWT>` (browsers cannot set headers on a WebSocket).
fn presented_token(headers: &HeaderMap) -> Option<String> {
    let bearer = || {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned)
    };
    let subprotocol = || {
        headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find_map(|p| p.trim().strip_prefix(TOKEN_SUBPROTOCOL_PREFIX))
            .map(str::to_owned)
    };
    bearer().or_else(subprotocol)
}

/// Whether a query string carries a `token` parameter (as clients of old versions sent it).
fn has_token_query(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next() == Some("token"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_bearer_header_or_the_subprotocol_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_token(&headers), None);
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            "crdt-sync, token.from-subprotocol".parse().unwrap(),
        );
        assert_eq!(
            presented_token(&headers).as_deref(),
            Some("from-subprotocol")
        );
        headers.insert(header::AUTHORIZATION, "Bearer from-header".parse().unwrap());
        assert_eq!(presented_token(&headers).as_deref(), Some("from-header"));
        headers.insert(header::AUTHORIZATION, "Basic dXNlcjpwdw==".parse().unwrap());
        assert_eq!(
            presented_token(&headers).as_deref(),
            Some("from-subprotocol")
        );
    }

    #[test]
    fn token_queries_are_recognised() {
        assert!(has_token_query(Some("token=abc")));
        assert!(has_token_query(Some("client=1&token=abc")));
        assert!(has_token_query(Some("token")));
        assert!(!has_token_query(Some("client=1&tokens=2&x=token")));
        assert!(!has_token_query(None));
    }
}
