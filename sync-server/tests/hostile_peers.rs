//! Hostile peers, each on its own connection, while a healthy peer keeps syncing: each gets a
//! clear `Error` or close, the healthy peer never notices, and what is stored stays intact.

mod common;

use std::time::Duration;

use common::*;
use crdt_core::sync::{encode, DocId, ErrorCode, Message, PeerId};
use crdt_core::{Doc, VersionVector};
use futures_util::{SinkExt, StreamExt};
use sync_server::auth::{Access, Authorizer, Claims};
use sync_server::config::{StorageConfig, Synchronous};
use sync_server::{ClientOptions, SyncClient};
use tokio_tungstenite::tungstenite::Message as Ws;

const SECRET: &str = "hostile-peers-test-secret-of-32-bytes";

fn token(pattern: &str, access: Access) -> String {
    signed_token(
        SECRET,
        pattern,
        access,
        sync_server::auth::unix_now() + 3600,
    )
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn raw(addr: std::net::SocketAddr, token: Option<&str>) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url(addr).into_client_request().unwrap();
    if let Some(t) = token {
        let bearer = format!("Bearer {t}").parse().unwrap();
        request.headers_mut().insert("Authorization", bearer);
    }
    tokio_tungstenite::connect_async(request)
        .await
        .expect("connects")
        .0
}

/// What the relay answered: the first protocol error, and the close code if it closed.
#[derive(Debug, Default)]
struct Answer {
    error: Option<ErrorCode>,
    close: Option<u16>,
}

