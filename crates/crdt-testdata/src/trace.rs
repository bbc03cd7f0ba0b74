//! Loading the editing traces of the public `editing-traces` collection (Gentle & Kleppmann).
//!
//! Two kinds exist (see `traces/README.md`): *sequential* traces, one user's history as a list of
//! transactions of `[pos, delCount, insertText]` patches, and *concurrent* traces, where each
//! transaction names the transactions it was made on (`parents`) and the agent that made it.
//! Positions count Unicode scalar values. Files may be plain JSON or gzip-compressed JSON.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

/// What can go wrong reading a trace file.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be read or decompressed.
    #[error("cannot read trace {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a trace in either format.
    #[error("{path} is not an editing trace: {source}")]
    Format {
        /// The file.
        path: String,
        /// What the JSON parser said.
        source: serde_json::Error,
    },
    /// A concurrent trace's transaction names a parent that does not come before it.
    #[error("transaction {txn} names parent {parent}, which does not come before it")]
    BadParent {
        /// Index of the transaction.
        txn: usize,
        /// The parent it names.
        parent: usize,
    },
}

/// One patch: delete `delete` characters at `pos`, then insert `insert` at `pos`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Patch(pub usize, pub usize, pub String);

impl Patch {
    /// Position, in Unicode scalar values.
    pub fn pos(&self) -> usize {
        self.0
    }
    /// Number of characters deleted at `pos`.
    pub fn delete(&self) -> usize {
        self.1
    }
    /// Text inserted at `pos` after the deletion.
    pub fn insert(&self) -> &str {
        &self.2
    }
}

/// A transaction of a sequential trace.
#[derive(Clone, Debug, Deserialize)]
pub struct SequentialTxn {
    /// Patches applied in order.
    pub patches: Vec<Patch>,
}

/// A transaction of a concurrent trace.
#[derive(Clone, Debug, Deserialize)]
pub struct ConcurrentTxn {
    /// Transactions whose merged result this one was made on (empty: the empty document).
    pub parents: Vec<usize>,
    /// The agent (user) that made it, from 0.
    pub agent: usize,
    /// Patches applied in order.
    pub patches: Vec<Patch>,
}

/// A single user's editing history.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SequentialTrace {
    /// Content before the first transaction.
    #[serde(default)]
    pub start_content: String,
    /// Content after the last transaction.
    pub end_content: String,
    /// The transactions.
    pub txns: Vec<SequentialTxn>,
}

/// Several agents' editing histories with their causal graph.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConcurrentTrace {
    /// Number of agents.
    pub num_agents: usize,
    /// Content every replica must hold at the end.
    pub end_content: String,
    /// The transactions, each after all of its parents.
    pub txns: Vec<ConcurrentTxn>,
}

/// A trace of either kind.
#[derive(Clone, Debug)]
pub enum Trace {
    /// One user's history.
    Sequential(SequentialTrace),
    /// Several users' histories with merges.
    Concurrent(ConcurrentTrace),
}

#[derive(Deserialize)]
struct KindProbe {
    #[serde(default)]
    kind: Option<String>,
}

impl Trace {
    /// Reads a trace from a `.json` or `.json.gz` file.
    pub fn load(path: impl AsRef<Path>) -> Result<Trace, TraceError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let raw = std::fs::read(path).map_err(|source| TraceError::Io {
            path: name.clone(),
            source,
        })?;
        let json = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .map_err(|source| TraceError::Io {
                    path: name.clone(),
                    source,
                })?;
            out
        } else {
            raw
        };
        Self::parse(&json).map_err(|e| match e {
            TraceError::Format { source, .. } => TraceError::Format { path: name, source },
            other => other,
        })
    }

    /// Parses trace JSON that is already in memory.
    pub fn parse(json: &[u8]) -> Result<Trace, TraceError> {
        let fmt_err = |source| TraceError::Format {
            path: "<memory>".into(),
            source,
        };
        let probe: KindProbe = serde_json::from_slice(json).map_err(fmt_err)?;
        if probe.kind.as_deref() == Some("concurrent") {
            let trace: ConcurrentTrace = serde_json::from_slice(json).map_err(fmt_err)?;
            for (i, txn) in trace.txns.iter().enumerate() {
                if let Some(&parent) = txn.parents.iter().find(|&&p| p >= i) {
                    return Err(TraceError::BadParent { txn: i, parent });
                }
            }
            Ok(Trace::Concurrent(trace))
        } else {
            Ok(Trace::Sequential(
                serde_json::from_slice(json).map_err(fmt_err)?,
            ))
        }
    }

    /// `"sequential"` or `"concurrent"`.
    pub fn kind(&self) -> TraceKind {
        match self {
            Trace::Sequential(_) => TraceKind::Sequential,
            Trace::Concurrent(_) => TraceKind::Concurrent,
        }
    }

    /// The content the trace must end with.
    pub fn end_content(&self) -> &str {
        match self {
            Trace::Sequential(t) => &t.end_content,
            Trace::Concurrent(t) => &t.end_content,
        }
    }

    /// Total number of patches (edits) in the trace.
    pub fn patch_count(&self) -> usize {
        match self {
            Trace::Sequential(t) => t.txns.iter().map(|x| x.patches.len()).sum(),
            Trace::Concurrent(t) => t.txns.iter().map(|x| x.patches.len()).sum(),
        }
    }
}

/// The two kinds of trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// One user's history.
    Sequential,
    /// Several users' histories with merges.
    Concurrent,
}

impl fmt::Display for TraceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceKind::Sequential => "sequential",
            TraceKind::Concurrent => "concurrent",
        })
    }
}

/// Path of a trace shipped in the repository's `traces/` folder, e.g. `"automerge-paper"`.
pub fn bundled_trace_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../traces")
        .join(format!("{name}.json.gz"))
}

/// Names of the traces shipped in the repository.
pub const BUNDLED_TRACES: [&str; 4] = [
    "automerge-paper",
    "seph-blog1",
    "sveltecomponent",
    "friendsforever",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds() {
        let seq = br#"{"startContent":"","endContent":"hi","txns":[{"time":"x","patches":[[0,0,"hi"]]}]}"#;
        let trace = Trace::parse(seq).unwrap();
        assert_eq!(trace.kind(), TraceKind::Sequential);
        assert_eq!(trace.patch_count(), 1);
        let conc = br#"{"kind":"concurrent","numAgents":2,"endContent":"a","txns":[{"parents":[],"numChildren":0,"agent":1,"patches":[[0,0,"a"]]}]}"#;
        let trace = Trace::parse(conc).unwrap();
        assert_eq!(trace.kind(), TraceKind::Concurrent);
        assert_eq!(trace.end_content(), "a");
    }

    #[test]
    fn rejects_forward_parents_and_garbage() {
        let conc = br#"{"kind":"concurrent","numAgents":1,"endContent":"","txns":[{"parents":[0],"agent":0,"patches":[]}]}"#;
        assert!(matches!(
            Trace::parse(conc),
            Err(TraceError::BadParent { txn: 0, parent: 0 })
        ));
        assert!(Trace::parse(b"{not json").is_err());
    }

    #[test]
    fn loads_every_bundled_trace() {
        for name in BUNDLED_TRACES {
            let trace = Trace::load(bundled_trace_path(name)).unwrap();
            assert!(trace.patch_count() > 1000, "{name}");
            assert!(!trace.end_content().is_empty(), "{name}");
        }
    }
}
