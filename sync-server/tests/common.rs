//! Helpers shared by the relay's integration tests: start a real relay on 127.0.0.1 port 0,
//! connect clients, and wait for conditions with a deadline (never a fixed sleep).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use crdt_core::sync::DocId;
use crdt_core::Doc;
use crdt_core::Materialized;
use sync_server::auth::{Access, Authorizer, Claims};
use sync_server::{ClientOptions, Config, Relay, SyncClient};

/// How long any test waits for a condition.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A token signed with `secret`, granting `access` to the documents `pattern` names until `exp`
/// (unix seconds).
pub fn signed_token(secret: &str, pattern: &str, access: Access, exp: u64) -> String {
    Authorizer::new(Some(secret))
        .issue(&Claims {
            doc: pattern.into(),
            access,
            exp,
        })
        .expect("a test token signs")
}

/// The test config (in memory, loopback port 0) changed by `change`.
pub fn config_with(change: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::for_tests();
    change(&mut config);
    config
}

/// Starts a relay with the test config.
pub async fn relay() -> Relay {
    relay_with(|_| {}).await
}

/// Starts a relay with the test config changed by `change`
/// (`relay_with(|c| c.limits.max_connections = 2)`).
pub async fn relay_with(change: impl FnOnce(&mut Config)) -> Relay {
    Relay::start(config_with(change))
        .await
        .expect("relay starts")
}

/// The WebSocket URL of a relay.
pub fn url(addr: std::net::SocketAddr) -> String {
    format!("ws://{addr}/sync")
}

/// A client joined to `doc` with a fresh document.
pub fn client(addr: std::net::SocketAddr, doc: &DocId) -> SyncClient {
    let client = SyncClient::connect(&url(addr), ClientOptions::default());
    client.join(doc.clone(), Doc::new());
    client
}

/// The id `s`.
pub fn id(s: &str) -> DocId {
    DocId::new(s).unwrap()
}

/// The materialized content of a client's document.
pub fn content(client: &SyncClient, doc: &DocId) -> BTreeMap<String, Materialized> {
    client.read(doc, |d| d.materialize()).unwrap()
}

/// Waits until every client is synced with the relay and all hold the same content.
pub async fn converge(clients: &[&SyncClient], doc: &DocId) -> bool {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let synced = clients.iter().all(|c| c.is_synced(doc));
        if synced {
            let first = content(clients[0], doc);
            if clients.iter().all(|c| content(c, doc) == first) {
                return true;
            }
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        // Wake on the first client's next state change (or soon, for the others').
        let _ = clients[0]
            .wait_until(Duration::from_millis(20), |_| false)
            .await;
    }
}

/// The text `body` of a document (empty when absent).
pub fn body_of(doc: &Doc) -> String {
    doc.materialize()
        .into_iter()
        .find_map(|(key, value)| match value {
            Materialized::Text(s) if key.starts_with("body") => Some(s),
            _ => None,
        })
        .unwrap_or_default()
}

/// The text `body` of a client's document.
pub fn body(client: &SyncClient, doc: &DocId) -> String {
    client.read(doc, body_of).unwrap_or_default()
}

/// Reads a relay child process's first stdout line (`listening on ADDR`) and returns the
/// address; the child must have been spawned with piped stdout.
pub fn listening_address(child: &mut std::process::Child) -> std::net::SocketAddr {
    use std::io::{BufRead, BufReader};
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reads the address line");
    line.trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
}
