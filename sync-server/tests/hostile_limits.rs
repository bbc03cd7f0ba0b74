//! Issue #17's limits, end to end against the real relay binary: a presence flood with a hundred
//! peers that never read, the byte budget of a peer's queue, connections per IP address, the
//! document size cap, the byte rate (and pings counted in the message rate), and a token that
//! expires while connected. Each attack runs while an honest peer keeps syncing where it matters.
//!
//! Peers that must not share the flooder's address connect from other loopback addresses
//! (127.0.0.2, ...), which Linux routes to the same interface.

mod common;
mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Child;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use crdt_core::sync::{decode, encode, DocId, ErrorCode, Message, PeerId};
use crdt_core::{Doc, VersionVector};
use futures_util::{SinkExt, StreamExt};
use support::{http_get, rss_bytes, spawn_relay};
use sync_server::auth::Access;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::WebSocketStream;

/// A WebSocket client over a plain TCP stream.
type Socket = WebSocketStream<TcpStream>;

/// A relay process, killed when the test ends however it ends.
struct RelayProcess {
    child: Child,
    addr: SocketAddr,
}

impl RelayProcess {
    /// The relay binary in memory on a free loopback port, with `extra` flags.
    fn start(extra: &[&str]) -> RelayProcess {
        let args = [&["--memory", "--bind", "127.0.0.1:0"][..], extra].concat();
        let (child, addr) = spawn_relay(&args);
        RelayProcess { child, addr }
    }

