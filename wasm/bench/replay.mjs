// Replays an editing trace (default traces/automerge-paper.json.gz, 259,778 edits) through the JS
// APIs of crdt-wasm's Doc, Yjs, Loro (loro-crdt) and Automerge, each in a fresh Node process, and
// prints one Markdown table: time, process memory with the document alive, saved bytes, and a
// check that every library ends at the trace's endContent.
//
//   node wasm/bench/replay.mjs [trace.json.gz] [--batch] [--repeat N] [--only NAME,...]
//                              [--automerge-per-txn] [--no-gc]
//
// Modes:
//   default       a commit per trace transaction, what an editor does (crdt-wasm doc.commit(),
//                 one Y.transact, Loro doc.commit() per transaction); Automerge with one
//                 Automerge.change for the whole trace, as its own benchmark does, unless
//                 --automerge-per-txn (one change per transaction: 26 s on sveltecomponent here,
//                 far longer on automerge-paper).
//   --batch       also the whole trace in one commit/transaction, for every library.
//   --repeat N    replays N times in the same process, dropping the document between runs (with
//                 a garbage collection in between), and reports every run: a later run slower
//                 than the first, or memory growing run after run, means a dropped document was
//                 not freed.
//   --no-gc       runs the children without --expose-gc: no collection is forced between runs
//                 or before reading memory, as in an application that never calls gc().
// Memory: the child runs with --expose-gc; after the replay, with the document still referenced,
// it collects garbage and reads process.memoryUsage(): rss (what the OS sees; the wasm linear
// memory of crdt-wasm and Loro is in it and never shrinks), heapUsed + external (the JS heap and
// buffers, wasm memories included). "Δ rss" is rss after the replay minus rss before it (the
// parsed trace is in both).
// The trace's positions count code points; the JS APIs take UTF-16 indices, so a trace with
// characters outside the BMP is refused.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const libraries = ["crdt-wasm", "yjs", "loro", "automerge"];

/** Applies one transaction's patches through `insert(pos, s)` / `delete(pos, n)`. */
function applyPatches(text, patches) {
  for (const [pos, del, ins] of patches) {
    if (del > 0) text.delete(pos, del);
    if (ins) text.insert(pos, ins);
  }
}

/** Per library: replay(trace, batch) -> { doc, text(), save() }. */
async function replayer(name) {
  switch (name) {
    case "crdt-wasm": {
      const { createRequire } = await import("node:module");
      const require = createRequire(import.meta.url);
      const { Doc } = require("../pkg/node/crdt_wasm.js");
      return (trace, batch) => {
        const doc = new Doc();
        const text = doc.getText("text");
        for (const txn of trace.txns) {
          applyPatches(text, txn.patches);
          if (!batch) doc.commit();
        }
        doc.commit();
        return { doc, text: () => text.toString(), save: () => doc.save() };
      };
    }
    case "yjs": {
      const Y = await import("yjs");
      return (trace, batch) => {
        const doc = new Y.Doc();
        const text = doc.getText("text");
        if (batch) {
          doc.transact(() => trace.txns.forEach((txn) => applyPatches(text, txn.patches)));
        } else {
          for (const txn of trace.txns) doc.transact(() => applyPatches(text, txn.patches));
        }
        return { doc, text: () => text.toString(), save: () => Y.encodeStateAsUpdate(doc) };
      };
    }
    case "loro": {
      const { LoroDoc } = await import("loro-crdt");
      return (trace, batch) => {
        const doc = new LoroDoc();
        doc.setPeerId(1n);
        const text = doc.getText("text");
        for (const txn of trace.txns) {
          applyPatches(text, txn.patches);
          if (!batch) doc.commit();
        }
        doc.commit();
        return { doc, text: () => text.toString(), save: () => doc.export({ mode: "snapshot" }) };
      };
    }
    case "automerge": {
      const Automerge = await import("@automerge/automerge");
      return (trace, batch) => {
        let doc = Automerge.from({ text: "" });
        const splice = (d, patches) => {
          for (const [pos, del, ins] of patches) Automerge.splice(d, ["text"], pos, del, ins);
        };
        if (batch) {
          doc = Automerge.change(doc, (d) => trace.txns.forEach((txn) => splice(d, txn.patches)));
        } else {
          for (const txn of trace.txns) doc = Automerge.change(doc, (d) => splice(d, txn.patches));
        }
        return { doc, text: () => doc.text, save: () => Automerge.save(doc) };
      };
    }
    default:
      throw new Error(`unknown library ${name}`);
  }
}

