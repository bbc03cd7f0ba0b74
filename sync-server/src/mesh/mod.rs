//! [`MeshPeer`]: a native peer of the browsers' WebRTC mesh. Beside a [`SyncClient`] joined to a
//! document, it opens direct links (WebRTC data channels, with [str0m], a sans-IO WebRTC stack
//! driven here by one UDP socket and tokio's clock) to the document's other peers, browsers
//! running the JS package's `WebRtcProvider` or other native peers, and runs a [`SyncSession`](crdt_core::sync::SyncSession)
//! over each, so they keep syncing when the relay is away.
//!
//! It speaks the browser provider's mesh exactly (see [`signal`] for the payloads, [`framing`]
//! for the data channel layout): peers found in the relay's presence are greeted through the
//! relay's `Signal` messages; of two, the smaller mesh id offers; at most
//! [`MeshOptions::max_direct_peers`] links, past which a peer is answered `busy` and stays on
//! the relay. A link that closes takes its peer's direct presence with it; a relay reconnect
//! forgets the relay's peer ids (they are connection ids), not the links.
//!
//! Host candidates only, on [`MeshOptions::bind`] (no STUN or TURN): peers on one machine or one
//! network. Invariant: every change a link receives goes through [`SyncClient::update`], so the
//! relay gets it too once it is reachable.
//!
//! [str0m]: https://docs.rs/str0m

pub mod framing;
mod link;
pub mod signal;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crdt_core::sync::{DocId, PeerId};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::client::{Signal, SyncClient};
use link::{Context, Link};
use signal::{Kind, Payload};

/// Failed attempts to open a link after which a peer stays on the relay.
const MAX_ATTEMPTS: u32 = 3;

/// How a [`MeshPeer`] links.
#[derive(Clone, Debug)]
pub struct MeshOptions {
    /// The address to offer as this peer's host candidate: loopback (the default) reaches peers
    /// on this machine; a LAN address reaches that network.
    pub bind: IpAddr,
    /// Most direct links (default 8); further peers sync through the relay.
    pub max_direct_peers: usize,
    /// This peer's presence state on direct links (announce the same on the relay with
    /// [`SyncClient::set_presence`]: peers find each other there).
    pub presence: Option<Vec<u8>>,
}

impl Default for MeshOptions {
    fn default() -> Self {
        MeshOptions {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            max_direct_peers: 8,
            presence: Some(b"{}".to_vec()),
        }
    }
}

/// What the mesh task shares with its handle: the peers linked directly, with their presence.
type DirectView = Arc<Mutex<Vec<(String, Option<Vec<u8>>)>>>;

