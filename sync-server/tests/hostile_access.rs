//! Issue #17's attacks on access, against the real relay binary: a page of another site using a
//! developer's browser against their local (anonymous) relay, a guessable secret, a grant that
//! cannot be checked at join, `--static` publishing dotfiles or the relay's own database, and
//! tokens travelling in URLs that proxies log.

mod common;
mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use crdt_core::sync::{decode, DocId, ErrorCode, Message};
use crdt_core::Doc;
use futures_util::{SinkExt, StreamExt};
use support::*;
use sync_server::auth::{unix_now, Access};
use sync_server::{ClientOptions, SyncClient};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;

/// A secret of the minimum length (32 bytes).
const SECRET: &str = "hostile-access-secret-of-32-byte";

fn token(pattern: &str, access: Access, exp: u64) -> String {
    signed_token(SECRET, pattern, access, exp)
}

/// The relay binary started with `args`; killed if a failed assertion ends the test first.
struct RelayProcess(std::process::Child);

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            kill9(&mut self.0);
        }
    }
}

fn start(args: &[&str]) -> (RelayProcess, std::net::SocketAddr) {
    let (child, addr) = spawn_relay(args);
    (RelayProcess(child), addr)
}

/// Opens a WebSocket to `ws://addr/sync{query}` with `headers`.
async fn upgrade(
    addr: std::net::SocketAddr,
    query: &str,
    headers: &[(&'static str, String)],
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let mut request = format!("ws://{addr}/sync{query}")
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

/// The first message about `doc` (or about no document) the relay sends, if any before the
/// deadline or the close.
async fn first_answer(socket: &mut Socket, doc: &DocId) -> Option<Message> {
    let read = tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(frame)) = socket.next().await {
            if let Ws::Binary(bytes) = frame {
                let message = decode(&bytes).expect("the relay speaks the protocol");
                if message.doc().is_none_or(|d| d == doc) {
                    return Some(message);
                }
            }
        }
        None
    });
    read.await.ok().flatten()
}

