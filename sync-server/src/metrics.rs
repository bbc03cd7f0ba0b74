//! [`Metrics`]: the relay's counters, gauges and its fan-out latency histogram, rendered in the
//! Prometheus text exposition format (version 0.0.4) for `GET /metrics`.
//!
//! Invariant: every update is a relaxed atomic operation (no lock on the hot path), counters only
//! grow, and the histogram's buckets are cumulative when rendered, as Prometheus requires.
//!
//! Why not the official `prometheus-client` crate (checked at 0.24.1): its `Histogram::observe`
//! takes a write lock (`Arc<RwLock<Inner>>`, parking_lot) on every observation, and the relay
//! observes its fan-out histogram once per frame written to every peer, from every connection
//! task at once; its labelled counters (`Family`) take a read lock on every increment to find
//! the label set's counter. Both are locks on the hot path, which this module exists to avoid.
//! It also writes OpenMetrics text (a `# EOF` line, `_total` appended to counter names at
//! registration), so keeping every metric name the tests and README use would need renames. What
//! it would bring is the text encoder alone, and the 0.0.4 text format is a few lines to write,
//! as many Rust servers do.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Why the relay refused something; one label value of `sync_rejections_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// A frame that is not a decodable message of this protocol.
    BadMessage,
    /// A frame of another protocol version.
    UnsupportedVersion,
    /// A text frame.
    NotBinary,
    /// A frame over the size limit.
    TooLarge,
    /// A message for a document the connection has not joined.
    NotJoined,
    /// No or a wrong token, or a document the token does not cover.
    Unauthorized,
    /// Changes from a read-only peer.
    ReadOnly,
    /// Changes the document refused.
    BadChanges,
    /// Over the message rate.
    RateLimited,
    /// Over the documents-per-connection limit.
    TooManyDocs,
    /// Over the connection limit.
    TooManyConnections,
    /// A peer that did not read its frames fast enough.
    SlowConsumer,
    /// A peer silent past the idle timeout.
    IdleTimeout,
    /// A WebSocket upgrade from an origin not on `--allowed-origin`.
    Origin,
    /// Changes refused because the store cannot write.
    StorageUnavailable,
    /// Changes refused because the document is at `--max-doc-bytes`.
    DocTooLarge,
    /// A connection refused at `--max-connections-per-ip`.
    TooManyConnectionsPerIp,
    /// A connection closed because its token expired.
    TokenExpired,
    /// Changes under a replica id another connection writes.
    ReplicaTaken,
    /// A signal for a peer not in the document's room (or not on this node), or to oneself.
    UnknownPeer,
}

impl Rejection {
    /// Every reason, in label order.
    pub const ALL: [Rejection; 20] = [
        Rejection::BadMessage,
        Rejection::UnsupportedVersion,
        Rejection::NotBinary,
        Rejection::TooLarge,
        Rejection::NotJoined,
        Rejection::Unauthorized,
        Rejection::ReadOnly,
        Rejection::BadChanges,
        Rejection::RateLimited,
        Rejection::TooManyDocs,
        Rejection::TooManyConnections,
        Rejection::SlowConsumer,
        Rejection::IdleTimeout,
        Rejection::Origin,
        Rejection::StorageUnavailable,
        Rejection::DocTooLarge,
        Rejection::TooManyConnectionsPerIp,
        Rejection::TokenExpired,
        Rejection::ReplicaTaken,
        Rejection::UnknownPeer,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Rejection::BadMessage => "bad_message",
            Rejection::UnsupportedVersion => "unsupported_version",
            Rejection::NotBinary => "not_binary",
            Rejection::TooLarge => "too_large",
            Rejection::NotJoined => "not_joined",
            Rejection::Unauthorized => "unauthorized",
            Rejection::ReadOnly => "read_only",
            Rejection::BadChanges => "bad_changes",
            Rejection::RateLimited => "rate_limited",
            Rejection::TooManyDocs => "too_many_docs",
            Rejection::TooManyConnections => "too_many_connections",
            Rejection::SlowConsumer => "slow_consumer",
            Rejection::IdleTimeout => "idle_timeout",
            Rejection::Origin => "origin",
            Rejection::StorageUnavailable => "storage_unavailable",
            Rejection::DocTooLarge => "doc_too_large",
            Rejection::TooManyConnectionsPerIp => "too_many_connections_per_ip",
            Rejection::TokenExpired => "token_expired",
            Rejection::ReplicaTaken => "replica_taken",
            Rejection::UnknownPeer => "unknown_peer",
        }
    }
}

/// Upper bounds of the fan-out latency buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// A Prometheus histogram of durations.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket (not cumulative), plus the overflow bucket at the end.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[LATENCY_BUCKETS.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_nanos.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {}", self.count());
    }
}

