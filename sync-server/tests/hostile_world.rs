//! Issue #8's hostile world at the relay's edge: half-sent handshakes (slowloris) and oversized
//! request heads, oversized frames, bad document ids, foreign origins, tokens in a subprotocol,
//! and a store that cannot write (a full database): changes are refused and never acknowledged
//! while reads go on.

mod common;
mod support;

use std::time::{Duration, Instant};

use common::*;
use crdt_core::sync::ErrorCode;
use crdt_core::Doc;
use futures_util::SinkExt;
use support::*;
use sync_server::auth::{Access, Authorizer, Claims};
use sync_server::config::{StorageConfig, Synchronous};
use sync_server::metrics::Rejection;
use sync_server::{ClientOptions, SyncClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;

/// Reads until the peer closes the TCP connection; what it sent, or `None` past the deadline.
async fn until_eof(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut got)).await;
    match read {
        Ok(_) => Some(got),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_handshakes_are_dropped_and_do_not_block_others() {
    // The head timeout is long next to an honest sync (milliseconds), so an honest client that
    // waited behind the stalled handshakes would show it even on a loaded machine.
    let relay = relay_with(|c| c.limits.handshake_timeout_secs = 3.0).await;
    let addr = relay.local_addr();
    let started = Instant::now();
    let mut stalled = Vec::new();
    for i in 0..200 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        if i % 2 == 0 {
            // Half a request head, then nothing.
            s.write_all(b"GET /sync HTTP/1.1\r\nHost: x\r\nUpgrade: websock")
                .await
                .unwrap();
        }
        stalled.push(s);
    }
    // Meanwhile an honest client connects and syncs at once.
    let doc = id("slowloris/doc");
    let honest_started = Instant::now();
    let honest = client(addr, &doc);
    honest.edit(&doc, |d| d.text("body").insert(0, "fine"));
    assert!(honest.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    let honest_took = honest_started.elapsed();
    assert!(
        honest_took < Duration::from_secs(2),
        "the honest client waited {honest_took:?} behind 200 stalled handshakes"
    );
    // Every stalled socket is closed by the relay after the timeout (none before it).
    for s in &mut stalled {
        assert!(
            until_eof(s).await.is_some(),
            "a stalled handshake was kept open"
        );
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(3),
        "closed before the timeout: {waited:?}"
    );
    eprintln!(
        "200 stalled handshakes dropped after {waited:?}; honest client synced in {honest_took:?}"
    );
    assert!(
        honest.is_connected(),
        "the upgraded connection is not subject to the head timeout"
    );
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_head_gets_431() {
    let relay = relay_with(|c| c.limits.max_header_bytes = 8192).await;
    let mut s = tokio::net::TcpStream::connect(relay.local_addr())
        .await
        .unwrap();
    let filler = "a".repeat(20_000);
    let head = format!("GET /sync HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\n\r\n");
    // The relay may stop reading once the limit is passed; its answer is what counts.
    let _ = s.write_all(head.as_bytes()).await;
    let answer = until_eof(&mut s)
        .await
        .expect("the relay answers and closes");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(http_get(relay.local_addr(), "/healthz").await.0, 200);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_far_over_the_limit_are_refused_before_buffering() {
    let relay = relay_with(|c| c.limits.max_frame_bytes = 65536).await;
    let addr = relay.local_addr();
    let mut s = raw(addr).await;
    // 1 MiB: 16 times the limit, far past the transport's hard limit (limit + 64 KiB).
    let _ = s.send(Ws::Binary(vec![0u8; 1 << 20].into())).await;
    let seen = read_until_closed(&mut s, DEADLINE).await;
    assert!(seen.ended);
    if let Some((code, _)) = seen.close {
        assert_eq!(code, 1009);
    }
    assert!(relay.metrics().rejections(Rejection::TooLarge) >= 1);
    // A 4 MiB default: a fresh relay takes a 3 MiB change and refuses a 5 MiB one.
    let default = common::relay().await;
    let doc = id("big/doc");
    let writer = client(default.local_addr(), &doc);
    writer.edit(&doc, |d| d.text("body").insert(0, &"x".repeat(3 << 20)));
    assert!(writer.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    let mut s = raw(default.local_addr()).await;
    let _ = s.send(Ws::Binary(vec![0u8; 5 << 20].into())).await;
    let seen = read_until_closed(&mut s, DEADLINE).await;
    assert!(seen.ended && default.metrics().rejections(Rejection::TooLarge) == 1);
    relay.shutdown().await;
    default.shutdown().await;
}

/// Opens `/sync` with a hand-written handshake, writes `frame` (raw bytes a WebSocket library
/// would refuse to send), and returns the code of the close frame the relay answers with
/// (skipping its pings), or `None` when it closes the TCP connection without one.
async fn close_code_after_raw_frame(addr: std::net::SocketAddr, frame: &[u8]) -> Option<u16> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"GET /sync HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(s.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    s.write_all(frame).await.unwrap();
    let rest = until_eof(&mut s).await.expect("the relay closes");
    // Server frames are unmasked and small here: [opcode, len (< 126), payload].
    let mut at = 0;
    while at + 2 <= rest.len() {
        let (opcode, len) = (rest[at] & 0x0F, usize::from(rest[at + 1] & 0x7F));
        if opcode == 0x8 && len >= 2 {
            return Some(u16::from_be_bytes([rest[at + 2], rest[at + 3]]));
        }
        at += 2 + len;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_protocol_violations_fail_the_connection_with_their_close_code() {
    let relay = relay().await;
    let addr = relay.local_addr();
    let masked = |first: u8, payload: &[u8]| {
        let mut frame = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        frame.extend_from_slice(payload);
        frame
    };
    let mut big_ping = vec![0x89, 0x80 | 126, 0, 126, 0, 0, 0, 0];
    big_ping.extend_from_slice(&[0u8; 126]);
    let cases: [(&str, Vec<u8>, u16); 6] = [
        ("a reserved bit", masked(0xC2, b""), 1002),
        ("a reserved opcode", masked(0x83, b""), 1002),
        (
            "a continuation with nothing to continue",
            masked(0x80, b"x"),
            1002,
        ),
        ("a control frame over 125 bytes", big_ping, 1002),
        ("an unmasked frame", vec![0x82, 0x01, 0x00], 1002),
        (
            "a text frame that is not UTF-8",
            masked(0x81, &[0xC3, 0x28]),
            1007,
        ),
    ];
    for (what, frame, code) in cases {
        let got = close_code_after_raw_frame(addr, &frame).await;
        assert_eq!(got, Some(code), "{what}");
    }
    assert_eq!(relay.metrics().rejections(Rejection::BadMessage), 6);
    relay.shutdown().await;
}

/// A Hello frame whose document id is the raw string `doc` (bypassing `DocId`'s checks).
fn raw_hello(doc: &str) -> Ws {
    let mut frame = vec![0x94, 0x01, 0x00];
    let len = doc.len();
    if len < 32 {
        frame.push(0xa0 | len as u8);
    } else if len < 256 {
        frame.extend([0xd9, len as u8]);
    } else {
        frame.push(0xda);
        frame.extend((len as u16).to_be_bytes());
    }
    frame.extend(doc.as_bytes());
    frame.push(0x80);
    Ws::Binary(frame.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_document_ids_get_a_clear_error() {
    let relay = relay().await;
    let addr = relay.local_addr();
    // The frame builder is right: a valid id joins.
    let mut s = raw(addr).await;
    s.send(raw_hello("fine/id")).await.unwrap();
    s.send(Ws::Close(None)).await.unwrap();
    let seen = read_until_closed(&mut s, DEADLINE).await;
    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    for (bad, says) in [
        ("x".repeat(257), "more than 256"),
        ("a b".to_owned(), "allowed are"),
        ("../../etc/passwd\u{0}".to_owned(), "allowed are"),
        (String::new(), "empty"),
    ] {
        let mut s = raw(addr).await;
        s.send(raw_hello(&bad)).await.unwrap();
        let seen = read_until_closed(&mut s, DEADLINE).await;
        assert_eq!(seen.errors.len(), 1, "{bad:?}: {:?}", seen.errors);
        let (code, message) = &seen.errors[0];
        assert_eq!(*code, ErrorCode::BadMessage);
        assert!(
            message.contains("document id") && message.contains(says),
            "{message}"
        );
        assert_eq!(seen.close.map(|c| c.0), Some(1002));
    }
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_from_other_origins_get_403() {
    let relay = relay_with(|c| c.allowed_origins = vec!["https://app.example.com".into()]).await;
    let addr = relay.local_addr();
    let connect = |origin: Option<&'static str>| async move {
        let mut request = format!("ws://{addr}/sync").into_client_request().unwrap();
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", origin.parse().unwrap());
        }
        tokio_tungstenite::connect_async(request).await
    };
    match connect(Some("https://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected 403, got {other:?}"),
    }
    assert!(connect(Some("https://app.example.com")).await.is_ok());
    assert!(
        connect(None).await.is_ok(),
        "non-browser clients send no Origin"
    );
    assert_eq!(relay.metrics().rejections(Rejection::Origin), 1);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_in_a_subprotocol_or_a_bearer_header_are_accepted() {
    const SECRET: &str = "subprotocol-test-secret-32-bytes";
    let relay = relay_with(|c| c.auth_secret = Some(SECRET.into())).await;
    let addr = relay.local_addr();
    let auth = Authorizer::new(Some(SECRET));
    let token = auth
        .issue(&Claims {
            doc: "sp/*".into(),
            access: Access::Write,
            exp: sync_server::auth::unix_now() + 600,
        })
        .unwrap();
    let doc = id("sp/doc");
    let with = |header: &'static str, value: String| {
        let mut request = format!("ws://{addr}/sync").into_client_request().unwrap();
        request.headers_mut().insert(header, value.parse().unwrap());
        request
    };
    // Subprotocol: the relay selects crdt-sync and takes the token.
    let request = with(
        "Sec-WebSocket-Protocol",
        format!("crdt-sync, token.{token}"),
    );
    let (mut s, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers().get("Sec-WebSocket-Protocol").unwrap(),
        "crdt-sync"
    );
    s.send(hello(&doc)).await.unwrap();
    s.send(Ws::Close(None)).await.unwrap();
    let seen = read_until_closed(&mut s, DEADLINE).await;
    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    // Bearer still works.
    let request = with("Authorization", format!("Bearer {token}"));
    let (mut s, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    s.send(hello(&doc)).await.unwrap();
    s.send(Ws::Close(None)).await.unwrap();
    assert!(read_until_closed(&mut s, DEADLINE).await.errors.is_empty());
    // A forged token in the subprotocol is refused like any other.
    let forged = Authorizer::new(Some("other")).issue(&Claims {
        doc: "*".into(),
        access: Access::Write,
        exp: sync_server::auth::unix_now() + 600,
    });
    let request = with(
        "Sec-WebSocket-Protocol",
        format!("crdt-sync, token.{}", forged.unwrap()),
    );
    let (mut s, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let seen = read_until_closed(&mut s, DEADLINE).await;
    assert_eq!(
        seen.errors.first().map(|e| e.0),
        Some(ErrorCode::Unauthorized)
    );
    assert_eq!(seen.close.map(|c| c.0), Some(1008));
    // And the native client (which sends a Bearer header).
    let native = SyncClient::connect(
        &url(addr),
        ClientOptions {
            token: Some(token),
            ..ClientOptions::default()
        },
    );
    native.join(doc.clone(), Doc::new());
    assert!(native.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_refuses_writes_never_acks_them_and_keeps_serving_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("full.db");
    let config = config_with(|c| {
        c.storage = StorageConfig::Sqlite {
            path: db.clone(),
            synchronous: Synchronous::Normal,
        };
        c.maintenance.sqlite_max_bytes = Some(262144);
        c.maintenance.storage_retry_secs = 0.2;
    });
    let relay = sync_server::Relay::start(config).await.unwrap();
    let addr = relay.local_addr();
    let doc = id("full/doc");
    let writer = client(addr, &doc);
    let reader = client(addr, &doc);
    let own = writer.read(&doc, |d| d.replica()).unwrap();
    let mut acked = 0;
    let mut edits = 0;
    // Write 8 KiB edits until the relay says it cannot store them.
    while !writer.errors().iter().any(|e| e.message.contains("full")) {
        edits += 1;
        assert!(edits < 200, "the database never filled");
        writer.edit(&doc, |d| {
            d.text("body")
                .insert(0, &format!("<{edits}>{}", "y".repeat(8 << 10)))
        });
        writer
            .wait_until(Duration::from_secs(2), |c| {
                c.is_synced(&doc) || !c.errors().is_empty()
            })
            .await;
        if let Some(v) = writer.relay_version(&doc) {
            acked = acked.max(v.get(own));
        }
    }
    let error = writer
        .errors()
        .into_iter()
        .find(|e| e.message.contains("full"))
        .unwrap();
    eprintln!(
        "after {edits} edits of 8 KiB: {:?} {}",
        error.code, error.message
    );
    assert!(
        error.message.contains("database or disk is full"),
        "{}",
        error.message
    );
    assert!(matches!(
        error.code,
        ErrorCode::Internal | ErrorCode::ReadOnly
    ));
    // More writes: refused, never acknowledged.
    let before = acked;
    for i in 0..5 {
        writer.edit(&doc, |d| d.text("body").insert(0, &format!("[late {i}]")));
    }
    let metrics = relay.metrics();
    assert!(
        eventually(DEADLINE, || metrics
            .rejections(Rejection::StorageUnavailable)
            >= 1)
        .await,
        "changes are refused while the store cannot write"
    );
    // Reads go on: a new reader joins and gets what was stored; presence still flows.
    let late_reader = client(addr, &doc);
    assert!(
        late_reader
            .wait_until(DEADLINE, |c| c.is_synced(&doc))
            .await
    );
    let stored_text = body(&late_reader, &doc);
    assert!(stored_text.contains("<1>"));
    assert!(
        !stored_text.contains("[late"),
        "a refused change reached a reader"
    );
    reader.set_presence(&doc, Some(b"here".to_vec()));
    assert!(
        late_reader
            .wait_until(DEADLINE, |c| !c.presence(&doc).is_empty())
            .await
    );
    if let Some(v) = writer.relay_version(&doc) {
        acked = acked.max(v.get(own));
    }
    let writer_version = writer.read(&doc, |d| d.version().get(own)).unwrap();
    assert!(
        acked < writer_version,
        "the refused writes were never acknowledged"
    );
    assert!(acked >= before);
    relay.shutdown().await;
    // The database holds exactly every acknowledged change (and nothing refused).
    let store =
        sync_server::storage::SqliteStore::open(&db, sync_server::config::Synchronous::Normal)
            .unwrap();
    let stored = sync_server::storage::Store::load(&store, &doc).unwrap();
    let mut check = Doc::new();
    for (_, batch) in &stored.batches {
        check.apply_changes(batch).unwrap();
    }
    assert!(check.version().get(own) >= acked);
    assert!(!body_of(&check).contains("[late"));
    eprintln!(
        "acked {acked} events, stored {}, writer holds {writer_version}",
        check.version().get(own)
    );
}
