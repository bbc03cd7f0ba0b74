// Rich text: replays an editing trace (default traces/automerge-paper.json.gz, 259,778 edits)
// with a formatting mark every 100 edits, then reads the final document as a delta, through the
// JS APIs of crdt-wasm, Yjs and Loro (loro-crdt), each in a fresh Node process, and prints one
// Markdown table: time to apply the trace and its marks, time of one toDelta (after a forced
// garbage collection, so that the replay's garbage is not in it), the number of runs
// it returned, a hash of the delta (equal hashes: the libraries agree on every run and its
// formatting), and a check that the plain text ends at the trace's endContent.
//
//   node wasm/bench/marks.mjs [trace.json.gz] [--quick] [--only NAME,...]
//
// --quick replays only the first 20,000 edits (a few seconds in all; what CI-like runs use).
// NAME is a row's name as printed (e.g. --only "crdt-wasm,crdt-wasm import+listener").
// Every library gets the same marks: after every 100th edit, the key alternates between "bold"
// and "italic" (value true), on the 12 characters ending 2 before the edit's position (so that
// typing goes on outside the new mark).
// Both keys expand after their end in all three (crdt-wasm's default, Loro's configTextStyle
// "after", Yjs's formatting attributes), and one commit/transaction per trace transaction.
//
// crdt-wasm has three more rows, for what events cost (nothing is built without a listener):
// "crdt-wasm+listener" is the same replay with a `subscribe` listener (an editor's path: every
// commit describes its edits, inserted text with its formatting); "crdt-wasm import" and
// "crdt-wasm import+listener" time one `import` of the whole replayed history (every change and
// mark in one batch, exported by another process first, not timed) into a fresh document,
// without and with a listener.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const libraries = ["crdt-wasm", "crdt-wasm+listener", "crdt-wasm import", "crdt-wasm import+listener", "yjs", "loro"];
const QUICK_EDITS = 20_000;
const MARK_EVERY = 100;
const MARK_LEN = 12;

/** Calls `edit(pos, del, ins)` per patch and `mark(start, end, key)` after every 100th. */
function replayTrace(trace, limit, edit, mark, commit) {
  let n = 0;
  let len = 0;
  for (const txn of trace.txns) {
    for (const [pos, del, ins] of txn.patches) {
      if (n === limit) return;
      edit(pos, del, ins);
      len += ins.length - del;
      n += 1;
      if (n % MARK_EVERY === 0 && len > 0) {
        // The 12 characters ending 2 before the edit: typing goes on outside the mark.
        const end = Math.min(Math.max(pos - 2, 1), len);
        const start = Math.max(0, end - MARK_LEN);
        mark(start, end, (n / MARK_EVERY) % 2 === 0 ? "bold" : "italic");
      }
    }
    commit();
  }
}

/** The export file of the import rows (set by the child's arguments). */
let exported = "";

/** Replays the trace through crdt-wasm and writes its whole history, in one export, to `out`. */
async function exportHistory(tracePath, limit, out) {
  const { Doc } = await import("../pkg/node/crdt_wasm.js");
  const doc = new Doc();
  const text = doc.getText("text");
  replayTrace(
    loadTrace(tracePath),
    limit,
    (pos, del, ins) => {
      if (del > 0) text.delete(pos, del);
      if (ins) text.insert(pos, ins);
    },
    (start, end, key) => text.mark(start, end, key, true),
    () => doc.commit(),
  );
  writeFileSync(out, doc.exportSince(undefined));
}

/** Patches seen by the listener of the rows that have one (reported, so that it is not idle). */
let patchesSeen = 0;
function countPatches(event) {
  patchesSeen += event.patches.length;
}

/** Per library: run(trace, limit) -> { text(), toDelta() }, or { timed() } when only timed()
 * (which returns { text(), toDelta() }) is to be timed. */
