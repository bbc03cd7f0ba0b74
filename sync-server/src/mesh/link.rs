//! [`Link`]: one direct connection to one peer: a str0m [`Rtc`] (ICE, DTLS, SCTP, sans-IO, driven
//! by the mesh's UDP socket and clock), its one data channel, and the [`SyncSession`] that runs
//! over it on the client's document, presence included.
//!
//! Invariant: what the link's session receives is applied to the client's document through
//! [`SyncClient::update`], so the relay is told at once of what a direct peer sent (everything
//! made while the relay was away reaches it when it is back).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crdt_core::sync::{decode, encode, DocId, Message, PeerId, SyncSession};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcError};
use tokio::net::UdpSocket;

use super::framing::{chunk_frame, FrameAssembler};
use crate::client::SyncClient;

/// A link not open after this long is closed; its peer stays on the relay.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The label of the one data channel (as the browser names it).
const CHANNEL_LABEL: &str = "crdt-sync";

/// Why a link could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The WebRTC stack refused something (a description, a candidate).
    #[error("webrtc: {0}")]
    Rtc(#[from] RtcError),
    /// A session description that does not parse.
    #[error("bad session description: {0}")]
    Sdp(String),
    /// The local address cannot be a candidate.
    #[error("bad candidate: {0}")]
    Candidate(String),
}

/// What the mesh needs to drive a link: the client whose document it syncs, and which one.
pub struct Context<'a> {
    /// The client that owns the document (and the relay connection).
    pub client: &'a SyncClient,
    /// The document.
    pub doc: &'a DocId,
    /// This peer's mesh id: its presence's peer id on direct links.
    pub me: u64,
    /// This peer's presence state on direct links.
    pub presence: Option<&'a [u8]>,
}

/// One direct connection; see the [module docs](self).
pub struct Link {
    /// The peer's mesh id.
    pub mesh_id: u64,
    /// Where signals to the peer go: its id on the current relay connection.
    pub relay_id: PeerId,
    rtc: Rtc,
    pending: Option<SdpPendingOffer>,
    channel: Option<ChannelId>,
    session: SyncSession,
    assembler: FrameAssembler,
    started: Instant,
    open: bool,
    closed: bool,
}

