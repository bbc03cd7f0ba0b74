//! Issue #16's signaling through the real relay binary: a `Signal` reaches only the peer it
//! names in the same room, stamped with the sender's real peer id; a signal for a peer of
//! another room, an oversized SDP, a signal for a document the token does not cover (or only
//! lets read), one before joining, and a flood are refused (the refusals are logged on the
//! relay's stderr), and the relay keeps serving a healthy peer throughout.

mod common;
mod signaling_support;
mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use crdt_core::sync::{encode, DocId, ErrorCode, Message, PeerId};
use crdt_core::{Doc, VersionVector};
use futures_util::SinkExt;
use signaling_support::*;
use sync_server::auth::Access;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;

type Socket = support::Socket;

const SECRET: &str = "signaling-test-secret-0123456789abcdef";

/// A relay process logging at info level into a file, killed when the test ends.
struct LoggingRelay {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl LoggingRelay {
    /// The relay binary in memory on a free loopback port with `--auth-secret` and `extra`.
    fn start(extra: &[&str]) -> LoggingRelay {
        let dir = tempfile::tempdir().expect("a temp dir");
        let log = dir.path().join("relay.log");
        let stderr = std::fs::File::create(&log).expect("a log file");
        let args = [
            &["--memory", "--bind", "127.0.0.1:0", "--auth-secret", SECRET][..],
            extra,
        ]
        .concat();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sync-server"))
            .args(&args)
            .env("RUST_LOG", "sync_server=info")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("relay binary starts");
        let addr = listening_address(&mut child);
        LoggingRelay {
            child,
            addr,
            log,
            _dir: dir,
        }
    }