/// Whether `socket` may join `doc` and read it: the relay answers its Hello with a Hello.
async fn joins(socket: &mut Socket, doc: &DocId) -> bool {
    socket.send(hello(doc)).await.unwrap();
    matches!(first_answer(socket, doc).await, Some(Message::Hello { .. }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_page_cannot_use_a_default_anonymous_relay() {
    let (mut relay, addr) = start(&["--bind", "127.0.0.1:0", "--memory"]);
    let doc = id("local/notes");
    let origin = |o: String| vec![("Origin", o)];
    match upgrade(addr, "", &origin("https://evil.example".into())).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        Ok(_) => panic!("a page of https://evil.example opened a socket to the local relay"),
        Err(e) => panic!("expected HTTP 403, got {e}"),
    }
    // The relay's own pages, other local dev servers, and non-browser clients still work.
    let port = addr.port();
    for local in [
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{port}"),
        "http://localhost:5173".to_owned(),
        "http://[::1]:3000".to_owned(),
    ] {
        let mut socket = upgrade(addr, "", &origin(local.clone())).await.unwrap();
        assert!(joins(&mut socket, &doc).await, "{local}");
    }
    let mut socket = upgrade(addr, "", &[]).await.unwrap();
    assert!(joins(&mut socket, &doc).await, "no Origin: not a browser");
    let (_, metrics) = http_get(addr, "/metrics").await;
    assert!(
        metrics.contains("sync_rejections_total{reason=\"origin\"} 1\n"),
        "{metrics}"
    );
    assert!(terminate(&mut relay.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_allowed_origin_replaces_the_loopback_default() {
    let (mut relay, addr) = start(&[
        "--bind",
        "127.0.0.1:0",
        "--memory",
        "--allowed-origin",
        "https://app.example.com",
    ]);
    let doc = id("app/notes");
    let from = |o: &str| vec![("Origin", o.to_owned())];
    let mut app = upgrade(addr, "", &from("https://app.example.com"))
        .await
        .unwrap();
    assert!(joins(&mut app, &doc).await);
    for refused in ["http://localhost:8080", "https://evil.example"] {
        assert!(
            upgrade(addr, "", &from(refused)).await.is_err(),
            "{refused} is not on the list"
        );
    }
    assert!(terminate(&mut relay.0));
}

#[test]
fn a_short_secret_is_refused_at_start() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(["--bind", "127.0.0.1:0", "--memory"])
        .env("SYNC_AUTH_SECRET", "hunter2-is-not-a-secret")
        .env("RUST_LOG", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("relay binary starts");
    // A relay that accepted the secret would serve forever: wait (bounded) for it to exit.
    let deadline = std::time::Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            kill9(&mut child);
            panic!("the relay started with a 23-byte secret");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!status.success());
    assert!(
        stderr.contains("--auth-secret is 23 bytes; it must be at least 32"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the secret was printed: {stderr}"
    );
    assert!(output.stdout.is_empty(), "it never listened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_after_the_token_expired_gets_an_error_never_read_access() {
    let (mut relay, addr) = start(&["--bind", "127.0.0.1:0", "--memory", "--auth-secret", SECRET]);
    let doc = id("expiring/doc");
    let far = unix_now() + 3600;
    let writer = SyncClient::connect(
        &url(addr),
        ClientOptions {
            token: Some(token("expiring/*", Access::Write, far)),
            ..ClientOptions::default()
        },
    );
    writer.join(doc.clone(), Doc::new());
    writer.edit(&doc, |d| d.text("body").insert(0, "secret plans"));
    assert!(writer.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    // Valid when the socket opens, expired when the peer joins.
    let exp = unix_now() + 2;
    let bearer = format!("Bearer {}", token("expiring/*", Access::Write, exp));
    let mut socket = upgrade(addr, "", &[("Authorization", bearer)])
        .await
        .unwrap();
    assert!(eventually(DEADLINE, || unix_now() > exp).await);
    socket.send(hello(&doc)).await.unwrap();
    match first_answer(&mut socket, &doc).await {
        Some(Message::Error { code, .. }) => assert_eq!(code, ErrorCode::Unauthorized),
        // Closed at expiry (1008) before the Hello: also no access.
        None => {}
        Some(other) => panic!("an expired token was answered with {other:?}"),
    }
    writer.close().await;
    assert!(terminate(&mut relay.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_never_include_dotfiles_or_the_relays_database() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("page.html"), "<p>public</p>").unwrap();
    std::fs::write(root.join(".env"), "SYNC_AUTH_SECRET=x").unwrap();
    std::fs::create_dir(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/config"), "[remote]").unwrap();
    let db = root.join("relay.db");
    // `DIR/.` names the same directory in other words: paths are compared canonicalized.
    let static_dir = root.join(".");
    let (mut relay, addr) = start(&[
        "--bind",
        "127.0.0.1:0",
        "--database",
        db.to_str().unwrap(),
        "--static",
        static_dir.to_str().unwrap(),
    ]);
    let doc = id("private/doc");
    let writer = client(addr, &doc);
    writer.edit(&doc, |d| d.text("body").insert(0, "private words"));
    assert!(writer.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    assert!(root.join("relay.db-wal").exists(), "WAL mode");
    assert_eq!(
        http_get(addr, "/page.html").await,
        (200, "<p>public</p>".into())
    );
    for hidden in [
        "/relay.db",
        "/relay.db-wal",
        "/relay.db-shm",
        "/relay.db-journal",
        "/.env",
        "/%2eenv",
        "/.git/config",
        "/%2Egit/config",
        "/sub/../relay.db",
    ] {
        let (status, body) = http_get(addr, hidden).await;
        assert_eq!(status, 404, "{hidden}");
        assert!(
            !body.contains("private words") && !body.contains("SQLite"),
            "{hidden}"
        );
    }
    writer.close().await;
    assert!(terminate(&mut relay.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_client_sends_its_token_in_a_header_not_the_url() {
    // What the client puts on the wire, read by a listener that is not a relay.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token = token("wire/*", Access::Write, unix_now() + 3600);
    let options = ClientOptions {
        token: Some(token.clone()),
        ..ClientOptions::default()
    };
    let debug = format!("{options:?}");
    assert!(!debug.contains(&token), "Debug shows the token: {debug}");
    let probe = SyncClient::connect(&url(listener.local_addr().unwrap()), options.clone());
    let (mut stream, _) = tokio::time::timeout(DEADLINE, listener.accept())
        .await
        .expect("the client connects")
        .unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(DEADLINE, stream.read(&mut buf))
            .await
            .expect("the client sends its request")
            .unwrap();
        assert!(n > 0, "closed before the request head ended");
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    let request_line = head.lines().next().unwrap();
    assert_eq!(request_line, "get /sync http/1.1", "{head}");
    assert!(
        head.contains(&format!(
            "\r\nauthorization: bearer {}\r\n",
            token.to_lowercase()
        )),
        "{head}"
    );
    probe.close().await;

    // A relay that refuses tokens in URLs admits the client.
    let (mut relay, addr) = start(&["--bind", "127.0.0.1:0", "--memory", "--auth-secret", SECRET]);
    let doc = id("wire/doc");
    let native = SyncClient::connect(&url(addr), options);
    native.join(doc.clone(), Doc::new());
    native.edit(&doc, |d| d.text("body").insert(0, "sent with a header"));
    assert!(native.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    assert!(native.errors().is_empty(), "{:?}", native.errors());
    // A valid token in the URL is refused, saying where to send it.
    let mut in_url = upgrade(addr, &format!("?token={token}"), &[])
        .await
        .unwrap();
    let seen = read_until_closed(&mut in_url, DEADLINE).await;
    let (code, message) = seen.errors.first().expect("an Error").clone();
    assert_eq!(code, ErrorCode::Unauthorized);
    assert!(message.contains("Authorization: Bearer"), "{message}");
    assert!(!message.contains(&token), "{message}");
    assert_eq!(seen.close.map(|c| c.0), Some(1008));
    native.close().await;
    assert!(terminate(&mut relay.0));
}
