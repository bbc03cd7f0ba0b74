//! `replay <trace.json[.gz]>`: replays an editing trace (sequential or concurrent) with crdt-core
//! and prints one JSON line:
//! `{"trace","kind","ops","final_len","matches","ms","encoded_bytes"}`.
//!
//! Exit status: 0 when every replica ends with the trace's `endContent`, 1 when one does not,
//! 2 when the file cannot be read as a trace or the engine refuses an edit (the error goes to
//! stderr). The replay itself lives in [`examples::replay`]; this shell parses arguments, times
//! the call and prints.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use examples::replay::replay;
use examples::trace::Trace;

/// Command line of the `replay` binary.
#[derive(Parser, Debug)]
#[command(about = "Replay an editing trace with crdt-core and report as one JSON line")]
struct Args {
    /// The trace file: JSON, optionally gzip-compressed.
    trace: PathBuf,
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
    let start = Instant::now();
    let outcome = match replay(&trace) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("replay: {}: {e}", args.trace.display());
            return ExitCode::from(2);
        }
    };
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let matches = outcome.matches();
    let file = args
        .trace
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let name = file.trim_end_matches(".gz").trim_end_matches(".json");
    let report = serde_json::json!({
        "trace": name,
        "kind": trace.kind().to_string(),
        "ops": outcome.ops,
        "final_len": outcome.final_len(),
        "matches": matches,
        "ms": (ms * 1000.0).round() / 1000.0,
        "encoded_bytes": outcome.encoded_bytes(),
    });
    println!("{report}");
    if matches {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
