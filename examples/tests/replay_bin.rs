//! The `replay` binary, run as a user runs it: on small trace files written to a temporary
//! folder, checking its exit status and the JSON line it prints.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A trace file in the temporary folder, removed when dropped.
struct TempTrace(PathBuf);

impl TempTrace {
    fn new(name: &str, json: &str) -> TempTrace {
        let path = std::env::temp_dir().join(format!(
            "crdt-replay-test-{}-{name}.json",
            std::process::id()
        ));
        std::fs::write(&path, json).expect("the temporary folder is writable");
        TempTrace(path)
    }
}

impl Drop for TempTrace {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run(path: &std::path::Path) -> Output {
    run_with(path, &[])
}

fn run_with(path: &std::path::Path, flags: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replay"))
        .arg(path)
        .args(flags)
        .output()
        .expect("the replay binary runs")
}

fn report(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.trim();
    assert_eq!(line.lines().count(), 1, "exactly one line: {stdout:?}");
    serde_json::from_str(line).expect("the line is JSON")
}

const SEQUENTIAL: &str = r#"{"startContent":"","endContent":"hello",
  "txns":[{"time":"t","patches":[[0,0,"helo"],[3,0,"l"]]},{"time":"t","patches":[[4,1,"o"]]}]}"#;

// Two agents; txn 3 merges txns 1 and 2, which were made concurrently on txn 0.
const CONCURRENT: &str = r#"{"kind":"concurrent","numAgents":2,"endContent":"xabc!",
  "txns":[{"parents":[],"agent":0,"patches":[[0,0,"ab"]]},
          {"parents":[0],"agent":1,"patches":[[2,0,"c"]]},
          {"parents":[0],"agent":0,"patches":[[0,0,"x"]]},
          {"parents":[1,2],"agent":0,"patches":[[4,0,"!"]]}]}"#;

#[test]
fn matching_sequential_trace_exits_zero_with_its_report() {
    let file = TempTrace::new("seq-ok", SEQUENTIAL);
    let output = run(&file.0);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let json = report(&output);
    assert_eq!(
        json["trace"],
        format!("crdt-replay-test-{}-seq-ok", std::process::id())
    );
    assert_eq!(json["kind"], "sequential");
    assert_eq!(json["replica"], "doc");
    assert_eq!(json["ops"], 3);
    assert_eq!(json["txns"], 2);
    assert_eq!(json["final_len"], 5);
    assert_eq!(json["matches"], true);
    assert!(json["ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{json}");
    assert!(
        json["encoded_bytes"].as_u64().is_some_and(|b| b > 0),
        "{json}"
    );
    assert!(
        json["saved_bytes"].as_u64().is_some_and(|b| b > 0),
        "{json}"
    );
}

#[test]
fn engine_flag_replays_through_the_bare_text_engine() {
    let file = TempTrace::new("seq-engine", SEQUENTIAL);
    let output = run_with(&file.0, &["--engine"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let json = report(&output);
    assert_eq!(json["replica"], "engine");
    assert_eq!(json["final_len"], 5);
    assert!(json["saved_bytes"].is_null(), "{json}");
}

#[test]
fn matching_concurrent_trace_exits_zero() {
    let file = TempTrace::new("conc-ok", CONCURRENT);
    let output = run(&file.0);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let json = report(&output);
    assert_eq!(json["kind"], "concurrent");
    assert_eq!(json["ops"], 4);
    assert_eq!(json["final_len"], 5);
    assert_eq!(json["matches"], true);
}

#[test]
fn mismatching_trace_exits_one_and_says_so() {
    let file = TempTrace::new("seq-bad", &SEQUENTIAL.replace("\"hello\"", "\"help\""));
    let output = run(&file.0);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let json = report(&output);
    assert_eq!(json["matches"], false);
    assert_eq!(json["final_len"], 5);

    let file = TempTrace::new("conc-bad", &CONCURRENT.replace("xabc!", "xacb!"));
    let output = run(&file.0);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(report(&output)["matches"], false);
}

#[test]
fn unreadable_or_malformed_file_exits_two_with_an_error() {
    let file = TempTrace::new("garbage", "{\"endContent\": 3");
    let output = run(&file.0);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty());
    assert!(!output.stderr.is_empty());

    let missing = std::env::temp_dir().join("crdt-replay-test-no-such-file.json");
    let output = run(&missing);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("no-such-file"));

    // A patch past the end of the document: the engine refuses it.
    let file = TempTrace::new(
        "bad-pos",
        r#"{"endContent":"","txns":[{"patches":[[3,0,"x"]]}]}"#,
    );
    let output = run(&file.0);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(!output.stderr.is_empty());
}
