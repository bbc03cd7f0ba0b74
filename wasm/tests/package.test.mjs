// The npm package as a user gets it: `npm pack` of wasm/pkg (as build.sh writes it) gives a
// tarball that holds only what a user needs, installs into a scratch project with no network
// (the package has no runtime dependencies), works from Node by its name and subpaths, and
// type-checks with TypeScript through its `exports`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = fileURLToPath(new URL("../pkg/", import.meta.url));
const tsc = fileURLToPath(new URL("../node_modules/typescript/bin/tsc", import.meta.url));
const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));

/** Every file the tarball may and must hold: the glue, the .wasm, the JS, their types. */
const EXPECTED_FILES = [
  "LICENSE-APACHE",
  "LICENSE-MIT",
  "README.md",
  "node/crdt_wasm.js",
  "node/provider.js",
  "package.json",
  "web/broadcast.d.ts",
  "web/broadcast.js",
  "web/codemirror.d.ts",
  "web/codemirror.js",
  "web/crdt_wasm.d.ts",
  "web/crdt_wasm.js",
  "web/crdt_wasm_bg.wasm",
  "web/idb.d.ts",
  "web/idb.js",
  "web/prosemirror-text.js",
  "web/prosemirror.d.ts",
  "web/prosemirror.js",
  "web/provider.d.ts",
  "web/provider.js",
  "web/webrtc.d.ts",
  "web/webrtc.js",
];

let work; // temp dir: the tarball, an empty npm cache, the scratch project
let project;
let packed; // npm pack's JSON report of the tarball

/** Runs `cmd args` in `cwd` with an npm cache of its own (so nothing comes from a warm cache). */
function run(cmd, args, cwd) {
  return execFileSync(cmd, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, npm_config_cache: join(work, "npm-cache"), npm_config_update_notifier: "false" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Writes `files` ({ relative path: text }) into the scratch project. */
function writeProject(files) {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(project, name), text);
}

before(() => {
  work = mkdtempSync(join(tmpdir(), "crdt-sync-pack-"));
  project = join(work, "project");
  mkdirSync(project);
  [packed] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], pkgDir));
  writeProject({
    "package.json": JSON.stringify({ name: "scratch", version: "1.0.0", private: true, type: "module" }),
  });
  run("npm", ["install", "--offline", "--no-audit", "--no-fund", join(work, packed.filename)], project);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test("the package has a name, the workspace's version, a licence and no runtime dependencies", () => {
  const cargo = readFileSync(new URL("../../Cargo.toml", import.meta.url), "utf8");
  const version = /^\[workspace\.package\][^[]*?^version = "([^"]+)"/m.exec(cargo)[1];
  assert.equal(manifest.name, "crdt-sync");
  assert.equal(manifest.version, version);
  assert.equal(manifest.license, "MIT OR Apache-2.0");
  assert.equal(manifest.type, "module");
  for (const field of ["dependencies", "optionalDependencies", "bundleDependencies"]) {
    assert.equal(manifest[field], undefined, `package.json has ${field}`);
  }
  // The editor libraries are peers of their bindings only, and optional: the core needs none.
  for (const peer of Object.keys(manifest.peerDependencies ?? {})) {
    assert.ok(peer.startsWith("@codemirror/") || peer.startsWith("prosemirror-"), `unexpected peer dependency ${peer}`);
    assert.equal(manifest.peerDependenciesMeta?.[peer]?.optional, true, `${peer} is not optional`);
  }
  assert.equal(packed.name, "crdt-sync");
  assert.equal(packed.version, version);
});

test("the tarball holds exactly the files a user needs", () => {
  const files = packed.files.map((f) => f.path).sort();
  assert.deepEqual(files, EXPECTED_FILES);
});

