// Replays traces/automerge-paper.json.gz (259,778 edits) through the JS APIs of crdt-wasm, Yjs
// and Automerge in one run, and prints time, final size of the saved document, and a check that
// every library ends at the trace's endContent.
//
//   node wasm/bench/replay.mjs [trace.json.gz] [--automerge-per-edit]
//
// Two granularities:
//   per-edit: every trace transaction is its own transaction/change (crdt-wasm commit() per edit,
//             Yjs's default of one transaction per call). Automerge only with --automerge-per-edit
//             (one Automerge.change per edit is slow).
//   batch:    the whole trace in one transaction (crdt-wasm one commit, Y.transact, one
//             Automerge.change).
// The trace's positions count code points; this trace has no astral characters, so they equal
// the UTF-16 indices every API here takes.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { createRequire } from "node:module";
import * as Y from "yjs";
import * as Automerge from "@automerge/automerge";

const require = createRequire(import.meta.url);
const { Doc } = require("../pkg/node/crdt_wasm.js");

const args = process.argv.slice(2);
const tracePath = args.find((a) => !a.startsWith("--")) ??
  new URL("../../traces/automerge-paper.json.gz", import.meta.url);
const trace = JSON.parse(gunzipSync(readFileSync(tracePath)));
const edits = trace.txns.flatMap((t) => t.patches);

function time(fn) {
  const start = process.hrtime.bigint();
  const result = fn();
  return [Number(process.hrtime.bigint() - start) / 1e6, result];
}

const runs = {
  "crdt-wasm per-edit"() {
    const doc = new Doc();
    const text = doc.getText("text");
    for (const txn of trace.txns) {
      for (const [pos, del, ins] of txn.patches) {
        if (del > 0) text.delete(pos, del);
        if (ins) text.insert(pos, ins);
      }
      doc.commit();
    }
    return { text: text.toString(), bytes: doc.save().length };
  },
  "crdt-wasm batch"() {
    const doc = new Doc();
    const text = doc.getText("text");
    for (const [pos, del, ins] of edits) {
      if (del > 0) text.delete(pos, del);
      if (ins) text.insert(pos, ins);
    }
    doc.commit();
    return { text: text.toString(), bytes: doc.save().length };
  },
  "yjs per-edit"() {
    const doc = new Y.Doc();
    const text = doc.getText("text");
    for (const txn of trace.txns) {
      doc.transact(() => {
        for (const [pos, del, ins] of txn.patches) {
          if (del > 0) text.delete(pos, del);
          if (ins) text.insert(pos, ins);
        }
      });
    }
    return { text: text.toString(), bytes: Y.encodeStateAsUpdate(doc).length };
  },
  "yjs batch"() {
    const doc = new Y.Doc();
    const text = doc.getText("text");
    doc.transact(() => {
      for (const [pos, del, ins] of edits) {
        if (del > 0) text.delete(pos, del);
        if (ins) text.insert(pos, ins);
      }
    });
    return { text: text.toString(), bytes: Y.encodeStateAsUpdate(doc).length };
  },
  "automerge batch"() {
    let doc = Automerge.from({ text: "" });
    doc = Automerge.change(doc, (d) => {
      for (const [pos, del, ins] of edits) Automerge.splice(d, ["text"], pos, del, ins);
    });
    return { text: doc.text, bytes: Automerge.save(doc).length };
  },
};
if (args.includes("--automerge-per-edit")) {
  runs["automerge per-edit"] = () => {
    let doc = Automerge.from({ text: "" });
    for (const txn of trace.txns) {
      doc = Automerge.change(doc, (d) => {
        for (const [pos, del, ins] of txn.patches) Automerge.splice(d, ["text"], pos, del, ins);
      });
    }
    return { text: doc.text, bytes: Automerge.save(doc).length };
  };
}

console.log(`trace: ${trace.txns.length} transactions, ${edits.length} patches; node ${process.version}`);
console.log("| run | ms | saved bytes | correct |");
console.log("|---|---:|---:|---|");
for (const [name, run] of Object.entries(runs)) {
  const [ms, { text, bytes }] = time(run);
  console.log(`| ${name} | ${ms.toFixed(0)} | ${bytes} | ${text === trace.endContent} |`);
}