async function library(name) {
  switch (name) {
    case "crdt-wasm":
    case "crdt-wasm+listener": {
      const { Doc } = await import("../pkg/node/crdt_wasm.js");
      return (trace, limit) => {
        const doc = new Doc();
        if (name === "crdt-wasm+listener") doc.subscribe(countPatches);
        const text = doc.getText("text");
        replayTrace(
          trace,
          limit,
          (pos, del, ins) => {
            if (del > 0) text.delete(pos, del);
            if (ins) text.insert(pos, ins);
          },
          (start, end, key) => text.mark(start, end, key, true),
          () => doc.commit(),
        );
        doc.commit();
        return { text: () => text.toString(), toDelta: () => text.toDelta() };
      };
    }
    case "crdt-wasm import":
    case "crdt-wasm import+listener": {
      const { Doc } = await import("../pkg/node/crdt_wasm.js");
      // The history another process exported (a fresh wasm heap, as a client that loads it).
      return () => ({
        timed: () => {
          const doc = new Doc();
          if (name === "crdt-wasm import+listener") doc.subscribe(countPatches);
          doc.import(readFileSync(exported));
          const imported = doc.getText("text");
          return { text: () => imported.toString(), toDelta: () => imported.toDelta() };
        },
      });
    }
    case "yjs": {
      const Y = await import("yjs");
      return (trace, limit) => {
        const doc = new Y.Doc();
        const text = doc.getText("text");
        let ops = [];
        replayTrace(
          trace,
          limit,
          (pos, del, ins) => ops.push(() => {
            if (del > 0) text.delete(pos, del);
            if (ins) text.insert(pos, ins);
          }),
          (start, end, key) => ops.push(() => text.format(start, end - start, { [key]: true })),
          () => {
            doc.transact(() => ops.forEach((op) => op()));
            ops = [];
          },
        );
        doc.transact(() => ops.forEach((op) => op()));
        return { text: () => text.toString(), toDelta: () => text.toDelta() };
      };
    }
    case "loro": {
      const { LoroDoc } = await import("loro-crdt");
      return (trace, limit) => {
        const doc = new LoroDoc();
        doc.setPeerId(1n);
        doc.configTextStyle({ bold: { expand: "after" }, italic: { expand: "after" } });
        const text = doc.getText("text");
        replayTrace(
          trace,
          limit,
          (pos, del, ins) => {
            if (del > 0) text.delete(pos, del);
            if (ins) text.insert(pos, ins);
          },
          (start, end, key) => text.mark({ start, end }, key, true),
          () => doc.commit(),
        );
        doc.commit();
        return { text: () => text.toString(), toDelta: () => text.toDelta() };
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

/** A short hash of a delta (attributes in key order), to see that the libraries agree. */
function deltaHash(delta) {
  const canonical = JSON.stringify(delta.map((r) => [r.insert, Object.entries(r.attributes ?? {}).sort()]));
  let h = 0x811c9dc5;
  for (let i = 0; i < canonical.length; i++) h = Math.imul(h ^ canonical.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** The child: one replay and one toDelta, printed as a JSON line. */
async function child(name, tracePath, limit) {
  // The import rows load the trace only after the timed part: an application importing a
  // history does not hold a parsed trace, and V8 collecting that heap while the import grows
  // the wasm memory would dominate the figure.
  const importing = name.startsWith("crdt-wasm import");
  let trace = importing ? null : loadTrace(tracePath);
  const run = await library(name);
  let start = process.hrtime.bigint();
  let doc = run(trace, limit);
  if (doc.timed) {
    globalThis.gc?.();
    start = process.hrtime.bigint();
    doc = doc.timed();
  }
  const applyMs = Number(process.hrtime.bigint() - start) / 1e6;
  // The replay's garbage is collected first, so that toDelta is timed without it.
  globalThis.gc?.();
  const deltaStart = process.hrtime.bigint();
  const delta = doc.toDelta();
  const deltaMs = Number(process.hrtime.bigint() - deltaStart) / 1e6;
  trace ??= loadTrace(tracePath);
  const correct = limit === Infinity ? doc.text() === trace.endContent : delta.map((r) => r.insert).join("") === doc.text();
  console.log(JSON.stringify({ name, applyMs, deltaMs, runs: delta.length, chars: doc.text().length, correct, hash: deltaHash(delta), patchesSeen }));
}

function driver(args) {
  const onlyAt = args.indexOf("--only");
  const tracePath = args.find((a, i) => !a.startsWith("--") && i !== onlyAt + 1) ??
    fileURLToPath(new URL("../../traces/automerge-paper.json.gz", import.meta.url));
  const only = onlyAt >= 0 ? args[onlyAt + 1].split(",") : libraries;
  const limit = args.includes("--quick") ? QUICK_EDITS : Infinity;
  console.log(`trace ${tracePath}: ${limit === Infinity ? "all" : limit} edits, a mark every ${MARK_EVERY}; ` +
    `node ${process.version}; a fresh process per row`);
  console.log("| library | apply trace + marks ms | toDelta ms | runs | chars | delta hash | correct | patches seen |");
  console.log("|---|---:|---:|---:|---:|---|---|---:|");
  const self = fileURLToPath(import.meta.url);
  const scratch = mkdtempSync(join(tmpdir(), "marks-bench-"));
  const history = join(scratch, "history.bin");
  if (only.some((name) => name.startsWith("crdt-wasm import"))) {
    const out = spawnSync(process.execPath, [self, "--export", tracePath, String(limit), history], { encoding: "utf8" });
    if (out.status !== 0) throw new Error(`export failed: ${out.stderr}`);
  }
  for (const name of only) {
    const out = spawnSync(process.execPath, ["--expose-gc", self, "--child", name, tracePath, String(limit), history],
      { encoding: "utf8", maxBuffer: 1 << 24 });
    if (out.status !== 0) {
      console.log(`| ${name} | failed: ${out.stderr.trim().split("\n").pop()} |`);
      continue;
    }
    const r = JSON.parse(out.stdout.trim().split("\n").pop());
    console.log(`| ${name} | ${r.applyMs.toFixed(0)} | ${r.deltaMs.toFixed(1)} | ${r.runs} | ${r.chars} | ${r.hash} | ${r.correct} | ${r.patchesSeen} |`);
  }
  rmSync(scratch, { recursive: true, force: true });
}

const argv = process.argv.slice(2);
const limitOf = (arg) => (arg === "Infinity" ? Infinity : Number(arg));
if (argv[0] === "--child") {
  const [, name, tracePath, limit, history] = argv;
  exported = history;
  await child(name, tracePath, limitOf(limit));
} else if (argv[0] === "--export") {
  const [, tracePath, limit, out] = argv;
  await exportHistory(tracePath, limitOf(limit), out);
} else {
  driver(argv);
}
