//! An echo server on the relay's own WebSocket stack, for the Autobahn test suite
//! (`sync-server/autobahn/run.sh`, whose fuzzing client expects an endpoint that echoes).
//!
//! It runs with the relay's default limits ([`Limits::default`]), and serves with the relay's
//! accept loop and HTTP limits ([`sync_server::relay::serve::run`]), the relay's upgrade limits
//! ([`websocket::with_limits`]) and the relay's handling of failed reads
//! ([`websocket::ReadFailure`], [`websocket::close`]). What differs from the relay is only what
//! it does with a message: it upgrades on any path and sends every text and binary message back
//! unchanged, where the relay decodes binary sync messages. Pings are answered by tungstenite,
//! as in the relay. It is an example, not a route of the relay, so no production binary echoes.
//!
//! Usage: `cargo run -p sync-server --example autobahn_echo -- --bind 127.0.0.1:0`; it prints
//! `listening on <addr>` and serves until killed.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::Router;
use clap::Parser;
use sync_server::config::Limits;
use sync_server::relay::{serve, websocket};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// An echo server on the relay's WebSocket stack, for the Autobahn test suite.
#[derive(Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9001")]
    bind: std::net::SocketAddr,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let limits = Limits::default();
    let listener = match TcpListener::bind(args.bind).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("autobahn_echo: binding {}: {e}", args.bind);
            return std::process::ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        // run.sh reads the bound address (port 0 picks one) from this line.
        Ok(addr) => println!("listening on {addr}"),
        Err(e) => {
            eprintln!("autobahn_echo: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let http_limits = serve::HttpLimits::of(&limits);
    let router = Router::new().fallback(upgrade).with_state(Arc::new(limits));
    // Never signalled: the server runs until the process is killed.
    let (_shutdown_tx, shutdown_rx) = watch::channel(false);
    match serve::run(listener, router, http_limits, shutdown_rx).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("autobahn_echo: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Any path: upgrades with the relay's limits (a request that is no upgrade gets axum's
/// rejection).
async fn upgrade(State(limits): State<Arc<Limits>>, upgrade: WebSocketUpgrade) -> Response {
    websocket::with_limits(upgrade, &limits).on_upgrade(echo)
}

/// Sends every text and binary message back; fails the connection as the relay does.
async fn echo(mut socket: WebSocket) {
    while let Some(read) = socket.recv().await {
        match read {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                if socket.send(message).await.is_err() {
                    return;
                }
            }
            // tungstenite queued the pong, or the reply to a close, and sends it on the next read.
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Close(_)) => {}
            Err(e) => {
                if let Some((code, reason)) = websocket::ReadFailure::of(&e).close() {
                    websocket::close(&mut socket, code, reason).await;
                }
                return;
            }
        }
    }
}