/// Everything `/metrics` reports.
///
/// ```
/// use sync_server::metrics::{Metrics, Rejection};
/// let m = Metrics::default();
/// m.rejected(Rejection::ReadOnly);
/// assert!(m.render().contains("sync_rejections_total{reason=\"read_only\"} 1"));
/// ```
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: AtomicI64,
    /// Documents loaded in memory (one room each).
    pub rooms: AtomicI64,
    /// Peers joined to rooms, summed over rooms.
    pub room_peers: AtomicI64,
    /// 1 when the store keeps acknowledged changes across its own crash, 0 when it may lose
    /// them (set at start from [`crate::storage::Store::ack_durability`]).
    pub durable_acks: AtomicI64,
    /// Frames received.
    pub messages_in: AtomicU64,
    /// Frames sent.
    pub messages_out: AtomicU64,
    /// Bytes received in frames.
    pub bytes_in: AtomicU64,
    /// Bytes sent in frames.
    pub bytes_out: AtomicU64,
    /// Change batches written durably.
    pub changes_persisted: AtomicU64,
    /// Snapshots written by compaction.
    pub compactions: AtomicU64,
    /// Storage operations that failed.
    pub storage_errors: AtomicU64,
    rejections: [AtomicU64; Rejection::ALL.len()],
    /// From a change's arrival at its room to its frame being written to another peer's socket.
    pub fanout_latency: Histogram,
    /// From a room handing changes to the persister to their being durable (acks and messages
    /// to their author wait this long).
    pub persist_latency: Histogram,
}

impl Metrics {
    /// Counts one refusal.
    pub fn rejected(&self, why: Rejection) {
        self.rejections[why as usize].fetch_add(1, Relaxed);
    }

    /// Refusals for `why` so far.
    pub fn rejections(&self, why: Rejection) -> u64 {
        self.rejections[why as usize].load(Relaxed)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let gauges: [(&str, &str, &AtomicI64); 4] = [
            (
                "sync_connections",
                "Open WebSocket connections.",
                &self.connections,
            ),
            ("sync_rooms", "Documents loaded in memory.", &self.rooms),
            (
                "sync_room_peers",
                "Peers joined to documents.",
                &self.room_peers,
            ),
            (
                "sync_durable_acks",
                "1 when acknowledged changes survive a crash of the store, 0 when they may not.",
                &self.durable_acks,
            ),
        ];
        for (name, help, value) in gauges {
            let v = value.load(Relaxed);
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let counters: [(&str, &str, &AtomicU64); 8] = [
            (
                "sync_messages_in_total",
                "Frames received.",
                &self.messages_in,
            ),
            (
                "sync_messages_out_total",
                "Frames sent.",
                &self.messages_out,
            ),
            (
                "sync_bytes_in_total",
                "Bytes received in frames.",
                &self.bytes_in,
            ),
            (
                "sync_bytes_out_total",
                "Bytes sent in frames.",
                &self.bytes_out,
            ),
            (
                "sync_changes_persisted_total",
                "Change batches stored durably.",
                &self.changes_persisted,
            ),
            (
                "sync_compactions_total",
                "Snapshots written by compaction.",
                &self.compactions,
            ),
            (
                "sync_storage_errors_total",
                "Failed storage operations.",
                &self.storage_errors,
            ),
            (
                "sync_fanout_frames_total",
                "Change frames fanned out.",
                &self.fanout_latency.count,
            ),
        ];
        for (name, help, value) in counters {
            let v = value.load(Relaxed);
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        let name = "sync_rejections_total";
        let _ = writeln!(
            out,
            "# HELP {name} Refused frames, joins and connections, by reason."
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        for why in Rejection::ALL {
            let v = self.rejections(why);
            let _ = writeln!(out, "{name}{{reason=\"{}\"}} {v}", why.label());
        }
        self.fanout_latency.render(
            "sync_fanout_latency_seconds",
            "From a change reaching its room to its frame being written to another peer.",
            &mut out,
        );
        self.persist_latency.render(
            "sync_persist_latency_seconds",
            "From a room handing changes to storage to their being durable.",
            &mut out,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_labels_index_their_counters() {
        for (i, why) in Rejection::ALL.into_iter().enumerate() {
            assert_eq!(why as usize, i);
        }
        let m = Metrics::default();
        m.rejected(Rejection::RateLimited);
        m.rejected(Rejection::RateLimited);
        assert_eq!(m.rejections(Rejection::RateLimited), 2);
        assert_eq!(m.rejections(Rejection::ReadOnly), 0);
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.fanout_latency.observe(Duration::from_micros(50));
        m.fanout_latency.observe(Duration::from_micros(700));
        m.fanout_latency.observe(Duration::from_secs(3));
        let text = m.render();
        assert!(text.contains("sync_fanout_latency_seconds_bucket{le=\"0.0001\"} 1\n"));
        assert!(text.contains("sync_fanout_latency_seconds_bucket{le=\"0.001\"} 2\n"));
        assert!(text.contains("sync_fanout_latency_seconds_bucket{le=\"1\"} 2\n"));
        assert!(text.contains("sync_fanout_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("sync_fanout_latency_seconds_count 3\n"));
    }

    #[test]
    fn every_sample_line_is_well_formed() {
        let m = Metrics::default();
        m.connections.fetch_add(3, Relaxed);
        m.bytes_in.fetch_add(10, Relaxed);
        let text = m.render();
        assert!(text.contains("sync_connections 3\n"));
        assert!(text.contains("sync_bytes_in_total 10\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(!name.is_empty() && value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
