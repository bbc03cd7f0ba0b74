// Issue #17, "decoding is bounded by what was received", in wasm: the map-delete bomb (one change
// of map deletes without pred, deflated, with zeros after the deflate stream) once trapped the
// module with `unreachable` at 610 KiB and left the Doc unusable. Import and load of it must throw
// a JS Error, and the document must keep working. The bomb is built here as
// crdt_core::fuzzing::bombs builds it (crdt-core/src/fuzzing/bombs.rs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateRawSync } from "node:zlib";

import { Doc } from "../pkg/node/crdt_wasm.js";

/** Appends `v` as an unsigned LEB128 varint. */
function putU64(out, v) {
  let n = BigInt(v);
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
}

/** Appends `v` zigzag-encoded. */
function putI64(out, v) {
  const n = BigInt(v);
  putU64(out, n >= 0n ? n << 1n : ((-n) << 1n) - 1n);
}

/** Appends `bytes` prefixed by their length. */
function putBytes(out, bytes) {
  putU64(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** A run-length column holding `value` `count` times. */
function run(count, value) {
  const col = [];
  putI64(col, count);
  putU64(col, value);
  return col;
}

/** The raw change batch: one change of `n` map deletes on root map "m", key "k", no pred. */
function bombBody(n) {
  const raw = [];
  putU64(raw, 1);
  raw.push(1, 0, 0, 0, 0, 0, 0, 0); // replica 1
  putU64(raw, 1);
  raw.push(0); // a root map
  putBytes(raw, [0x6d]); // "m"
  putU64(raw, 1);
  putBytes(raw, [0x6b]); // "k"
  putU64(raw, 1); // one change
  putU64(raw, n); // of n ops
  for (const col of [run(1, 0), run(1, 0), run(1, 2), run(1, n), run(1, 0), [], []]) putBytes(raw, col);
  const heads = [];
  putI64(heads, -n);
  const headBytes = new Uint8Array(heads.length + n).fill(1);
  headBytes.set(heads);
  putU64(raw, headBytes.length);
  const body = Uint8Array.from(raw);
  const rest = [];
  for (const col of [run(n, 0), run(n, 0), run(n, 0), [], [], [], [], [], [], [], [0x90], [0x90]]) putBytes(rest, col);
  return concat(body, headBytes, Uint8Array.from(rest));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Header `CRDT`, `kind`, format 3, envelope (version 3, deflated), the stream, zeros to `len`. */
/** The format version this build writes (byte 5 of any encoding), so the bomb reaches the body. */
function formatVersion() {
  const doc = Doc.withReplica("5");
  doc.getText("t").insert(0, "x");
  doc.commit();
  return doc.exportSince()[5];
}

function framed(kind, raw, len) {
  const stream = deflateRawSync(raw, { level: 9 });
  const out = new Uint8Array(len);
  const version = formatVersion();
  out.set([0x43, 0x52, 0x44, 0x54, kind, version, version, 1]);
  out.set(stream, 8);
  assert.ok(8 + stream.length <= len);
  return out;
}

const LEN = 610 * 1024;
const N = (LEN - 8) * 64 - 256;

test("importing the map-delete bomb throws an Error and the document keeps working", () => {
  const doc = Doc.withReplica("a");
  doc.getText("t").insert(0, "before");
  doc.commit();
  const before = doc.toJSON();
  const bomb = framed(0x43, bombBody(N), LEN);
  let thrown;
  try {
    doc.import(bomb);
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof Error, `expected an Error, got ${thrown}`);
  assert.ok(!(thrown instanceof WebAssembly.RuntimeError), `wasm trapped: ${thrown.message}`);
  assert.match(thrown.message, /after the last value|deflate stream/);
  assert.deepEqual(doc.toJSON(), before, "a refused import changed nothing");
  doc.getText("t").insert(6, " and after");
  doc.commit();
  assert.equal(doc.getText("t").toString(), "before and after");
  const other = Doc.withReplica("b");
  other.import(doc.exportSince());
  assert.equal(other.getText("t").toString(), "before and after");
});

test("loading a snapshot whose history is the bomb throws an Error, and the module keeps working", () => {
  const changes = bombBody(N);
  const empty = Uint8Array.from([0, 0, 0, 0, 0, ...Array(18).fill(0), 1, 0x90, 1, 0x90]);
  const head = [];
  putU64(head, 1);
  head.push(1, 0, 0, 0, 0, 0, 0, 0);
  putU64(head, N);
  putU64(head, changes.length);
  const tail = [];
  putBytes(tail, empty);
  putU64(tail, 0);
  putU64(tail, 0);
  const snapshot = framed(0x53, concat(Uint8Array.from(head), changes, Uint8Array.from(tail)), LEN);
  let thrown;
  try {
    Doc.load(snapshot);
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof Error, `expected an Error, got ${thrown}`);
  assert.ok(!(thrown instanceof WebAssembly.RuntimeError), `wasm trapped: ${thrown.message}`);
  const fresh = Doc.withReplica("c");
  fresh.getMap("m").set("k", 1);
  fresh.commit();
  assert.deepEqual(Doc.load(fresh.save()).toJSON(), fresh.toJSON());
});