    /// Waits until the relay's log holds a line containing every one of `words`.
    async fn logged(&self, words: &[&str]) -> bool {
        support::eventually(DEADLINE, || {
            std::fs::read_to_string(&self.log)
                .unwrap_or_default()
                .lines()
                .any(|line| words.iter().all(|w| line.contains(w)))
        })
        .await
    }
}

impl Drop for LoggingRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(pattern: &str, access: Access) -> String {
    signed_token(SECRET, pattern, access, u64::MAX / 2)
}

/// A raw WebSocket client with `token` as a bearer token.
async fn connect(addr: SocketAddr, token: &str) -> Socket {
    let mut request = url(addr).into_client_request().expect("a request");
    let value = format!("Bearer {token}").parse().expect("a header value");
    request.headers_mut().insert("authorization", value);
    tokio_tungstenite::connect_async(request)
        .await
        .expect("connects")
        .0
}

/// Two peers of one room who know each other's peer ids, and a third in another room.
struct Rooms {
    a: Socket,
    b: Socket,
    c: Socket,
    a_id: PeerId,
    b_id: PeerId,
    c_id: PeerId,
    room: DocId,
    other: DocId,
}

async fn rooms(relay: &LoggingRelay) -> Rooms {
    let (room, other) = (id("p2p/room"), id("p2p/other"));
    let all = token("p2p/*", Access::Write);
    let mut a = connect(relay.addr, &all).await;
    let mut b = connect(relay.addr, &all).await;
    let mut c = connect(relay.addr, &all).await;
    join(&mut a, &room).await;
    join(&mut b, &room).await;
    join(&mut c, &other).await;
    // C learns its own id from a fourth peer of its room, which then leaves.
    let mut d = connect(relay.addr, &all).await;
    join(&mut d, &other).await;
    let c_id = peer_announced(&mut d, &[]).await;
    drop(d);
    let b_id = peer_announced(&mut a, &[]).await;
    let a_id = peer_announced(&mut b, &[]).await;
    Rooms {
        a,
        b,
        c,
        a_id,
        b_id,
        c_id,
        room,
        other,
    }
}

#[tokio::test]
async fn a_signal_reaches_only_its_addressee_stamped_with_the_real_sender() {
    let relay = LoggingRelay::start(&[]);
    let mut r = rooms(&relay).await;

    send(&mut r.a, &signal(&r.room, r.b_id, b"offer sdp")).await;
    let got = next_where(&mut r.b, DEADLINE, is_signal).await;
    assert_eq!(
        got,
        Some(Message::Signal {
            doc: r.room.clone(),
            from: r.a_id,
            to: r.b_id,
            payload: b"offer sdp".to_vec(),
        }),
        "B gets A's signal under A's real peer id, not the forged one"
    );
    // And back: B answers A.
    send(&mut r.b, &signal(&r.room, r.a_id, b"answer sdp")).await;
    let got = next_where(&mut r.a, DEADLINE, is_signal).await;
    assert!(
        matches!(&got, Some(Message::Signal { from, payload, .. }) if *from == r.b_id && payload == b"answer sdp"),
        "{got:?}"
    );
    // C, in another room, saw neither.
    let leaked = next_where(&mut r.c, Duration::from_millis(300), is_signal).await;
    assert_eq!(leaked, None, "a signal leaked to another room");
}

#[tokio::test]
async fn a_signal_for_a_peer_of_another_room_is_refused_and_logged() {
    let relay = LoggingRelay::start(&[]);
    let mut r = rooms(&relay).await;
    // A names C (joined to another document) in a signal about its own room...
    send(&mut r.a, &signal(&r.room, r.c_id, b"offer")).await;
    let refused = next_where(&mut r.a, DEADLINE, is_error(ErrorCode::UnknownPeer)).await;
    assert!(refused.is_some(), "A is told C is not in its room");
    // ...and about C's document, which A has not joined.
    send(&mut r.a, &signal(&r.other, r.c_id, b"offer")).await;
    let refused = next_where(&mut r.a, DEADLINE, is_error(ErrorCode::NotJoined)).await;
    assert!(
        refused.is_some(),
        "A may not signal in a room it did not join"
    );
    // A signal to oneself is refused too.
    send(&mut r.a, &signal(&r.room, r.a_id, b"offer")).await;
    let refused = next_where(&mut r.a, DEADLINE, is_error(ErrorCode::UnknownPeer)).await;
    assert!(refused.is_some(), "a signal to oneself is refused");
    let leaked = next_where(&mut r.c, Duration::from_millis(300), is_signal).await;
    assert_eq!(leaked, None, "C got a signal from another room");
    assert!(
        relay
            .logged(&["signal refused: no such peer in the room"])
            .await
    );
    assert!(relay.logged(&["signal refused", "before signaling"]).await);
    let (_, metrics) = support::http_get(relay.addr, "/metrics").await;
    assert!(
        metrics.contains("sync_rejections_total{reason=\"unknown_peer\"} 2"),
        "{metrics}"
    );
    // The connection stays usable: A still reaches B.
    send(&mut r.a, &signal(&r.room, r.b_id, b"still here")).await;
    assert!(next_where(&mut r.b, DEADLINE, is_signal).await.is_some());
}

#[tokio::test]
async fn an_oversized_sdp_is_refused_and_logged_and_the_connection_stays() {
    let relay = LoggingRelay::start(&["--max-signal-bytes", "4096"]);
    let mut r = rooms(&relay).await;
    let sdp = vec![b'v'; 64 << 10];
    send(&mut r.a, &signal(&r.room, r.b_id, &sdp)).await;
    let refused = next_where(&mut r.a, DEADLINE, is_error(ErrorCode::TooLarge)).await;
    assert!(
        matches!(&refused, Some(Message::Error { message, .. }) if message.contains("at most 4096 bytes")),
        "{refused:?}"
    );
    assert!(relay.logged(&["signal refused", "65536"]).await);
    // Nothing of it reached B; a signal at the cap does.
    send(&mut r.a, &signal(&r.room, r.b_id, &sdp[..4096])).await;
    let got = next_where(&mut r.b, DEADLINE, is_signal).await;
    assert!(
        matches!(&got, Some(Message::Signal { payload, .. }) if payload.len() == 4096),
        "the first signal B gets is the one at the cap: {got:?}"
    );
}

#[tokio::test]
async fn signaling_needs_a_token_that_lets_the_peer_write_the_document() {
    let relay = LoggingRelay::start(&[]);
    let mut r = rooms(&relay).await;
    // A reader of the room (it may join and read, but a direct peer would write unchecked).
    let mut reader = connect(relay.addr, &token("p2p/room", Access::Read)).await;
    join(&mut reader, &r.room).await;
    send(&mut reader, &signal(&r.room, r.a_id, b"offer")).await;
    let refused = next_where(&mut reader, DEADLINE, is_error(ErrorCode::Unauthorized)).await;
    assert!(refused.is_some(), "a read-only peer may not signal");
    // A peer whose token covers another document only.
    let mut outsider = connect(relay.addr, &token("elsewhere", Access::Write)).await;
    send(&mut outsider, &signal(&r.room, r.a_id, b"offer")).await;
    let refused = next_where(&mut outsider, DEADLINE, is_error(ErrorCode::Unauthorized)).await;
    assert!(
        refused.is_some(),
        "a token for another document may not signal"
    );
    assert!(
        relay
            .logged(&["signal refused", "needs write access"])
            .await
    );
    let leaked = next_where(&mut r.a, Duration::from_millis(300), is_signal).await;
    assert_eq!(leaked, None, "A got a signal it should not have");
    // B still signals A.
    send(&mut r.b, &signal(&r.room, r.a_id, b"ok")).await;
    assert!(next_where(&mut r.a, DEADLINE, is_signal).await.is_some());
}

#[tokio::test]
async fn a_signal_flood_closes_the_flooder_and_the_relay_keeps_serving() {
    let relay = LoggingRelay::start(&["--rate-per-sec", "50", "--rate-burst", "100"]);
    let mut r = rooms(&relay).await;
    // A sends signals to B far past the message rate.
    for _ in 0..400 {
        if r.a
            .send(Ws::Binary(
                encode(&signal(&r.room, r.b_id, b"candidate")).into(),
            ))
            .await
            .is_err()
        {
            break;
        }
    }
    let seen = support::read_until_closed(&mut r.a, DEADLINE).await;
    assert!(
        seen.errors
            .iter()
            .any(|(c, _)| *c == ErrorCode::RateLimited),
        "{seen:?}"
    );
    assert_eq!(
        seen.close.as_ref().map(|(code, _)| *code),
        Some(1008),
        "{seen:?}"
    );
    assert!(relay.logged(&["rate limit exceeded"]).await);
    // B got at most the burst of them, and the relay still serves it: a fresh writer's change
    // reaches B.
    let mut received = 0;
    while next_where(&mut r.b, Duration::from_millis(200), is_signal)
        .await
        .is_some()
    {
        received += 1;
    }
    assert!(received <= 100, "B got {received} signals, past the burst");
    let mut writer = Doc::new();
    let mut text = writer.text("note");
    text.insert(0, "after the flood").unwrap();
    writer.commit();
    let mut e = connect(relay.addr, &token("p2p/*", Access::Write)).await;
    join(&mut e, &r.room).await;
    let changes = Message::Changes {
        doc: r.room.clone(),
        bytes: writer.encode_changes_since(&VersionVector::new()),
        version: writer.version(),
    };
    send(&mut e, &changes).await;
    let got = next_where(&mut r.b, DEADLINE, |m| matches!(m, Message::Changes { .. })).await;
    assert!(got.is_some(), "B still gets changes after the flood");
}