function loadTrace(path) {
  const trace = JSON.parse(gunzipSync(readFileSync(path)));
  const astral = trace.txns.some((t) => t.patches.some(([, , ins]) => /[\u{10000}-\u{10FFFF}]/u.test(ins)));
  if (astral) throw new Error(`${path}: characters outside the BMP; positions would differ`);
  if (trace.startContent) trace.txns.unshift({ patches: [[0, 0, trace.startContent]] });
  return trace;
}

async function collect() {
  if (!globalThis.gc) return;
  globalThis.gc();
  // wasm-bindgen frees a dropped object's wasm memory from a FinalizationRegistry callback,
  // which runs after a collection, on a later turn of the event loop.
  await new Promise((resolve) => setTimeout(resolve, 10));
  globalThis.gc();
}

function memory() {
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external };
}

/** The child: replays `repeat` times and prints one JSON line. */
async function child(name, tracePath, batch, repeat) {
  const trace = loadTrace(tracePath);
  const replay = await replayer(name);
  await collect();
  const before = memory();
  const runs = [];
  for (let i = 0; i < repeat; i++) {
    const start = process.hrtime.bigint();
    let result = replay(trace, batch);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const correct = result.text() === trace.endContent;
    await collect();
    const after = memory();
    const bytes = result.save().length;
    runs.push({ ms, correct, bytes, ...after });
    result = null;
    await collect();
  }
  console.log(JSON.stringify({ name, batch, before, runs }));
}

function mib(bytes) {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** The driver: one child process per library and mode, then the table. */
function driver(args) {
  // The trace is the argument that is neither a flag nor a flag's value (`--only crdt-wasm`
  // names one library: no comma to tell it from a path).
  const flagValue = (i) => i > 0 && ["--repeat", "--only"].includes(args[i - 1]);
  const tracePath = args.find((a, i) => !a.startsWith("--") && !flagValue(i)) ??
    fileURLToPath(new URL("../../traces/automerge-paper.json.gz", import.meta.url));
  const repeatAt = args.indexOf("--repeat");
  const repeat = repeatAt >= 0 ? Number(args[repeatAt + 1]) : 1;
  const onlyAt = args.indexOf("--only");
  const only = onlyAt >= 0 ? args[onlyAt + 1].split(",") : libraries;
  const modes = args.includes("--batch") ? [false, true] : [false];
  // --automerge-per-edit: the flag's earlier name.
  const automergePerTxn = args.includes("--automerge-per-txn") || args.includes("--automerge-per-edit");
  const trace = loadTrace(tracePath);
  const edits = trace.txns.reduce((n, t) => n + t.patches.length, 0);
  console.log(`trace ${tracePath}: ${trace.txns.length} transactions, ${edits} patches; node ${process.version}; ` +
    `a fresh process per row, ${repeat} replay(s) each, ` +
    (args.includes("--no-gc") ? "no forced gc" : "gc forced before each memory reading"));
  console.log("| library | mode | run | ms | rss | Δ rss | heap + external | saved bytes | correct |");
  console.log("|---|---|---:|---:|---:|---:|---:|---:|---|");
  const self = fileURLToPath(import.meta.url);
  for (const mode of modes) {
    for (const name of only) {
      const batch = mode || (name === "automerge" && !automergePerTxn);
      if (batch && !mode && modes.includes(true)) continue;
      const flags = args.includes("--no-gc") ? [] : ["--expose-gc"];
      const out = spawnSync(process.execPath,
        [...flags, self, "--child", name, tracePath, batch ? "batch" : "per-txn", String(repeat)],
        { encoding: "utf8", maxBuffer: 1 << 24 });
      if (out.status !== 0) {
        console.log(`| ${name} | ${batch ? "one commit" : "commit per txn"} | failed: ${out.stderr.trim().split("\n").pop()} |`);
        continue;
      }
      const report = JSON.parse(out.stdout.trim().split("\n").pop());
      report.runs.forEach((r, i) => {
        console.log(`| ${name} | ${batch ? "one commit" : "commit per txn"} | ${i + 1} | ${r.ms.toFixed(0)} | ` +
          `${mib(r.rss)} | ${mib(r.rss - report.before.rss)} | ${mib(r.heap)} | ${r.bytes} | ${r.correct} |`);
      });
    }
  }
}

const argv = process.argv.slice(2);
if (argv[0] === "--child") {
  const [, name, tracePath, mode, repeat] = argv;
  await child(name, tracePath, mode === "batch", Number(repeat));
} else {
  driver(argv);
}
