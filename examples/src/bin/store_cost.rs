//! `store_cost`: what one durable append costs on each storage backend, i.e. the price of the
//! Redis round trip per change in cluster mode next to SQLite's commit.
//!
//! It appends `--count` change batches of `--bytes` bytes one at a time (one change per commit,
//! the relay's worst case), then in groups of `--group` (what the persister's group commit does
//! under load), and prints the mean time per call and per batch.
//!
//! ```text
//! redis-server --port 6390 --save '' --appendonly yes --appendfsync everysec &
//! target/release/store_cost --redis redis://127.0.0.1:6390
//! ```

use std::time::Instant;

use clap::Parser;
use crdt_core::sync::DocId;
use sync_server::cluster::NodeId;
use sync_server::config::Synchronous;
use sync_server::storage::{RedisStore, SqliteStore, Store};

#[derive(Parser, Debug)]
#[command(about = "Cost of one durable append per storage backend")]
struct Args {
    /// Redis URL to measure (a server you started; its keys `sync:*` are written).
    #[arg(long)]
    redis: Option<String>,
    /// Batches appended per measurement.
    #[arg(long, default_value_t = 5000)]
    count: usize,
    /// Bytes per batch.
    #[arg(long, default_value_t = 100)]
    bytes: usize,
    /// Batches per call in the grouped measurement.
    #[arg(long, default_value_t = 64)]
    group: usize,
}

fn measure(name: &str, store: &dyn Store, args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let doc = DocId::new(format!("cost/{}", name.replace([' ', '='], "-")))?;
    let batch = vec![7u8; args.bytes];
    let start = Instant::now();
    for _ in 0..args.count {
        store.append(&[(doc.clone(), batch.clone())])?;
    }
    let single = start.elapsed().as_secs_f64() * 1e6 / args.count as f64;
    let group: Vec<(DocId, Vec<u8>)> = (0..args.group)
        .map(|_| (doc.clone(), batch.clone()))
        .collect();
    let calls = (args.count / args.group).max(1);
    let start = Instant::now();
    for _ in 0..calls {
        store.append(&group)?;
    }
    let grouped = start.elapsed().as_secs_f64() * 1e6 / (calls * args.group) as f64;
    println!(
        "{name:<24} one batch per call: {single:8.1} µs/change | {} per call: {grouped:6.1} µs/change",
        args.group
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("store_cost_{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for (name, sync) in [
        ("sqlite synchronous=full", Synchronous::Full),
        ("sqlite synchronous=normal", Synchronous::Normal),
    ] {
        let path = dir.join(format!("{name}.db").replace([' ', '='], "_"));
        measure(name, &SqliteStore::open(&path, sync)?, &args)?;
    }
    std::fs::remove_dir_all(&dir)?;
    if let Some(url) = &args.redis {
        measure("redis", &RedisStore::open(url, NodeId(1))?, &args)?;
    }
    Ok(())
}
