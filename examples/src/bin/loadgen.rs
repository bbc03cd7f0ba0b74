//! `loadgen`: opens N WebSocket connections across R rooms of a relay, has every peer edit at a
//! set rate, and reports throughput, delivery latency (from a peer's send to its receipt by the
//! other peers of the room: p50, p99, max) and the relay's resident memory.
//!
//! Each peer drives the same `SyncSession` as every client. An edit sets the peer's key in the
//! room's `lat` map to its send time (microseconds since the run began, one clock for all peers
//! since they share this process); a receiver that sees a key's value change records
//! `now - value`.
//!
//! ```text
//! cargo build --release -p sync-server -p examples
//! ulimit -n 65536
//! target/release/loadgen --connections 1000 --rooms 100 --edits-per-sec 1000 --seconds 20
//! ```
//! Without `--url` it starts `sync-server` (next to its own executable) in memory on a free port.
//! `--url` may be given several times (relay nodes of one cluster): peer `i` connects to URL
//! `i % n`, so each room's peers are spread over the nodes and deliveries cross them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use crdt_core::sync::{decode, encode, DocId, Message, SyncSession};
use crdt_core::{Doc, Scalar, Value};
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncBufReadExt;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as Ws;

#[derive(Parser, Debug)]
#[command(about = "Load generator for sync-server")]
struct Args {
    /// Connections (one peer each).
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Rooms (documents) the peers are spread across.
    #[arg(long, default_value_t = 100)]
    rooms: usize,
    /// Edits per second over all peers.
    #[arg(long, default_value_t = 1000.0)]
    edits_per_sec: f64,
    /// Seconds of measured load (after everyone joined).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Relay URL; without it a relay is started from the sync-server binary.
    #[arg(long)]
    url: Vec<String>,
    /// Threads of the load generator's own runtime (it shares the machine with the relay it
    /// measures; fewer threads leave the relay more of the CPU).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

#[derive(Default)]
struct Stats {
    latencies_us: Vec<u64>,
    sent: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (urls, relay) = match args.url.is_empty() {
        false => (args.url.clone(), None),
        true => {
            let exe = std::env::current_exe()?.with_file_name("sync-server");
            let mut child = tokio::process::Command::new(exe)
                .args([
                    "--memory",
                    "--bind",
                    "127.0.0.1:0",
                    "--max-connections",
                    "100000",
                    // Every peer connects from this machine's one address.
                    "--max-connections-per-ip",
                    "100000",
                ])
                .args(["--rate-per-sec", "10000", "--rate-burst", "10000"])
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()?;
            let stdout = child.stdout.take().ok_or("no stdout")?;
            let mut line = String::new();
            tokio::io::BufReader::new(stdout)
                .read_line(&mut line)
                .await?;
            let addr = line
                .trim()
                .strip_prefix("listening on ")
                .ok_or("no address line")?;
            (vec![format!("ws://{addr}/sync")], Some(child))
        }
    };
    let start = Instant::now();
    let stats = Arc::new(Mutex::new(Stats::default()));
    let interval = Duration::from_secs_f64(args.connections as f64 / args.edits_per_sec);
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let joined = Arc::new(tokio::sync::Semaphore::new(0));
    let mut peers = Vec::new();
    for i in 0..args.connections {
        let url = urls[i % urls.len()].clone();
        let room = DocId::new(format!("load/{}", i % args.rooms))?;
        let (stats, joined, go) = (Arc::clone(&stats), Arc::clone(&joined), go_rx.clone());
        peers.push(tokio::spawn(async move {
            if let Err(e) = peer(i, &url, room, interval, start, stats, joined, go).await {
                eprintln!("peer {i}: {e}");
            }
        }));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Everyone joined (or gave up) before measuring.
    let _ = tokio::time::timeout(
        Duration::from_secs(60),
        joined.acquire_many(args.connections as u32),
    )
    .await;
    eprintln!("{} peers joined in {:?}", args.connections, start.elapsed());
    stats.lock().map_err(|_| "poisoned")?.latencies_us.clear();
    let measured = Instant::now();
    go_tx.send(true)?;
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let rss = relay.as_ref().and_then(|c| c.id()).map(rss_kib);
    go_tx.send(false)?;
    let elapsed = measured.elapsed().as_secs_f64();
    let mut stats = std::mem::take(&mut *stats.lock().map_err(|_| "poisoned")?);
    stats.latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        let l = &stats.latencies_us;
        if l.is_empty() {
            return f64::NAN;
        }
        l[((l.len() - 1) as f64 * p) as usize] as f64 / 1000.0
    };
    println!(
        "connections {} rooms {} | sent {:.0} edits/s | delivered {:.0}/s | latency ms p50 {:.2} p99 {:.2} max {:.2} | relay RSS {}",
        args.connections,
        args.rooms,
        stats.sent as f64 / elapsed,
        stats.latencies_us.len() as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        pct(1.0),
        rss.flatten().map_or("n/a".into(), |(rss, hwm)| format!("{} MiB (peak {} MiB)", rss / 1024, hwm / 1024)),
    );
    for p in peers {
        p.abort();
    }
    Ok(())
}

/// VmRSS and VmHWM of a process, in KiB.
fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

#[allow(clippy::too_many_arguments)]
async fn peer(
    me: usize,
    url: &str,
    room: DocId,
    interval: Duration,
    start: Instant,
    stats: Arc<Mutex<Stats>>,
    joined: Arc<tokio::sync::Semaphore>,
    mut go: tokio::sync::watch::Receiver<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = WebSocketConfig::default()
        .read_buffer_size(sync_server::relay::websocket::WS_READ_BUFFER_BYTES);
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    let (mut sink, mut stream) = socket.split();
    let mut doc = Doc::new();
    let mut session = SyncSession::new(room.clone());
    for m in session.connect(&doc) {
        sink.send(Ws::Binary(encode(&m).into())).await?;
    }
    let key = format!("p{me}");
    let mut seen: HashMap<String, i64> = HashMap::new();
    let mut announced_join = false;
    // Spread the peers' ticks over the interval, from the moment the load starts: an interval
    // made earlier would have missed ticks by then, fire them all at once, and keep every peer
    // in step (a burst of all edits each period instead of a steady rate).
    let offset = interval.mul_f64((me as f64 * 0.618_033_988_7) % 1.0);
    let mut tick = tokio::time::interval(interval);
    let mut running = false;
    loop {
        tokio::select! {
            changed = go.changed() => {
                if changed.is_err() { return Ok(()); }
                running = *go.borrow();
                if !running { return Ok(()); }
                tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            }
            _ = tick.tick(), if running => {
                let now = start.elapsed().as_micros() as i64;
                doc.map("lat").set(&key, now)?;
                doc.commit();
                for m in session.on_local_change(&doc) {
                    sink.send(Ws::Binary(encode(&m).into())).await?;
                }
                if let Ok(mut s) = stats.lock() { s.sent += 1; }
            }
            frame = stream.next() => {
                let Some(frame) = frame else { return Ok(()) };
                let Ws::Binary(bytes) = frame? else { continue };
                let message = decode(&bytes)?;
                let is_changes = matches!(message, Message::Changes { .. });
                for m in session.receive(&mut doc, message)? {
                    sink.send(Ws::Binary(encode(&m).into())).await?;
                }
                if !announced_join && session.their_version().is_some() {
                    announced_join = true;
                    joined.add_permits(1);
                }
                if is_changes && running {
                    let now = start.elapsed().as_micros() as i64;
                    let map = doc.map("lat");
                    let mut fresh = Vec::new();
                    for k in map.keys() {
                        if k == key { continue; }
                        if let Some(Value::Scalar(Scalar::Int(t))) = map.get(&k) {
                            if seen.get(&k) != Some(&t) {
                                fresh.push((k, t));
                            }
                        }
                    }
                    if let Ok(mut s) = stats.lock() {
                        for (k, t) in fresh {
                            s.latencies_us.push(now.saturating_sub(t).max(0) as u64);
                            seen.insert(k, t);
                        }
                    }
                } else if is_changes {
                    let map = doc.map("lat");
                    for k in map.keys() {
                        if let Some(Value::Scalar(Scalar::Int(t))) = map.get(&k) { seen.insert(k, t); }
                    }
                }
            }
        }
    }
}