/// Reads until an Error (and, when `until_close`, the close frame) or the deadline.
async fn answer(socket: &mut Socket, until_close: bool) -> Answer {
    let mut answer = Answer::default();
    let _ = tokio::time::timeout(DEADLINE, async {
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(Ws::Binary(bytes)) => {
                    if let Ok(Message::Error { code, .. }) = crdt_core::sync::decode(&bytes) {
                        answer.error.get_or_insert(code);
                        if !until_close {
                            return;
                        }
                    }
                }
                Ok(Ws::Close(frame)) => {
                    answer.close = frame.map(|f| u16::from(f.code));
                    return;
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    })
    .await;
    answer
}

fn hello(doc: &DocId) -> Vec<u8> {
    encode(&Message::Hello {
        doc: doc.clone(),
        version: VersionVector::new(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_are_refused_and_the_healthy_peer_never_notices() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let db = db.to_str().unwrap().to_owned();
    let config = config_with(|c| {
        c.storage = StorageConfig::Sqlite {
            path: db.into(),
            synchronous: Synchronous::Normal,
        };
        c.auth_secret = Some(SECRET.into());
        c.limits.max_frame_bytes = 65536;
        c.limits.rate_per_sec = 50;
        c.limits.rate_burst = 100;
    });
    let relay = sync_server::Relay::start(config.clone()).await.unwrap();
    let addr = relay.local_addr();
    let doc = id("room/main");
    let write = token("room/*", Access::Write);
    let options = ClientOptions {
        token: Some(write.clone()),
        ..Default::default()
    };
    let healthy = SyncClient::connect(&url(addr), options.clone());
    healthy.join(doc.clone(), Doc::new());
    assert!(healthy.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);

    // The healthy peer keeps typing in the background for the whole test.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let typist = {
        let healthy = std::sync::Arc::new(healthy);
        let h = std::sync::Arc::clone(&healthy);
        let doc = doc.clone();
        let task = tokio::spawn(async move {
            let mut n = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            loop {
                tokio::select! {
                    _ = stop_rx.changed() => return n,
                    _ = tick.tick() => {
                        h.edit(&doc, |d| d.text("body").insert(0, "x").unwrap());
                        n += 1;
                    }
                }
            }
        });
        (healthy, task)
    };

    // 1. A text frame.
    let mut s = raw(addr, Some(&write)).await;
    s.send(Ws::Text("hello".into())).await.unwrap();
    assert_eq!(answer(&mut s, true).await.close, Some(1003), "text frame");

    // 2. Garbage bytes.
    let mut s = raw(addr, Some(&write)).await;
    s.send(Ws::Binary(vec![0xc1, 0xff, 0x00, 0x13].into()))
        .await
        .unwrap();
    let a = answer(&mut s, true).await;
    assert_eq!(
        (a.error, a.close),
        (Some(ErrorCode::BadMessage), Some(1002)),
        "garbage"
    );

    // 3. A truncated message.
    let mut s = raw(addr, Some(&write)).await;
    let frame = hello(&doc);
    s.send(Ws::Binary(frame[..frame.len() - 2].to_vec().into()))
        .await
        .unwrap();
    let a = answer(&mut s, true).await;
    assert_eq!(
        (a.error, a.close),
        (Some(ErrorCode::BadMessage), Some(1002)),
        "truncated"
    );

    // 4. An oversized message (just past the limit: an Error and 1009).
    let mut s = raw(addr, Some(&write)).await;
    let big = encode(&Message::Changes {
        doc: doc.clone(),
        bytes: vec![0; 70_000],
        version: VersionVector::new(),
    });
    s.send(Ws::Binary(big.into())).await.unwrap();
    let a = answer(&mut s, true).await;
    assert_eq!(
        (a.error, a.close),
        (Some(ErrorCode::TooLarge), Some(1009)),
        "oversized"
    );

    // 5. A wrong protocol version.
    let mut s = raw(addr, Some(&write)).await;
    let mut frame = hello(&doc);
    frame[1] = 0x07;
    s.send(Ws::Binary(frame.into())).await.unwrap();
    let a = answer(&mut s, true).await;
    assert_eq!(
        (a.error, a.close),
        (Some(ErrorCode::UnsupportedVersion), Some(1002))
    );

    // 6. Changes for a document not joined: an Error, the connection stays usable.
    let mut s = raw(addr, Some(&write)).await;
    let mut other = Doc::new();
    other.text("body").insert(0, "sneaky").unwrap();
    other.commit();
    let changes = Message::Changes {
        doc: doc.clone(),
        bytes: other.encode_changes_since(&VersionVector::new()),
        version: other.version(),
    };
    s.send(Ws::Binary(encode(&changes).into())).await.unwrap();
    assert_eq!(
        answer(&mut s, false).await.error,
        Some(ErrorCode::NotJoined)
    );

    // 7. Forged deps (a change whose causal past nobody sent) and undecodable change bytes.
    s.send(Ws::Binary(hello(&doc).into())).await.unwrap();
    let base = other.version();
    other.text("body").insert(0, "more ").unwrap();
    other.commit();
    let orphan = Message::Changes {
        doc: doc.clone(),
        bytes: other.encode_changes_since(&base),
        version: VersionVector::new(),
    };
    s.send(Ws::Binary(encode(&orphan).into())).await.unwrap();
    assert_eq!(
        answer(&mut s, false).await.error,
        Some(ErrorCode::BadChanges),
        "forged deps"
    );
    let junk = Message::Changes {
        doc: doc.clone(),
        bytes: vec![1, 2, 3],
        version: VersionVector::new(),
    };
    s.send(Ws::Binary(encode(&junk).into())).await.unwrap();
    assert_eq!(
        answer(&mut s, false).await.error,
        Some(ErrorCode::BadChanges),
        "junk changes"
    );

    // 8. A read-only token writing.
    let mut s = raw(addr, Some(&token("room/*", Access::Read))).await;
    s.send(Ws::Binary(hello(&doc).into())).await.unwrap();
    let mut reader = Doc::new();
    reader.text("body").insert(0, "vandal").unwrap();
    reader.commit();
    let write_attempt = Message::Changes {
        doc: doc.clone(),
        bytes: reader.encode_changes_since(&VersionVector::new()),
        version: reader.version(),
    };
    s.send(Ws::Binary(encode(&write_attempt).into()))
        .await
        .unwrap();
    assert_eq!(
        answer(&mut s, false).await.error,
        Some(ErrorCode::ReadOnly),
        "read-only"
    );
    // A token for other documents cannot join this one.
    let mut s = raw(addr, Some(&token("elsewhere/*", Access::Write))).await;
    s.send(Ws::Binary(hello(&doc).into())).await.unwrap();
    assert_eq!(
        answer(&mut s, false).await.error,
        Some(ErrorCode::Unauthorized)
    );

    // 9. A bad token, an expired token, no token.
    let expired = Authorizer::new(Some(SECRET))
        .issue(&Claims {
            doc: "*".into(),
            access: Access::Write,
            exp: 1000,
        })
        .unwrap();
    let forged = Authorizer::new(Some("not-the-secret"))
        .issue(&Claims {
            doc: "*".into(),
            access: Access::Write,
            exp: u64::MAX / 4,
        })
        .unwrap();
    for bad in [Some(expired.as_str()), Some(forged.as_str()), None] {
        let mut s = raw(addr, bad).await;
        let a = answer(&mut s, true).await;
        assert_eq!(
            (a.error, a.close),
            (Some(ErrorCode::Unauthorized), Some(1008)),
            "{bad:?}"
        );
    }

    // 10. A flood past the rate limit.
    let mut s = raw(addr, Some(&write)).await;
    s.send(Ws::Binary(hello(&doc).into())).await.unwrap();
    let presence = encode(&Message::Presence {
        doc: doc.clone(),
        peer: PeerId(1),
        clock: 1,
        state: None,
    });
    for _ in 0..300 {
        if s.send(Ws::Binary(presence.clone().into())).await.is_err() {
            break;
        }
    }
    let a = answer(&mut s, true).await;
    assert_eq!(
        (a.error, a.close),
        (Some(ErrorCode::RateLimited), Some(1008)),
        "flood"
    );

    // The healthy peer kept syncing and never saw an error.
    let (healthy, task) = typist;
    stop_tx.send(true).unwrap();
    let typed = task.await.unwrap();
    assert!(typed > 0);
    assert!(healthy.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    assert!(healthy.errors().is_empty(), "{:?}", healthy.errors());
    assert_eq!(healthy.connects(), 1, "never disconnected");
    let expected = healthy.edit(&doc, |d| d.text("body").to_string()).unwrap();
    assert_eq!(expected, "x".repeat(typed));
    let metrics = relay.metrics().render();
    for reason in [
        "not_binary",
        "bad_message",
        "too_large",
        "unsupported_version",
        "not_joined",
        "bad_changes",
        "read_only",
        "unauthorized",
        "rate_limited",
    ] {
        let line = format!("sync_rejections_total{{reason=\"{reason}\"}} 0\n");
        assert!(!metrics.contains(&line), "{reason} counted");
    }
    relay.shutdown().await;

    // Nothing stored is corrupted: a relay restarted on the database serves exactly that text.
    let relay = sync_server::Relay::start(config.clone()).await.unwrap();
    let fresh = SyncClient::connect(&url(relay.local_addr()), options);
    fresh.join(doc.clone(), Doc::new());
    assert!(fresh.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    assert_eq!(
        fresh.edit(&doc, |d| d.text("body").to_string()).unwrap(),
        expected
    );
    relay.shutdown().await;
}