/// A native mesh peer; see the [module docs](self). One per [`SyncClient`] (it takes the
/// client's signals).
pub struct MeshPeer {
    id: u64,
    view: DirectView,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl MeshPeer {
    /// Starts linking document `doc` of `client` (which must have joined it) with its peers.
    pub async fn start(
        client: Arc<SyncClient>,
        doc: DocId,
        options: MeshOptions,
    ) -> std::io::Result<MeshPeer> {
        let socket = UdpSocket::bind(SocketAddr::new(options.bind, 0)).await?;
        let local = socket.local_addr()?;
        let id = rand::random::<u64>();
        let view = DirectView::default();
        let signals = client.signals();
        let changes = client.changes();
        let mesh = Mesh {
            client,
            doc,
            me: id,
            options,
            socket,
            local,
            links: HashMap::new(),
            aliases: HashMap::new(),
            greeted: HashSet::new(),
            relay_only: HashSet::new(),
            attempts: HashMap::new(),
            connects: 0,
            view: Arc::clone(&view),
        };
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(mesh.run(signals, changes, stop_rx));
        Ok(MeshPeer {
            id,
            view,
            stop,
            task,
        })
    }

    /// This peer's mesh id (16 hex digits).
    pub fn id(&self) -> String {
        signal::mesh_id_string(self.id)
    }

    /// The peers linked directly now: their mesh ids and presence states.
    pub fn direct_peers(&self) -> Vec<(String, Option<Vec<u8>>)> {
        self.view.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Closes every link and stops.
    pub async fn close(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The mesh task's state.
struct Mesh {
    client: Arc<SyncClient>,
    doc: DocId,
    me: u64,
    options: MeshOptions,
    socket: UdpSocket,
    local: SocketAddr,
    /// Mesh id to link.
    links: HashMap<u64, Link>,
    /// Relay peer id to mesh id, on the current relay connection.
    aliases: HashMap<PeerId, u64>,
    /// Relay peer ids greeted on the current relay connection.
    greeted: HashSet<PeerId>,
    /// Mesh ids of peers that stay on the relay (a cap).
    relay_only: HashSet<u64>,
    /// Mesh id to failed attempts.
    attempts: HashMap<u64, u32>,
    /// The client's connect count when the aliases were made.
    connects: u64,
    view: DirectView,
}

impl Mesh {
    async fn run(
        mut self,
        mut signals: mpsc::UnboundedReceiver<Signal>,
        mut changes: watch::Receiver<u64>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut buf = vec![0u8; 2048];
        loop {
            let wake = self.drive();
            tokio::select! {
                _ = stop.changed() => break,
                Some(signal) = signals.recv() => self.on_signal(signal),
                Ok(()) = changes.changed() => self.on_change(),
                received = self.socket.recv_from(&mut buf) => {
                    if let Ok((n, from)) = received {
                        self.on_datagram(from, &buf[..n]);
                    }
                }
                () = sleep_until(wake) => self.on_tick(),
            }
        }
        for link in self.links.values_mut() {
            link.close();
        }
        self.drive();
    }

    fn context(&self) -> Context<'_> {
        Context {
            client: &self.client,
            doc: &self.doc,
            me: self.me,
            presence: self.options.presence.as_deref(),
        }
    }

    /// Runs every link until it waits, drops the closed ones; returns the next wake-up.
    fn drive(&mut self) -> Option<Instant> {
        let mut links = std::mem::take(&mut self.links);
        let cx = self.context();
        let wake = links
            .values_mut()
            .filter_map(|link| link.poll(&self.socket, &cx))
            .min();
        let closed: Vec<u64> = links
            .iter()
            .filter(|(_, l)| l.is_closed())
            .map(|(&id, _)| id)
            .collect();
        self.links = links;
        for id in closed {
            self.link_closed(id);
        }
        self.publish_view();
        wake
    }

    fn link_closed(&mut self, id: u64) {
        let Some(link) = self.links.remove(&id) else {
            return;
        };
        if !link.ever_opened() {
            *self.attempts.entry(id).or_default() += 1;
        }
        self.greeted
            .retain(|relay| self.aliases.get(relay) != Some(&id));
        tracing::debug!(peer = id, "direct link closed");
    }

    fn publish_view(&self) {
        let direct = self
            .links
            .values()
            .filter(|l| l.is_open())
            .map(|l| (signal::mesh_id_string(l.mesh_id), l.presence()))
            .collect();
        *self.view.lock().unwrap_or_else(|p| p.into_inner()) = direct;
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        for link in self.links.values_mut() {
            link.tick(now);
        }
    }

    fn on_datagram(&mut self, from: SocketAddr, datagram: &[u8]) {
        let now = Instant::now();
        let local = self.local;
        for link in self.links.values_mut() {
            if link.take_datagram(from, local, datagram, now) {
                return;
            }
        }
    }

    /// The client changed: a relay reconnect renumbers peers; new peers in the relay's
    /// presence are greeted; every link gets what its peer lacks.
    fn on_change(&mut self) {
        let connects = self.client.connects();
        if connects != self.connects {
            self.connects = connects;
            self.aliases.clear();
            self.greeted.clear();
        }
        for (relay_id, _) in self.client.presence(&self.doc) {
            if self.greeted.contains(&relay_id) {
                continue;
            }
            let wanted = match self.aliases.get(&relay_id) {
                None => self.links.len() < self.options.max_direct_peers,
                Some(id) => !self.links.contains_key(id) && self.can_link(*id),
            };
            if wanted {
                self.greet(relay_id);
            }
        }
        let mut links = std::mem::take(&mut self.links);
        let cx = self.context();
        for link in links.values_mut() {
            link.flush(&cx);
        }
        self.links = links;
    }

    fn can_link(&self, id: u64) -> bool {
        !self.relay_only.contains(&id)
            && self.attempts.get(&id).copied().unwrap_or(0) < MAX_ATTEMPTS
            && self.links.len() < self.options.max_direct_peers
    }

    fn send(&self, to: PeerId, kind: Kind) {
        let payload = Payload {
            mesh_id: self.me,
            kind,
        };
        self.client.send_signal(&self.doc, to, payload.encode());
    }

    fn greet(&mut self, relay_id: PeerId) {
        self.greeted.insert(relay_id);
        self.send(relay_id, Kind::Hi);
    }

    fn on_signal(&mut self, signal: Signal) {
        if signal.doc != self.doc {
            return;
        }
        let Some(payload) = Payload::decode(&signal.payload) else {
            return;
        };
        let (from, id) = (signal.from, payload.mesh_id);
        if id == self.me {
            return;
        }
        self.aliases.insert(from, id);
        if let Some(link) = self.links.get_mut(&id) {
            link.relay_id = from;
        }
        match payload.kind {
            Kind::Hi => self.on_hi(from, id),
            Kind::Busy => {
                self.relay_only.insert(id);
                if let Some(link) = self.links.get_mut(&id) {
                    link.close();
                }
            }
            Kind::Offer(sdp) => self.on_offer(from, id, &sdp),
            Kind::Answer(sdp) => {
                if let Some(link) = self.links.get_mut(&id) {
                    if let Err(e) = link.accept_answer(&sdp) {
                        tracing::info!(peer = id, error = %e, "direct peer's answer refused");
                        link.close();
                    }
                }
            }
            Kind::Ice(candidate) => {
                if let Some(link) = self.links.get_mut(&id) {
                    link.add_candidate(&candidate.candidate);
                }
            }
        }
    }

    fn on_hi(&mut self, from: PeerId, id: u64) {
        if self.links.contains_key(&id) {
            // Let the peer learn this relay connection's id for us (after a relay restart).
            if !self.greeted.contains(&from) {
                self.greet(from);
            }
            return;
        }
        if !self.can_link(id) {
            self.send(from, Kind::Busy);
            return;
        }
        if self.me < id {
            match Link::offer(id, from, self.local, &self.doc, Instant::now()) {
                Ok((link, sdp)) => {
                    self.links.insert(id, link);
                    self.send(from, Kind::Offer(sdp));
                }
                Err(e) => tracing::info!(peer = id, error = %e, "cannot offer a direct link"),
            }
        } else if !self.greeted.contains(&from) {
            self.greet(from); // the other side offers once it hears from us
        }
    }

    fn on_offer(&mut self, from: PeerId, id: u64, sdp: &str) {
        // A new offer replaces a link the peer gave up on.
        if let Some(mut old) = self.links.remove(&id) {
            old.close();
        }
        if !self.can_link(id) {
            self.send(from, Kind::Busy);
            return;
        }
        match Link::answer(id, from, self.local, &self.doc, sdp, Instant::now()) {
            Ok((link, answer)) => {
                self.links.insert(id, link);
                self.send(from, Kind::Answer(answer));
            }
            Err(e) => tracing::info!(peer = id, error = %e, "direct peer's offer refused"),
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