test("every export and its types point at a file in the tarball", () => {
  const shipped = new Set(EXPECTED_FILES);
  const targets = (entry) => (typeof entry === "string" ? [entry] : Object.values(entry).flatMap(targets));
  for (const [subpath, entry] of Object.entries(manifest.exports)) {
    for (const target of targets(entry)) {
      assert.ok(shipped.has(target.replace(/^\.\//, "")), `${subpath} -> ${target} is not in the tarball`);
    }
    if (subpath.endsWith(".wasm") || subpath === "./package.json") continue;
    assert.ok(entry.types, `${subpath} has no types`);
    assert.ok(entry.types === Object.values(entry)[0], `${subpath}: "types" must come first`);
  }
});

test("installed by name, it edits, exports and imports a document in Node", () => {
  writeProject({
    "main.mjs": `
      import init, { Doc } from "crdt-sync";
      await init(); // the browser's call, a no-op in Node: one piece of code runs in both
      const a = new Doc();
      const text = a.getText("body");
      text.insert(0, "hello world");
      text.delete(5, 6);
      text.insert(5, ", 👋");
      a.getMap("meta").set("title", "notes");
      a.commit();
      const b = new Doc();
      const result = b.import(a.exportSince(b.version()));
      console.log(JSON.stringify({
        text: b.getText("body").toString(),
        title: b.getMap("meta").get("title"),
        same: JSON.stringify(b.toJSON()) === JSON.stringify(a.toJSON()),
        result,
      }));
    `,
  });
  const out = JSON.parse(run("node", ["main.mjs"], project));
  assert.equal(out.text, "hello, 👋");
  assert.equal(out.title, "notes");
  assert.ok(out.same, "the two documents' JSON differ");
  assert.equal(out.result.pending, 0);
  assert.ok(out.result.applied > 0);
});

test("the subpaths load, and the provider drives a Doc of the main entry (one wasm instance)", () => {
  writeProject({
    "provider.mjs": `
      import { Doc, describeFrame } from "crdt-sync";
      import { WebSocketProvider, SUBPROTOCOL } from "crdt-sync/provider";
      import { IndexedDBStore } from "crdt-sync/idb";
      import { TabChannel } from "crdt-sync/broadcast";
      // A socket that opens at once and keeps what is sent: the provider's Hello is built by its
      // SyncSession from the Doc, which fails if the two came from different wasm instances.
      class FakeSocket {
        constructor() {
          this.readyState = 0;
          this.sent = [];
          FakeSocket.last = this;
          setTimeout(() => { this.readyState = 1; this.onopen?.(); });
        }
        send(frame) { this.sent.push(new Uint8Array(frame)); }
        close() { this.readyState = 3; }
      }
      const doc = new Doc();
      doc.getText("body").insert(0, "hi");
      doc.commit();
      const provider = new WebSocketProvider("ws://127.0.0.1:1/sync", "notes", doc, {
        WebSocket: FakeSocket, broadcast: false,
      });
      const status = await new Promise((resolve) => provider.on("status", resolve));
      const frames = FakeSocket.last.sent.map((f) => describeFrame(f));
      provider.destroy();
      console.log(JSON.stringify({
        status, frames, SUBPROTOCOL,
        kinds: [typeof IndexedDBStore, typeof TabChannel],
      }));
    `,
  });
  const out = JSON.parse(run("node", ["provider.mjs"], project));
  assert.equal(out.status, "connected");
  assert.equal(out.SUBPROTOCOL, "crdt-sync");
  assert.deepEqual(out.kinds, ["function", "function"]);
  assert.ok(out.frames.length >= 1, "the provider sent nothing");
  assert.deepEqual(out.frames[0], { kind: "hello", doc: "notes" });
});

test("CommonJS code can require the package (Node's require of ES modules)", (t) => {
  if (!process.features.require_module) {
    t.skip(`Node ${process.versions.node} has no require(esm)`);
    return;
  }
  writeProject({
    "main.cjs": `
      const { Doc } = require("crdt-sync");
      const doc = new Doc();
      doc.getText("t").insert(0, "from cjs");
      console.log(doc.getText("t").toString());
    `,
  });
  assert.equal(run("node", ["main.cjs"], project).trim(), "from cjs");
});

for (const moduleResolution of ["bundler", "node16"]) {
  test(`TypeScript resolves the types by name (moduleResolution ${moduleResolution})`, () => {
    const dir = join(project, `ts-${moduleResolution}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        target: "es2022",
        module: moduleResolution === "bundler" ? "esnext" : "node16",
        moduleResolution,
        lib: ["es2022", "esnext.disposable", "dom"],
        types: [],
        strict: true,
        noEmit: true,
        skipLibCheck: false,
      },
      files: ["use.ts"],
    }));
    writeFileSync(join(dir, "use.ts"), `
      import init, { Doc, Text, UndoManager, type DeltaRun, type FrameInfo, type TextSelection, type UndoEvent, type HistoryEntry, type Patch } from "crdt-sync";
      import { WebSocketProvider, type ProviderStatus } from "crdt-sync/provider";
      import { IndexedDBStore } from "crdt-sync/idb";
      import { TabChannel } from "crdt-sync/broadcast";
      import { WebRtcProvider, type PeerInfo, type WebRtcStatus } from "crdt-sync/webrtc";

      export function direct(doc: Doc): PeerInfo[] {
        const p2p = new WebRtcProvider("ws://127.0.0.1:8080/sync", "notes", doc, { maxDirectPeers: 2, iceServers: [] });
        const status: WebRtcStatus = p2p.status;
        p2p.on("peers", (peers: PeerInfo[]) => void peers.map((p) => p.direct && p.relay));
        void status;
        return p2p.peers();
      }

      export async function main(): Promise<string> {
        await init();
        const doc = new Doc();
        const text: Text = doc.getText("body");
        text.insert(0, "typed");
        const store = new IndexedDBStore("notes", doc);
        const provider = new WebSocketProvider("ws://127.0.0.1:8080/sync", "notes", doc, { store });
        const status: ProviderStatus = provider.status;
        const tabs: TabChannel | null = null;
        const info: FrameInfo | null = null;
        void tabs; void info;
        const undo = new UndoManager(doc, { captureTimeoutMs: 300, scope: ["body"] });
        undo.subscribe((event: UndoEvent) => void event.canUndo);
        undo.setSelection({ anchor: text.getCursor(0, "after"), head: text.getCursor(5, "before") });
        undo.setSelection(null);
        const undone: boolean = undo.undo() || undo.redo() || new UndoManager(doc).canUndo();
        const restored: TextSelection | undefined = undo.restoredSelection;
        void undone; void restored;
        // @ts-expect-error insert takes (index: number, text: string)
        text.insert("0", 1);
        doc.commit();
        doc.commit({ message: "typed", time: Date.now() });
        const history: HistoryEntry[] = doc.history();
        const past: Doc = doc.viewAt(doc.version());
        const fork: Doc = doc.forkAt({}, "ab");
        const changed: boolean = doc.restore({}, { message: "restore" }) || doc.restore({});
        const patches: Patch[] = doc.diff({}, doc.version());
        void history; void past; void fork; void changed; void patches;
        text.mark(0, 5, "bold", true);
        text.applyDelta([{ retain: 2, attributes: { bold: null } }, { insert: "!", attributes: { italic: true } }]);
        const runs: DeltaRun[] = text.toDelta();
        doc.setMarkExpand("link", "none");
        // @ts-expect-error an expand mode is one of "none" | "before" | "after" | "both"
        doc.setMarkExpand("link", "never");
        return status + text.toString() + runs.length;
      }
    `);
    // The scratch project's package.json says "type": "module", which node16 resolution reads.
    try {
      run(process.execPath, [tsc, "-p", dir], project);
    } catch (e) {
      assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
    }
  });
}

test("the CodeMirror binding's types check against CodeMirror's own (optional peers)", () => {
  const dir = join(project, "ts-codemirror");
  mkdirSync(dir, { recursive: true });
  // CodeMirror is an optional peer: the scratch project does not install it; its types come
  // from the dev tooling's node_modules.
  const modules = fileURLToPath(new URL("../node_modules/", import.meta.url));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      target: "es2022", module: "esnext", moduleResolution: "bundler", strict: true, noEmit: true,
      types: [], lib: ["es2022", "esnext.disposable", "dom"],
      paths: { "@codemirror/*": [`${modules}@codemirror/*`] },
    },
    files: ["use.ts"],
  }));
  writeFileSync(join(dir, "use.ts"), `
    import { Doc } from "crdt-sync";
    import { crdtCollab, remoteChange } from "crdt-sync/codemirror";
    import { WebSocketProvider } from "crdt-sync/provider";
    import { EditorState, type Extension } from "@codemirror/state";

    export function editor(doc: Doc, provider: WebSocketProvider): EditorState {
      const collab: Extension = crdtCollab(doc, "code", { provider, user: { name: "Ada", color: "#4363d8" } });
      const state = EditorState.create({ doc: doc.getText("code").toString(), extensions: [collab] });
      const tagged: boolean | undefined = state.update({ annotations: remoteChange.of(true) }).annotation(remoteChange);
      void tagged;
      // @ts-expect-error the text is named by a string
      crdtCollab(doc, 1);
      return state;
    }
  `);
  try {
    run(process.execPath, [tsc, "-p", dir], project);
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
});

test("the ProseMirror binding's types check against ProseMirror's own (optional peers)", () => {
  const dir = join(project, "ts-prosemirror");
  mkdirSync(dir, { recursive: true });
  const modules = fileURLToPath(new URL("../node_modules/", import.meta.url));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      target: "es2022", module: "esnext", moduleResolution: "bundler", strict: true, noEmit: true,
      types: [], lib: ["es2022", "esnext.disposable", "dom"],
      paths: { "prosemirror-*": [`${modules}prosemirror-*`] },
    },
    files: ["use.ts"],
  }));
  writeFileSync(join(dir, "use.ts"), `
    import { Doc } from "crdt-sync";
    import { crdtCursors, crdtSync, deltaToDoc, docToDelta, schema, selectionAt, type DeltaInsert } from "crdt-sync/prosemirror";
    import { WebSocketProvider } from "crdt-sync/provider";
    import { EditorState } from "prosemirror-state";

    export function editor(doc: Doc, provider: WebSocketProvider): EditorState {
      const state = EditorState.create({
        schema,
        plugins: [crdtSync(doc, "body"), crdtCursors(doc, "body", provider, { name: "Ada", color: "#4363d8" })],
      });
      const delta: DeltaInsert[] = docToDelta(deltaToDoc([{ insert: "hi\\n", attributes: { header: 1 } }]));
      void delta;
      void selectionAt(state, 0);
      // @ts-expect-error the text is named by a string
      crdtSync(doc, 1);
      return state;
    }
  `);
  try {
    run(process.execPath, [tsc, "-p", dir], project);
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
});

test("TypeScript refuses a subpath the package does not export", () => {
  const dir = join(project, "ts-missing");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: { module: "esnext", moduleResolution: "bundler", types: [], noEmit: true, lib: ["es2022", "esnext.disposable", "dom"] },
    files: ["use.ts"],
  }));
  writeFileSync(join(dir, "use.ts"), `import { x } from "crdt-sync/web/crdt_wasm_bg.wasm.d.ts";\nvoid x;\n`);
  assert.throws(() => run(process.execPath, [tsc, "-p", dir], project), (e) => /TS2307/.test(e.stdout));
});