impl Link {
    fn new(
        mesh_id: u64,
        relay_id: PeerId,
        local: SocketAddr,
        doc: &DocId,
        now: Instant,
    ) -> Result<Link, LinkError> {
        let mut rtc = Rtc::builder().build(now);
        let candidate =
            Candidate::host(local, "udp").map_err(|e| LinkError::Candidate(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        Ok(Link {
            mesh_id,
            relay_id,
            rtc,
            pending: None,
            channel: None,
            session: SyncSession::new(doc.clone()),
            assembler: FrameAssembler::default(),
            started: now,
            open: false,
            closed: false,
        })
    }

    /// A link that offers (this peer's mesh id is the smaller): the link and its offer's SDP.
    pub fn offer(
        mesh_id: u64,
        relay_id: PeerId,
        local: SocketAddr,
        doc: &DocId,
        now: Instant,
    ) -> Result<(Link, String), LinkError> {
        let mut link = Link::new(mesh_id, relay_id, local, doc, now)?;
        let mut change = link.rtc.sdp_api();
        change.add_channel(CHANNEL_LABEL.into());
        let (offer, pending) = change
            .apply()
            .ok_or_else(|| LinkError::Sdp("nothing to offer".into()))?;
        link.pending = Some(pending);
        Ok((link, offer.to_sdp_string()))
    }

    /// A link that answers `offer`: the link and its answer's SDP.
    pub fn answer(
        mesh_id: u64,
        relay_id: PeerId,
        local: SocketAddr,
        doc: &DocId,
        offer: &str,
        now: Instant,
    ) -> Result<(Link, String), LinkError> {
        let mut link = Link::new(mesh_id, relay_id, local, doc, now)?;
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| LinkError::Sdp(e.to_string()))?;
        let answer = link.rtc.sdp_api().accept_offer(offer)?;
        Ok((link, answer.to_sdp_string()))
    }

    /// Takes the peer's answer to this link's offer.
    pub fn accept_answer(&mut self, answer: &str) -> Result<(), LinkError> {
        let Some(pending) = self.pending.take() else {
            return Ok(()); // not an offerer, or answered already
        };
        let answer =
            SdpAnswer::from_sdp_string(answer).map_err(|e| LinkError::Sdp(e.to_string()))?;
        self.rtc.sdp_api().accept_answer(pending, answer)?;
        Ok(())
    }

    /// Takes one of the peer's ICE candidates (one that does not parse changes nothing).
    pub fn add_candidate(&mut self, candidate: &str) {
        if let Ok(c) = Candidate::from_sdp_string(candidate.trim_start_matches("a=")) {
            self.rtc.add_remote_candidate(c);
        }
    }

    /// Whether the data channel is open.
    pub fn is_open(&self) -> bool {
        self.open && !self.closed
    }

    /// Whether the link is done (closed, failed, or not open in time).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether the link ever opened (a link that closes unopened counts as a failed attempt).
    pub fn ever_opened(&self) -> bool {
        self.open
    }

    /// Whether `datagram` (from `source`, to `local`) is this link's; if so, takes it.
    pub fn take_datagram(
        &mut self,
        source: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
        now: Instant,
    ) -> bool {
        let Ok(receive) = Receive::new(Protocol::Udp, source, local, datagram) else {
            return false;
        };
        let input = Input::Receive(now, receive);
        if !self.rtc.accepts(&input) {
            return false;
        }
        if self.rtc.handle_input(input).is_err() {
            self.close();
        }
        true
    }

    /// Tells the link the time; it may retransmit, time out, or give up.
    pub fn tick(&mut self, now: Instant) {
        if !self.open && now.duration_since(self.started) > CONNECT_TIMEOUT {
            self.close();
        }
        if !self.closed && self.rtc.handle_input(Input::Timeout(now)).is_err() {
            self.close();
        }
    }

    /// Runs the link until it waits: sends its datagrams on `socket`, handles its events
    /// (channel open, data, close); returns when it next wants the time (`None` once closed:
    /// then this sends what closing queued, the DTLS close_notify that tells the peer).
    pub fn poll(&mut self, socket: &UdpSocket, cx: &Context<'_>) -> Option<Instant> {
        // Closing queues a few datagrams; a closed link is drained in one bounded pass.
        let mut drain = 64;
        while !self.closed || (drain > 0 && self.rtc.is_alive()) {
            if self.closed {
                drain -= 1;
            }
            match self.rtc.poll_output() {
                Ok(Output::Timeout(_)) if !self.closed && !self.rtc.is_alive() => self.close(),
                Ok(Output::Timeout(at)) if !self.closed => return Some(at),
                Ok(Output::Timeout(_)) => return None,
                Ok(Output::Transmit(t)) => {
                    // UDP is lossy anyway: a datagram the socket cannot take now is retransmitted.
                    let _ = socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(event)) if !self.closed => self.on_event(event, cx),
                Ok(Output::Event(_)) => {}
                Err(_) if self.closed => return None,
                Err(_) => self.close(),
            }
        }
        None
    }

    fn on_event(&mut self, event: Event, cx: &Context<'_>) {
        match event {
            Event::ChannelOpen(id, _) => {
                self.channel = Some(id);
                self.open = true;
                // Announced by connect(), after the Hello.
                let _ = self
                    .session
                    .set_presence(PeerId(cx.me), cx.presence.map(<[u8]>::to_vec));
                let hello = cx
                    .client
                    .read(cx.doc, |doc| self.session.connect(doc))
                    .unwrap_or_default();
                self.send(&hello);
            }
            Event::ChannelData(data) => self.on_data(&data.data, cx),
            // The peer closed (DTLS close_notify), or its channel did.
            Event::ChannelClose(_) | Event::Closed => self.close(),
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => self.close(),
            _ => {}
        }
    }

    fn on_data(&mut self, message: &[u8], cx: &Context<'_>) {
        let frame = match self.assembler.push(message) {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(e) => {
                tracing::info!(peer = self.mesh_id, error = %e, "closing a direct link");
                self.close();
                return;
            }
        };
        let Ok(message) = decode(&frame) else {
            tracing::info!(peer = self.mesh_id, "undecodable frame from a direct peer");
            return;
        };
        let session = &mut self.session;
        let answers = cx
            .client
            .update(cx.doc, |doc| session.receive(doc, message));
        match answers {
            Some(Ok(out)) => self.send(&out),
            Some(Err(e)) => {
                tracing::debug!(peer = self.mesh_id, error = %e, "direct peer's message refused")
            }
            None => {}
        }
    }

    /// Sends the peer what it lacks of the document (after a change here or elsewhere).
    pub fn flush(&mut self, cx: &Context<'_>) {
        if !self.is_open() {
            return;
        }
        let session = &mut self.session;
        let out = cx
            .client
            .read(cx.doc, |doc| session.on_local_change(doc))
            .unwrap_or_default();
        self.send(&out);
    }

    /// The peer's presence on this link (its own only: a direct peer speaks for itself).
    pub fn presence(&self) -> Option<Vec<u8>> {
        self.session
            .presence()
            .get(PeerId(self.mesh_id))
            .map(<[u8]>::to_vec)
    }

    fn send(&mut self, messages: &[Message]) {
        let Some(id) = self.channel else { return };
        for message in messages {
            for part in chunk_frame(&encode(message)) {
                let written = self
                    .rtc
                    .channel(id)
                    .map(|mut channel| channel.write(true, &part));
                if !matches!(written, Some(Ok(true))) {
                    // The channel's buffer is full or gone: the relay still carries the changes.
                    tracing::info!(
                        peer = self.mesh_id,
                        "direct link cannot take more; closing it"
                    );
                    self.close();
                    return;
                }
            }
        }
    }

    /// Closes the link: SCTP shutdown and DTLS close_notify go out on the next poll, so the
    /// peer sees its channel close at once.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.session.disconnect();
        if self.rtc.close().is_err() {
            self.rtc.disconnect();
        }
    }
}
