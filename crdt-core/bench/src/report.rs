//! Rendering measurements as a Markdown table, each figure with its ratio to diamond-types (the
//! fastest peer) and to our `Doc` (the product).
//!
//! Invariant: a cell shows the implementation's figure and its ratios to the reference columns
//! present in the table (above 1: slower or larger), never to itself; an operation the
//! implementation does not have is shown as "—".

use std::fmt::Write;
use std::time::Duration;

use crate::measure::{Measurement, OPERATIONS};

/// Name of the peer every figure is compared with.
pub const DIAMOND: &str = "diamond-types";
/// Name of our product's column.
pub const DOC: &str = "Doc";

/// Formats a duration with a unit suited to its size.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 1e-3 {
        format!("{:.2} ms", secs * 1e3)
    } else {
        format!("{:.1} µs", secs * 1e6)
    }
}

/// Formats a byte count in B, KiB or MiB.
pub fn format_bytes(bytes: isize) -> String {
    let b = bytes as f64;
    if b.abs() >= 1024.0 * 1024.0 {
        format!("{:.2} MiB", b / (1024.0 * 1024.0))
    } else if b.abs() >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// One figure of a measurement, as a number (for ratios) and as text.
type Figure = fn(&Measurement) -> Option<(f64, String)>;

/// The rows of a table after the timed operations.
const BYTE_ROWS: [(&str, Figure); 4] = [
    ("live memory after replay", |m| {
        m.memory_replayed.map(|b| (b as f64, format_bytes(b)))
    }),
    ("live memory after open", |m| {
        m.memory_loaded.map(|b| (b as f64, format_bytes(b)))
    }),
    ("saved document, bytes", |m| {
        Some((m.sizes.encoded as f64, m.sizes.encoded.to_string()))
    }),
    ("full history for sync, bytes", |m| {
        Some((m.sizes.changes as f64, m.sizes.changes.to_string()))
    }),
];

/// The text of one cell: the figure, then its ratio to each reference column other than its own.
fn cell(figure: Option<(f64, String)>, own: &str, references: &[(&str, Option<f64>)]) -> String {
    let Some((value, text)) = figure else {
        return "—".to_string();
    };
    let ratios: Vec<String> = references
        .iter()
        .filter(|(name, _)| *name != own)
        .filter_map(|(name, base)| {
            let r = value / (*base)?;
            let short = if *name == DIAMOND { "dt" } else { name };
            r.is_finite().then(|| format!("{r:.2}× {short}"))
        })
        .collect();
    if ratios.is_empty() {
        text
    } else {
        format!("{text} ({})", ratios.join(", "))
    }
}

/// Renders one row: `figure` of every measurement.
fn row(
    out: &mut String,
    label: &str,
    results: &[Measurement],
    figure: impl Fn(&Measurement) -> Option<(f64, String)>,
) {
    let references: Vec<(&str, Option<f64>)> = [DIAMOND, DOC]
        .into_iter()
        .filter_map(|name| {
            let m = results.iter().find(|m| m.name == name)?;
            Some((name, figure(m).map(|(v, _)| v)))
        })
        .collect();
    let _ = write!(out, "| {label} |");
    for m in results {
        let _ = write!(out, " {} |", cell(figure(m), m.name, &references));
    }
    out.push('\n');
}

/// Renders one trace's table, one column per measurement in the given order.
pub fn markdown_table(trace: &str, edits: usize, txns: usize, results: &[Measurement]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### {trace} ({edits} edits, {txns} transactions)\n");
    out.push_str("| |");
    for m in results {
        let _ = write!(out, " {} |", m.name);
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(results.len()));
    out.push('\n');
    for (op, label) in OPERATIONS.iter().enumerate() {
        row(&mut out, label, results, |m| {
            m.times[op].map(|d| (d.as_secs_f64(), format_duration(d)))
        });
    }
    for (label, figure) in BYTE_ROWS {
        row(&mut out, label, results, figure);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sizes;

    fn m(name: &'static str, ms: u64, bytes: usize) -> Measurement {
        let t = Some(Duration::from_millis(ms));
        Measurement {
            name,
            times: [t, None, t, t, t],
            sizes: Sizes {
                encoded: bytes,
                changes: bytes,
            },
            memory_replayed: None,
            memory_loaded: Some(bytes as isize),
        }
    }

    #[test]
    fn table_shows_ratios_against_diamond_types_and_our_doc() {
        let table = markdown_table(
            "t",
            5,
            2,
            &[m(DOC, 10, 100), m(DIAMOND, 5, 50), m("peer", 20, 400)],
        );
        assert!(table.contains("### t (5 edits, 2 transactions)"), "{table}");
        assert!(
            table.contains("| | Doc | diamond-types | peer |"),
            "{table}"
        );
        assert!(
            table.contains(
                "| replay, commit per transaction | 10.00 ms (2.00× dt) | 5.00 ms (0.50× Doc) | 20.00 ms (4.00× dt, 2.00× Doc) |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| saved document, bytes | 100 (2.00× dt) | 50 (0.50× Doc) | 400 (8.00× dt, 4.00× Doc) |"),
            "{table}"
        );
        assert!(
            table.contains("| replay, one commit | — | — | — |"),
            "{table}"
        );
        assert!(
            table.contains("| live memory after replay | — | — | — |"),
            "{table}"
        );
    }

    #[test]
    fn units_follow_magnitude() {
        assert_eq!(format_duration(Duration::from_micros(12)), "12.0 µs");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.50 s");
        assert_eq!(format_bytes(2048), "2.0 KiB");
        assert_eq!(format_bytes(3 * 1024 * 1024), "3.00 MiB");
    }
}
