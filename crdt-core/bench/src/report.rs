//! Rendering measurements as a Markdown table with ratios peer / ours.
//!
//! Invariant: the first measurement of a table is the baseline (ours, when built); every other cell
//! shows that implementation's figure and its ratio to the baseline (above 1: slower or larger).

use std::fmt::Write;
use std::time::Duration;

use crate::measure::{Measurement, OPERATIONS};

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

fn cell(value: String, ratio: Option<f64>) -> String {
    match ratio {
        Some(r) if r.is_finite() => format!("{value} ({r:.2}×)"),
        _ => value,
    }
}

/// Reads one byte figure of a measurement.
type ByteFigure = fn(&Measurement) -> Option<isize>;

/// Renders one trace's table. `results[0]` is the baseline.
pub fn markdown_table(trace: &str, edits: usize, results: &[Measurement]) -> String {
    let mut out = String::new();
    let Some(base) = results.first() else {
        return out;
    };
    let _ = writeln!(out, "### {trace} ({edits} edits)\n");
    let mut header = String::from("| |");
    let mut rule = String::from("|---|");
    for (i, m) in results.iter().enumerate() {
        let suffix = if i == 0 {
            String::new()
        } else {
            format!(" (× {})", base.name)
        };
        let _ = write!(header, " {}{suffix} |", m.name);
        rule.push_str("---|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for (op, name) in OPERATIONS.iter().enumerate() {
        let mut row = format!("| {name} |");
        let base_t = base.times[op].as_secs_f64();
        for (i, m) in results.iter().enumerate() {
            let ratio = (i > 0).then(|| m.times[op].as_secs_f64() / base_t);
            let _ = write!(row, " {} |", cell(format_duration(m.times[op]), ratio));
        }
        let _ = writeln!(out, "{row}");
    }
    let byte_rows: [(&str, ByteFigure); 4] = [
        ("memory after replay", |m| m.memory_replayed),
        ("memory after load", |m| m.memory_loaded),
        ("encoded size (storage)", |m| Some(m.sizes.encoded as isize)),
        ("encoded size (changes)", |m| Some(m.sizes.changes as isize)),
    ];
    for (name, get) in byte_rows {
        let mut row = format!("| {name} |");
        let base_v = get(base);
        for (i, m) in results.iter().enumerate() {
            let text = match get(m) {
                Some(v) => {
                    let ratio = match base_v {
                        Some(b) if i > 0 && b != 0 => Some(v as f64 / b as f64),
                        _ => None,
                    };
                    cell(format_bytes(v), ratio)
                }
                None => "n/a".to_string(),
            };
            let _ = write!(row, " {text} |");
        }
        let _ = writeln!(out, "{row}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sizes;

    fn m(name: &'static str, ms: u64, bytes: usize) -> Measurement {
        Measurement {
            name,
            times: [Duration::from_millis(ms); 4],
            sizes: Sizes {
                encoded: bytes,
                changes: bytes,
            },
            memory_replayed: None,
            memory_loaded: Some(bytes as isize),
        }
    }

    #[test]
    fn table_shows_ratios_against_the_first_column() {
        let table = markdown_table("t", 5, &[m("ours", 10, 100), m("peer", 25, 300)]);
        assert!(table.contains("| ours | peer (× ours) |"), "{table}");
        assert!(
            table.contains("| local replay | 10.00 ms | 25.00 ms (2.50×) |"),
            "{table}"
        );
        assert!(
            table.contains("| encoded size (storage) | 100 B | 300 B (3.00×) |"),
            "{table}"
        );
        assert!(
            table.contains("| memory after replay | n/a | n/a |"),
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
