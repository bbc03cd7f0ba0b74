//! Hostile inputs built on purpose, for the regression tests of issue #17 ("decoding is bounded by
//! what was received"): the decompression-and-run-length bombs that once took a relay from 9 MB
//! to 3.26 GB with a 250 KB frame.
//!
//! [`map_delete_bomb`] is the attack as found: one change of `MapDelete` ops without `pred` (each
//! costs one byte of the op-head column, a literal `1`, and nothing else), in a body deflated to
//! almost nothing and padded with zeros after the deflate stream, which the ratio check then
//! counted as compressed input. The body holds about 64 ops per byte of the frame, and every
//! column is consumed exactly (it is a valid batch); each decoded op is 136 bytes plus copies of
//! its key and container name, so the old decoder allocated about 13,000 times the frame.

use crate::encoding::column::{put_bytes, put_i64, put_u64};
use crate::encoding::{FORMAT_VERSION, MAGIC};

/// A `Changes` encoding of exactly `frame_len` bytes holding the map-delete bomb (see the
/// [module docs](self)).
///
/// # Panics
/// When `frame_len` is too small to hold the deflated body (under about 4 KiB).
pub fn map_delete_bomb(frame_len: usize) -> Vec<u8> {
    framed(b'C', &bomb_body(frame_len), frame_len)
}

/// A snapshot (`Doc::load`) of exactly `frame_len` bytes whose history is the map-delete bomb.
///
/// # Panics
/// As [`map_delete_bomb`].
pub fn snapshot_bomb(frame_len: usize) -> Vec<u8> {
    let ops = bomb_ops(frame_len);
    let mut raw = Vec::new();
    put_u64(&mut raw, 1);
    raw.extend_from_slice(&1u64.to_le_bytes());
    put_u64(&mut raw, ops as u64);
    put_bytes(&mut raw, &bomb_body(frame_len));
    put_bytes(&mut raw, &crate::doc::format::changes::encode_raw(&[]));
    put_u64(&mut raw, 0);
    put_u64(&mut raw, 0);
    framed(b'S', &raw, frame_len)
}

/// Ops claimed by a bomb of `frame_len` bytes: what the old ratio check let inflate, less room
/// for the columns.
fn bomb_ops(frame_len: usize) -> usize {
    (frame_len - 8) * 64 - 256
}

/// The raw change batch: one change of `bomb_ops` map deletes, their heads as literals (so the
/// op count fits the bytes left), every other op column a single run.
fn bomb_body(frame_len: usize) -> Vec<u8> {
    let n = bomb_ops(frame_len);
    let run = |out: &mut Vec<u8>, count: usize, value: u64| {
        let mut col = Vec::new();
        put_i64(&mut col, count as i64);
        put_u64(&mut col, value);
        put_bytes(out, &col);
    };
    let mut raw = Vec::new();
    put_u64(&mut raw, 1);
    raw.extend_from_slice(&1u64.to_le_bytes());
    // One root map "m", one key "k".
    put_u64(&mut raw, 1);
    raw.push(0);
    put_bytes(&mut raw, b"m");
    put_u64(&mut raw, 1);
    put_bytes(&mut raw, b"k");
    put_u64(&mut raw, 1);
    put_u64(&mut raw, n as u64);
    run(&mut raw, 1, 0); // change replica
    run(&mut raw, 1, 0); // change start: 1
    run(&mut raw, 1, 2); // lamport: 1
    run(&mut raw, 1, n as u64); // ops in the change
    run(&mut raw, 1, 0); // no parents stored (each change follows its replica's previous one)
    put_bytes(&mut raw, &[]); // parent replicas
    put_bytes(&mut raw, &[]); // parent counters
                              // Op heads: MapDelete (1), as one literal stretch.
    let mut heads = Vec::new();
    put_i64(&mut heads, -(n as i64));
    heads.resize(heads.len() + n, 1);
    put_bytes(&mut raw, &heads);
    run(&mut raw, n, 0); // op containers: "m"
    run(&mut raw, n, 0); // op keys: "k"
    run(&mut raw, n, 0); // pred counts: none
    for _ in 0..7 {
        // Reference agents and counters, left and right origins, targets, counter deltas, text.
        put_bytes(&mut raw, &[]);
    }
    put_bytes(&mut raw, &[0x90]); // map values: []
    put_bytes(&mut raw, &[0x90]); // list values: []
    raw
}

/// Header, envelope with `raw` deflated, then zeros up to `frame_len` bytes.
fn framed(kind: u8, raw: &[u8], frame_len: usize) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[kind, FORMAT_VERSION, FORMAT_VERSION, 1]);
    out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(raw, 10));
    assert!(out.len() <= frame_len, "frame too small for its bomb");
    out.resize(frame_len, 0);
    out
}
