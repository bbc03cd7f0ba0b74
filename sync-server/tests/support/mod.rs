//! Support for the relay's operational and hostile-world tests: the real binary as a child
//! process, plain HTTP requests, raw WebSocket clients, a fault-injecting TCP proxy, and the
//! resident memory of a process.

#![allow(dead_code)]

pub mod proxy;

use crate::common::listening_address;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crdt_core::sync::{decode, encode, DocId, ErrorCode, Message};
use crdt_core::VersionVector;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message as Ws;

/// A raw WebSocket client.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The relay binary, started with `args`; returns it and the address it printed.
pub fn spawn_relay(args: &[&str]) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("relay binary starts");
    let addr = listening_address(&mut child);
    (child, addr)
}

/// Sends SIGTERM to `child` (graceful shutdown) and waits for it to exit; true on success.
pub fn terminate(child: &mut Child) -> bool {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -TERM");
    child.wait().expect("waits for the relay").success()
}

/// Sends SIGKILL to `child` and reaps it.
pub fn kill9(child: &mut Child) {
    child.kill().expect("SIGKILL");
    let _ = child.wait();
}

/// Resident memory of process `pid`, in bytes (Linux).
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// `GET path` over a fresh HTTP/1.1 connection: the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("answers in time")
        .unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Connects a raw WebSocket client to `/sync`.
pub async fn raw(addr: SocketAddr) -> Socket {
    tokio_tungstenite::connect_async(format!("ws://{addr}/sync"))
        .await
        .expect("connects")
        .0
}

/// A Hello for `doc` from an empty document.
pub fn hello(doc: &DocId) -> Ws {
    Ws::Binary(
        encode(&Message::Hello {
            doc: doc.clone(),
            version: VersionVector::new(),
        })
        .into(),
    )
}

/// What a raw client saw until the relay closed or the deadline passed.
#[derive(Debug, Default)]
pub struct Seen {
    /// Protocol errors, in order.
    pub errors: Vec<(ErrorCode, String)>,
    /// The close frame's code and reason, if one came.
    pub close: Option<(u16, String)>,
    /// Whether the stream ended (closed or failed) before the deadline.
    pub ended: bool,
}

/// Reads (answering pings) until the stream ends or `timeout` passes.
pub async fn read_until_closed<S>(
    socket: &mut tokio_tungstenite::WebSocketStream<S>,
    timeout: Duration,
) -> Seen
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut seen = Seen::default();
    let _ = tokio::time::timeout(timeout, async {
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(Ws::Binary(bytes)) => {
                    if let Ok(Message::Error { code, message, .. }) = decode(&bytes) {
                        seen.errors.push((code, message));
                    }
                }
                Ok(Ws::Close(frame)) => {
                    seen.close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        seen.ended = true;
    })
    .await;
    seen
}

/// Waits until `condition` holds, checking every few milliseconds, for at most `timeout`.
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
