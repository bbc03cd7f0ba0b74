//! `replay <trace.json[.gz]> [--engine]`: replays an editing trace (sequential or concurrent)
//! through crdt-core's `Doc`, committing once per trace transaction as an editor does, and prints
//! one JSON line:
//! `{"trace","kind","replica","ops","txns","final_len","matches","ms","encoded_bytes","saved_bytes","peak_rss_bytes"}`.
//! `replica` is `"doc"`, or `"engine"` with `--engine` (the bare `Text` engine under the `Doc`,
//! which has no commits and no `save`: `saved_bytes` is then null). `peak_rss_bytes` is the
//! process' peak resident memory (Linux `VmHWM`; null elsewhere), trace loading included.
//!
//! Exit status: 0 when every replica ends with the trace's `endContent`, 1 when one does not,
//! 2 when the file cannot be read as a trace or crdt-core refuses an edit (the error goes to
//! stderr). The replay itself lives in [`crdt_testdata::replay`]; this shell parses arguments,
//! times the call and prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use crdt_testdata::replay::{replay, DocReplica, EngineReplica, ReplayOutcome, Replica};
use crdt_testdata::Trace;

/// Command line of the `replay` binary.
#[derive(Parser, Debug)]
#[command(about = "Replay an editing trace through crdt-core's Doc and report as one JSON line")]
struct Args {
    /// The trace file: JSON, optionally gzip-compressed.
    trace: PathBuf,
    /// Replay through the bare `Text` engine instead of the `Doc`.
    #[arg(long)]
    engine: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let trace = match Trace::load(&args.trace) {
        Ok(trace) => trace,
        Err(e) => {
            eprintln!("replay: {e}");
            return ExitCode::from(2);
        }
    };
    let result = if args.engine {
        run::<EngineReplica>(&args.trace, &trace, |_| None)
    } else {
        run::<DocReplica>(&args.trace, &trace, |r| Some(r.doc.save().len()))
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(()) => ExitCode::from(2),
    }
}

/// Replays `trace` on replicas `R`, prints the report line and returns whether it matched.
fn run<R: Replica>(
    path: &Path,
    trace: &Trace,
    saved_bytes: impl Fn(&mut R) -> Option<usize>,
) -> Result<bool, ()> {
    let start = Instant::now();
    let mut outcome: ReplayOutcome<R> = replay(trace).map_err(|e| {
        eprintln!("replay: {}: {e}", path.display());
    })?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let matches = outcome.matches();
    let file = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let name = file.trim_end_matches(".gz").trim_end_matches(".json");
    let report = serde_json::json!({
        "trace": name,
        "kind": trace.kind().to_string(),
        "replica": R::LABEL,
        "ops": outcome.ops,
        "txns": outcome.txns,
        "final_len": outcome.final_len(),
        "matches": matches,
        "ms": (ms * 1000.0).round() / 1000.0,
        "encoded_bytes": outcome.encoded_bytes(),
        "saved_bytes": outcome.replicas.first_mut().and_then(saved_bytes),
        "peak_rss_bytes": peak_rss_bytes(),
    });
    println!("{report}");
    Ok(matches)
}

/// The process' peak resident set size, from `/proc/self/status` (Linux only).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
