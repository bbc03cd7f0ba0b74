//! Timing and memory of the sequence engine on the automerge-paper editing trace (259,778 edits).
//! Ignored by default; run in release:
//! `cargo test --release -p crdt-core --test seq_perf -- --ignored --nocapture`.

use std::io::Read;
use std::time::Instant;

use crdt_core::seq::{Content, Sequence, TextContent};
use crdt_core::{Dot, ReplicaId, Text};

/// One patch: delete `.1` chars at `.0`, then insert `.2` there.
type Patch = (usize, usize, String);

fn load(name: &str) -> (Vec<Patch>, String) {
    let path = format!("{}/../traces/{name}.json.gz", env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::File::open(&path).expect("trace file present in the repo");
    let mut json = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .expect("valid gzip");
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid json");
    let mut patches = vec![];
    for txn in v["txns"].as_array().expect("txns") {
        for p in txn["patches"].as_array().expect("patches") {
            patches.push((
                p[0].as_u64().expect("pos") as usize,
                p[1].as_u64().expect("del") as usize,
                p[2].as_str().expect("ins").to_owned(),
            ));
        }
    }
    (patches, v["endContent"].as_str().expect("end").to_owned())
}

fn replay_sequence(patches: &[Patch]) -> Sequence<TextContent> {
    let r = ReplicaId::new(1);
    let mut seq: Sequence<TextContent> = Sequence::new();
    let mut counter = 1;
    for (pos, del, ins) in patches {
        if *del > 0 {
            seq.local_delete_with(*pos, *del, |_, _| {})
                .expect("in bounds");
        }
        if !ins.is_empty() {
            let c = TextContent::from(ins.as_str());
            let n = c.len() as u64;
            seq.local_insert_ref(*pos, &c, Dot::new(r, counter))
                .expect("in bounds");
            counter += n;
        }
    }
    seq
}

fn replay_text(patches: &[Patch]) -> Text {
    let mut text = Text::new(ReplicaId::new(1));
    for (pos, del, ins) in patches {
        if *del > 0 {
            text.delete(*pos, *del).expect("in bounds");
        }
        if !ins.is_empty() {
            text.insert(*pos, ins).expect("in bounds");
        }
    }
    text
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (T, f64) {
    let mut best = f64::MAX;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
        out = Some(v);
    }
    (out.expect("runs > 0"), best)
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn automerge_paper_timing_and_memory() {
    for name in ["automerge-paper", "seph-blog1", "sveltecomponent"] {
        let (patches, end) = load(name);
        let (seq, ms) = best_of(5, || replay_sequence(&patches));
        assert_eq!(seq.to_content().as_str(), end);
        let stats = seq.stats(|c| c.as_str().len());
        println!(
            "{name}: {} edits, Sequence replay {ms:.2} ms; {} runs in {} leaves; tree {} KB + index {} KB",
            patches.len(),
            stats.runs,
            stats.leaves,
            stats.tree_bytes / 1024,
            stats.index_bytes / 1024
        );
        let (text, ms) = best_of(5, || replay_text(&patches));
        assert_eq!(text.to_string(), end);
        let snap = text.encode_state();
        let ops = text.encode_ops_since(&Default::default());
        println!(
            "{name}: Text replay {ms:.2} ms; memory {} KB (history {} KB); snapshot {} KB; all ops {} KB",
            text.heap_size() / 1024,
            text.history_heap_size() / 1024,
            snap.len() / 1024,
            ops.len() / 1024
        );
        let (loaded, ms) = best_of(5, || Text::decode_state(&snap).expect("valid"));
        assert_eq!(loaded.to_string(), end);
        println!("{name}: snapshot load {ms:.2} ms");
        let (merged, ms) = best_of(3, || {
            let mut other = Text::new(ReplicaId::new(2));
            other.apply_encoded(&ops).expect("valid ops");
            other
        });
        assert_eq!(merged.to_string(), end);
        println!("{name}: applying all ops remotely {ms:.2} ms");
    }
}

#[test]
#[ignore = "profiling helper"]
fn profile_text_replay() {
    let (patches, end) = load("automerge-paper");
    let n: usize = std::env::var("REPLAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for _ in 0..n {
        let t = replay_text(&patches);
        assert_eq!(t.len(), end.chars().count());
    }
}

#[test]
#[ignore = "profiling helper"]
fn profile_sequence_replay() {
    let (patches, end) = load("automerge-paper");
    let n: usize = std::env::var("REPLAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for _ in 0..n {
        let s = replay_sequence(&patches);
        assert_eq!(s.len(), end.chars().count());
    }
}