    fn rss(&self) -> u64 {
        rss_bytes(self.child.id())
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `127.0.0.n`.
fn loopback(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

/// Opens a WebSocket to the relay from address `from`, with `token` as a bearer token and, when
/// given, a small receive buffer (so a peer that does not read fills its relay-side queue soon).
async fn connect_from(
    relay: SocketAddr,
    from: Ipv4Addr,
    token: Option<&str>,
    receive_buffer: Option<u32>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let socket = TcpSocket::new_v4()?;
    if let Some(bytes) = receive_buffer {
        socket.set_recv_buffer_size(bytes)?;
    }
    socket.bind(SocketAddr::from((from, 0)))?;
    let stream = socket.connect(relay).await?;
    let mut request = url(relay).into_client_request()?;
    if let Some(token) = token {
        let value = format!("Bearer {token}")
            .parse()
            .expect("a valid header value");
        request.headers_mut().insert("authorization", value);
    }
    Ok(tokio_tungstenite::client_async(request, stream).await?.0)
}

/// A Hello for `doc` from an empty document.
fn hello(doc: &DocId) -> Ws {
    binary(&Message::Hello {
        doc: doc.clone(),
        version: VersionVector::new(),
    })
}

fn binary(message: &Message) -> Ws {
    Ws::Binary(encode(message).into())
}

/// A presence message carrying `bytes` bytes of state.
fn presence(doc: &DocId, clock: u64, bytes: usize) -> Ws {
    binary(&Message::Presence {
        doc: doc.clone(),
        peer: PeerId(0),
        clock,
        state: Some(vec![b'p'; bytes]),
    })
}

/// The value of a sample of the relay's `/metrics` (`name` with its labels), 0 when absent.
async fn metric(relay: SocketAddr, name: &str) -> u64 {
    let (_, body) = http_get(relay, "/metrics").await;
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// What a client saw from the relay until it closed.
#[derive(Debug, Default)]
struct Seen {
    /// Protocol errors, in order.
    errors: Vec<(ErrorCode, String)>,
    /// When each `Changes` arrived.
    changes_at: Vec<SystemTime>,
    /// The close frame: code, reason, and when it arrived.
    close: Option<(u16, String, SystemTime)>,
    /// Whether the stream ended (closed or failed) before the deadline.
    ended: bool,
}

/// Reads `socket` until it ends or `timeout` passes.
async fn watch<S>(socket: &mut S, timeout: Duration) -> Seen
where
    S: futures_util::Stream<Item = Result<Ws, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut seen = Seen::default();
    let _ = tokio::time::timeout(timeout, async {
        while let Some(Ok(frame)) = socket.next().await {
            match frame {
                Ws::Binary(bytes) => match decode(&bytes) {
                    Ok(Message::Error { code, message, .. }) => seen.errors.push((code, message)),
                    Ok(Message::Changes { .. }) => seen.changes_at.push(SystemTime::now()),
                    _ => {}
                },
                Ws::Close(frame) => {
                    let frame = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                    let (code, reason) = frame.unwrap_or_default();
                    seen.close = Some((code, reason, SystemTime::now()));
                }
                _ => {}
            }
        }
        seen.ended = true;
    })
    .await;
    seen
}

/// Waits until `condition` resolves true, checking every 20 ms, for at most `timeout`.
async fn until<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Whether `version` acknowledges everything `local` holds of its own replica.
fn acknowledges(version: &VersionVector, local: &Doc) -> bool {
    let replica = local.replica();
    version.get(replica) == local.version().get(replica)
}

/// Reads the next protocol message (skipping control frames); `None` at the end or past `timeout`.
async fn next_message(socket: &mut Socket, timeout: Duration) -> Option<Message> {
    tokio::time::timeout(timeout, async {
        while let Some(Ok(frame)) = socket.next().await {
            if let Ws::Binary(bytes) = frame {
                return decode(&bytes).ok();
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// Text a compressor cannot shrink much: `len` letters from a linear congruential generator.
fn noise(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            char::from(b'a' + (x >> 59) as u8 % 26)
        })
        .collect()
}

/// How much the relay may grow under a flood.
const RSS_GROWTH_CAP: u64 = 200 << 20;

/// What one flood did.
struct Flood {
    /// Frames the flooder got to send.
    sent: u64,
    took: Duration,
    /// The relay's largest RSS during the flood.
    peak: u64,
    /// What the flooder received.
    seen: Seen,
}

/// Floods `room` from address `from` with `frames` presence frames of `bytes` bytes, while the
/// healthy client `typist` edits `other`; stops early once the relay grew past
/// [`RSS_GROWTH_CAP`] above `before`, or the flooder was closed.
async fn flood(
    relay: &RelayProcess,
    (room, from, frames, bytes): (&DocId, u8, u64, usize),
    (typist, other): (&sync_server::SyncClient, &DocId),
    before: u64,
) -> Flood {
    let flooder = connect_from(relay.addr, loopback(from), None, None)
        .await
        .unwrap();
    let (mut flood_tx, mut flood_rx) = flooder.split();
    flood_tx.send(hello(room)).await.unwrap();
    let answers = tokio::spawn(async move { watch(&mut flood_rx, DEADLINE).await });
    let started = Instant::now();
    let (mut peak, mut sent) = (before, 0);
    for clock in 1..=frames {
        if flood_tx.send(presence(room, clock, bytes)).await.is_err() {
            break;
        }
        sent += 1;
        peak = peak.max(relay.rss());
        if peak > before + RSS_GROWTH_CAP || started.elapsed() > Duration::from_secs(8) {
            break;
        }
        if clock % 50 == 0 {
            typist.edit(other, |d| d.text("body").insert(0, "x"));
        }
    }
    let took = started.elapsed();
    let _ = flood_tx.close().await;
    let seen = answers.await.unwrap();
    Flood {
        sent,
        took,
        peak: peak.max(relay.rss()),
        seen,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_flood_with_a_hundred_silent_peers_keeps_the_relay_bounded() {
    let relay = RelayProcess::start(&[]);
    let room = id("flood/room");
    // A hundred peers join the flooded room, from addresses of their own, and never read.
    let mut silent = Vec::new();
    for i in 0..100u8 {
        let mut peer = connect_from(relay.addr, loopback(10 + i), None, Some(4096))
            .await
            .expect("a silent peer connects");
        peer.send(hello(&room)).await.unwrap();
        silent.push(peer);
    }
    // A healthy pair on another document.
    let other = id("flood/other");
    let (a, b) = (client(relay.addr, &other), client(relay.addr, &other));
    a.edit(&other, |d| d.text("body").insert(0, "before "));
    assert!(converge(&[&a, &b], &other).await, "the healthy pair syncs");
    let joined = until(DEADLINE, || async {
        metric(relay.addr, "sync_room_peers").await >= 102
    });
    assert!(joined.await, "every silent peer joined");
    let before = relay.rss();

    // The attack of the issue: 900 presence frames of 1 MiB from an anonymous peer.
    let big = flood(&relay, (&room, 2, 900, 1 << 20), (&a, &other), before).await;
    // Then presence at the size cap, 900 frames of 4,000 bytes, each fanned out to 100 peers.
    let capped = flood(&relay, (&room, 3, 900, 4000), (&a, &other), before).await;
    a.edit(&other, |d| d.text("body").insert(0, "after "));
    let healthy = converge(&[&a, &b], &other).await;
    for (what, f) in [("1 MiB", &big), ("4,000 B", &capped)] {
        eprintln!(
            "presence flood of {what} frames: {} sent in {:?}; relay RSS {} MiB before, {} MiB \
             peak; flooder saw errors {:?} and close {:?}",
            f.sent,
            f.took,
            before >> 20,
            f.peak >> 20,
            f.seen.errors.iter().map(|e| e.0).collect::<Vec<_>>(),
            f.seen.close.as_ref().map(|c| (c.0, &c.1)),
        );
        assert!(
            f.peak < before + RSS_GROWTH_CAP,
            "{what} frames: relay RSS grew from {} MiB to {} MiB",
            before >> 20,
            f.peak >> 20
        );
    }
    assert!(
        big.seen.errors.iter().any(|e| e.0 == ErrorCode::TooLarge),
        "the oversized presence is refused: {:?}",
        big.seen.errors
    );
    assert_eq!(
        big.seen.close.as_ref().map(|c| (c.0, c.1.as_str())),
        Some((1008, "rate limit exceeded: bytes per second")),
        "the flooder is closed by the byte rate"
    );
    assert_eq!(capped.sent, 900, "presence at the cap is accepted");
    assert!(healthy, "the healthy pair kept syncing");
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_whose_queue_passes_its_byte_budget_is_closed() {
    // A 256 KiB budget: four presence frames of 64 KiB; the frame bound (1,024) is far away.
    let relay = RelayProcess::start(&[
        "--outbound-queue-bytes",
        "262144",
        "--max-presence-bytes",
        "65536",
    ]);
    let room = id("budget/room");
    let mut silent = connect_from(relay.addr, loopback(3), None, Some(4096))
        .await
        .unwrap();
    silent.send(hello(&room)).await.unwrap();
    let mut reader = connect_from(relay.addr, loopback(4), None, None)
        .await
        .unwrap();
    reader.send(hello(&room)).await.unwrap();
    let mut flooder = connect_from(relay.addr, loopback(5), None, None)
        .await
        .unwrap();
    flooder.send(hello(&room)).await.unwrap();
    let joined = until(DEADLINE, || async {
        metric(relay.addr, "sync_room_peers").await >= 3
    });
    assert!(joined.await, "all three joined");
    // 200 presence frames of 64,000 bytes (12.8 MB, past what the kernel buffers of the silent
    // peer's socket hold): within the message rate and the byte rate. The flooder keeps at most
    // two frames ahead of the reading peer, so only the silent peer's queue grows.
    let (progress_tx, mut progress) = tokio::sync::watch::channel(0u64);
    let reading = tokio::spawn(async move {
        let mut presences = 0;
        while presences < 200 {
            match next_message(&mut reader, DEADLINE).await {
                Some(Message::Presence { .. }) => {
                    presences += 1;
                    let _ = progress_tx.send(presences);
                }
                Some(_) => {}
                None => break,
            }
        }
        presences
    });
    for clock in 1..=200 {
        let behind = progress.wait_for(|&received| received + 2 >= clock);
        if tokio::time::timeout(DEADLINE, behind).await.is_err() {
            break;
        }
        flooder.send(presence(&room, clock, 64_000)).await.unwrap();
    }
    assert_eq!(
        reading.await.unwrap(),
        200,
        "the reading peer got every frame"
    );
    let dropped = until(DEADLINE, || async {
        metric(
            relay.addr,
            "sync_rejections_total{reason=\"slow_consumer\"}",
        )
        .await
            == 1
    });
    assert!(
        dropped.await,
        "the silent peer was dropped as a slow consumer"
    );
    // Its connection ends: what was buffered, then the end of the stream.
    let seen = watch(&mut silent, DEADLINE).await;
    assert!(seen.ended, "the silent peer's connection was closed");
    if let Some((code, reason, _)) = &seen.close {
        assert_eq!(
            (*code, reason.as_str()),
            (1008, "slow consumer: outbound queue over its byte budget")
        );
    }
    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_ip_address_are_limited_with_http_429() {
    let relay = RelayProcess::start(&["--max-connections-per-ip", "3"]);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            connect_from(relay.addr, loopback(6), None, None)
                .await
                .unwrap(),
        );
    }
    match connect_from(relay.addr, loopback(6), None, None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429)
        }
        Err(e) => panic!("refused, but not with HTTP 429: {e}"),
        Ok(_) => panic!("a fourth connection from one address was accepted"),
    }
    assert!(
        connect_from(relay.addr, loopback(7), None, None)
            .await
            .is_ok(),
        "another address is not affected"
    );
    let refused = metric(
        relay.addr,
        "sync_rejections_total{reason=\"too_many_connections_per_ip\"}",
    );
    assert_eq!(refused.await, 1);
    // A closed connection gives its place back.
    let mut first = held.remove(0);
    first.close(None).await.unwrap();
    let deadline = Instant::now() + DEADLINE;
    let again = loop {
        match connect_from(relay.addr, loopback(6), None, None).await {
            Ok(socket) => break socket,
            Err(e) if Instant::now() > deadline => {
                panic!("the address never got its place back: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    drop((held, again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_past_the_document_size_cap_are_refused_and_not_stored() {
    let relay = RelayProcess::start(&["--max-doc-bytes", "20000"]);
    let doc = id("cap/doc");
    let mut writer = connect_from(relay.addr, loopback(8), None, None)
        .await
        .unwrap();
    writer.send(hello(&doc)).await.unwrap();
    let mut local = Doc::new();
    let mut acked = String::new();
    let mut refusal = None;
    for i in 0..40 {
        let before = local.version();
        let chunk = noise(i, 2000);
        local.text("body").insert(0, &chunk).unwrap();
        local.commit();
        let changes = Message::Changes {
            doc: doc.clone(),
            bytes: local.encode_changes_since(&before),
            version: local.version(),
        };
        writer.send(binary(&changes)).await.unwrap();
        // Read until this change is acknowledged or refused.
        loop {
            match next_message(&mut writer, DEADLINE).await {
                Some(Message::Ack { version, .. }) if acknowledges(&version, &local) => break,
                Some(Message::Error { code, message, .. }) => {
                    refusal = Some((code, message));
                    break;
                }
                Some(_) => {}
                None => panic!("no answer to change {i}"),
            }
        }
        if refusal.is_some() {
            break;
        }
        acked = format!("{chunk}{acked}");
    }
    let (code, message) = refusal.expect("the document reached its cap");
    assert_eq!(code, ErrorCode::TooLarge, "{message}");
    assert!(message.contains("size limit"), "{message}");
    assert!(
        acked.len() >= 10_000,
        "the document grew to near its cap first"
    );
    // The refused change was not stored: a newcomer reads exactly what was acknowledged.
    let reader = client(relay.addr, &doc);
    let synced = reader.wait_until(DEADLINE, |c| c.is_synced(&doc)).await;
    assert!(synced);
    assert_eq!(body(&reader, &doc), acked);
    // The connection stays usable: another document takes changes.
    let small = id("cap/small");
    writer.send(hello(&small)).await.unwrap();
    let mut other = Doc::new();
    other.text("body").insert(0, "fits").unwrap();
    other.commit();
    let changes = Message::Changes {
        doc: small.clone(),
        bytes: other.encode_changes_since(&VersionVector::new()),
        version: other.version(),
    };
    writer.send(binary(&changes)).await.unwrap();
    let acked_small = async {
        loop {
            match next_message(&mut writer, DEADLINE).await {
                Some(Message::Ack { doc, version }) if doc == small => {
                    return acknowledges(&version, &other)
                }
                Some(_) => {}
                None => return false,
            }
        }
    };
    assert!(
        acked_small.await,
        "another document takes changes on the same connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_past_its_byte_rate_is_closed_with_1008() {
    let relay = RelayProcess::start(&["--bytes-per-sec", "50000", "--bytes-burst", "100000"]);
    let doc = id("bytes/doc");
    let mut peer = connect_from(relay.addr, loopback(9), None, None)
        .await
        .unwrap();
    peer.send(hello(&doc)).await.unwrap();
    // 100 presence frames of 4,000 bytes: far below the message rate, four times the burst.
    for clock in 1..=100 {
        if peer.send(presence(&doc, clock, 4000)).await.is_err() {
            break;
        }
    }
    let seen = watch(&mut peer, DEADLINE).await;
    assert!(
        seen.errors
            .iter()
            .any(|(code, m)| *code == ErrorCode::RateLimited && m.contains("bytes per second")),
        "{:?}",
        seen.errors
    );
    let close = seen.close.map(|c| (c.0, c.1));
    assert_eq!(
        close,
        Some((1008, "rate limit exceeded: bytes per second".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_count_against_the_message_rate() {
    let relay = RelayProcess::start(&["--rate-per-sec", "50", "--rate-burst", "100"]);
    let mut peer = connect_from(relay.addr, loopback(11), None, None)
        .await
        .unwrap();
    for _ in 0..1000 {
        if peer.send(Ws::Ping(Vec::new().into())).await.is_err() {
            break;
        }
    }
    let seen = watch(&mut peer, DEADLINE).await;
    assert!(
        seen.errors
            .iter()
            .any(|(code, _)| *code == ErrorCode::RateLimited),
        "{:?}",
        seen.errors
    );
    assert_eq!(seen.close.map(|c| c.0), Some(1008));
}

/// A secret long enough for any check of its length.
const SECRET: &str = "hostile-limits-test-secret-of-at-least-32-bytes";

fn token(pattern: &str, access: Access, exp: u64) -> String {
    signed_token(SECRET, pattern, access, exp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_is_closed_with_1008_when_its_token_expires() {
    let relay = RelayProcess::start(&["--auth-secret", SECRET]);
    let doc = id("expiry/doc");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Expires two to three seconds from now (`exp` is in whole seconds): room for a loaded
    // machine to connect both peers and deliver edits before it.
    let exp = now + 3;
    let expiry = UNIX_EPOCH + Duration::from_secs(exp);
    let short = token("expiry/*", Access::Read, exp);
    let long = token("expiry/*", Access::Write, now + 3600);
    let mut reader = connect_from(relay.addr, loopback(12), Some(&short), None)
        .await
        .unwrap();
    reader.send(hello(&doc)).await.unwrap();
    let mut writer = connect_from(relay.addr, loopback(13), Some(&long), None)
        .await
        .unwrap();
    writer.send(hello(&doc)).await.unwrap();
    let watching = tokio::spawn(async move { watch(&mut reader, DEADLINE).await });
    // The writer edits every 50 ms until two seconds past the expiry.
    let mut local = Doc::new();
    while SystemTime::now() < expiry + Duration::from_secs(2) {
        let before = local.version();
        local.text("body").insert(0, "x").unwrap();
        local.commit();
        let changes = Message::Changes {
            doc: doc.clone(),
            bytes: local.encode_changes_since(&before),
            version: local.version(),
        };
        writer.send(binary(&changes)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = watching.await.unwrap();
    let (code, reason, closed_at) = seen.close.expect("the reader was closed");
    assert_eq!((code, reason.as_str()), (1008, "token expired"));
    let late = |t: &SystemTime| t.duration_since(expiry).unwrap_or_default();
    assert!(
        late(&closed_at) < Duration::from_secs(3),
        "closed {:?} after the expiry",
        late(&closed_at)
    );
    let before_expiry = seen.changes_at.iter().filter(|t| **t < expiry).count();
    assert!(
        before_expiry > 0,
        "the reader received edits before the expiry"
    );
    let after = seen
        .changes_at
        .iter()
        .filter(|t| late(t) > Duration::from_millis(500))
        .count();
    assert_eq!(after, 0, "edits reached the reader after its token expired");
    // The writer, whose token is valid, is still connected and acknowledged.
    writer.send(hello(&doc)).await.unwrap();
    assert!(next_message(&mut writer, DEADLINE).await.is_some());
}
