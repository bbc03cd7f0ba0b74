// The example pages open without a network (examples/web/sw.js, the service worker that caches
// the app shell and the wasm package), in headless chromium against the real relay binary:
// - without the worker, a page does not reload offline (`setOffline` cuts loopback too: the
//   page load and the WebSocket both fail with ERR_INTERNET_DISCONNECTED);
// - with it, the editor is closed offline and opened again in the same context (same origin,
//   same IndexedDB): it loads, shows the note from IndexedDB, is edited, comes back online and
//   converges with a second browser; a screenshot of the page reopened and edited offline is
//   saved as a test artifact, target/test-artifacts/editor-reopened-offline.png (or the path in
//   CRDT_OFFLINE_SCREENSHOT);
// - a new build on the relay (a new sw-build.js) replaces the cached one and drops the old cache.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { SyncServer } from "../support/sync-server.mjs";
import { launch, openPage, waitForStatus, TIMEOUT, editorValue as value, waitForEditorValue as waitForValue, caretTo } from "./support.mjs";

const examples = fileURLToPath(new URL("../../../examples/web/", import.meta.url));
let relay, browser;

before(async () => {
  relay = await SyncServer.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await relay?.close();
});

const editorUrl = (server, docId, name) => `${server.httpUrl}editor/?doc=${docId}&name=${name}`;

/** Waits until a service worker controls `page` (it has then cached every file of the build). */
const waitForOfflineReady = (page) =>
  page.waitForFunction(() => document.documentElement.dataset.offline === "ready", null, { timeout: TIMEOUT });

/** Polls `check` (async, in Node) until it returns a truthy value, for at most TIMEOUT. */
async function waitUntil(what, check) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The relay's open WebSocket connections, from its /metrics (read by Node, not a page). */
async function relayConnections(server) {
  const text = await (await fetch(`${server.httpUrl}metrics`)).text();
  return Number(/^sync_connections (\d+)$/m.exec(text)[1]);
}

/** The service worker caches of `page`'s origin: { name: [path, ...] }. */
const cachedFiles = (page) =>
  page.evaluate(async () => {
    const out = {};
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      out[name] = (await cache.keys()).map((r) => new URL(r.url).pathname).sort();
    }
    return out;
  });

test("without a service worker, a page does not reload offline (what the worker fixes)", async () => {
  const context = await browser.newContext({ serviceWorkers: "block" });
  const page = await openPage(context, editorUrl(relay, `no-worker-${Date.now()}`, "Alice"));
  await context.setOffline(true);
  await assert.rejects(page.reload(), /ERR_INTERNET_DISCONNECTED/);
  await context.close();
});

const screenshotPath = process.env.CRDT_OFFLINE_SCREENSHOT ??
  resolve(dirname(fileURLToPath(import.meta.url)), "../../../target/test-artifacts/editor-reopened-offline.png");

test("the editor reopens offline from its service worker, is edited, and converges with a peer online again", async () => {
  const docId = `offline-${Date.now()}`;
  const ca = await browser.newContext({ viewport: { width: 800, height: 500 } });
  const cb = await browser.newContext();
  let a = await openPage(ca, editorUrl(relay, docId, "Alice"));
  await waitForStatus(a, "synced");
  await waitForOfflineReady(a);

  // The worker cached this build, under a cache named after its version, and no relay endpoint.
  const version = await a.evaluate(async () => /"version": "(\w+)"/.exec(await (await fetch("/sw-build.js")).text())[1]);
  await a.evaluate(() => Promise.all(["/healthz", "/metrics"].map((p) => fetch(p))));
  const stored = await cachedFiles(a);
  assert.deepEqual(Object.keys(stored), [`crdt-examples-${version}`]);
  const files = stored[`crdt-examples-${version}`];
  for (const f of ["/editor/index.html", "/editor/editor.js", "/shared.js", "/pkg/crdt_wasm.js", "/pkg/crdt_wasm_bg.wasm", "/todo/index.html"]) {
    assert.ok(files.includes(f), `${f} cached: ${files}`);
  }
  for (const f of ["/healthz", "/metrics", "/sync"]) assert.ok(!files.includes(f), `${f} not cached`);

  await a.locator("#editor .ProseMirror").click();
  await a.keyboard.type("Written online.");
  const b = await openPage(cb, editorUrl(relay, docId, "Bob"));
  await waitForValue(b, "Written online.");
  await a.evaluate(() => window.app.flushed());

  // Alice's browser goes offline and the page is closed; a new page of the same context opens.
  await ca.setOffline(true);
  await waitForStatus(a, "offline");
  await a.close();
  await waitUntil("the relay to see only Bob", async () => (await relayConnections(relay)) === 1);
  a = await ca.newPage();
  a.on("pageerror", (e) => console.error("page error:", e));
  const refused = [];
  a.on("websocket", (ws) => ws.on("socketerror", (e) => refused.push(String(e))));
  await a.goto(editorUrl(relay, docId, "Alice"));
  await a.waitForFunction(() => document.documentElement.dataset.ready === "true", null, { timeout: TIMEOUT });
  assert.equal(await value(a), "Written online.", "the note, from IndexedDB");
  assert.equal(await a.evaluate(() => navigator.serviceWorker.controller !== null), true, "served by the worker");
  // Offline really is offline: the page's WebSocket is refused, the relay still sees only Bob.
  await waitUntil("a refused WebSocket", () => refused.some((e) => e.includes("ERR_INTERNET_DISCONNECTED")));
  assert.equal(await relayConnections(relay), 1);
  assert.notEqual(await a.evaluate(() => window.app.provider.status), "synced");

  // Both edit apart: Alice offline, Bob online.
  await caretTo(a, "end");
  await a.keyboard.type(" Edited on a plane.");
  await caretTo(b, "start");
  await b.keyboard.type("Bob: ");
  assert.equal(await value(a), "Written online. Edited on a plane.");
  assert.equal(await value(b), "Bob: Written online.");
  // The artifact: the page opened and edited with no network at all.
  assert.match(await a.locator("#status").textContent(), /offline/);
  mkdirSync(dirname(screenshotPath), { recursive: true });
  await a.screenshot({ path: screenshotPath });
  const png = readFileSync(screenshotPath);
  assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from("PNG")]);
  console.log(`screenshot: ${screenshotPath}`);

  // Back online: the offline edit reaches Bob, and Bob's reaches Alice.
  await ca.setOffline(false);
  const merged = "Bob: Written online. Edited on a plane.";
  await waitForValue(a, merged);
  await waitForValue(b, merged);
  await waitForStatus(a, "synced");

  await ca.close();
  await cb.close();
});

test("a new build served by the relay replaces the cached one and its cache", async () => {
  // A copy of the pages (the package link followed) that the test can rebuild.
  const dir = mkdtempSync(join(tmpdir(), "crdt-pages-"));
  cpSync(examples, dir, { recursive: true, dereference: true });
  // The build being replaced is an hour old. `Last-Modified` counts whole seconds: a file served
  // and rewritten within one second would revalidate as unchanged (a 304); no real rebuild is
  // that fast, but this test is.
  const hourAgo = new Date(Date.now() - 3_600_000);
  const age = (path) => {
    if (statSync(path).isDirectory()) readdirSync(path).forEach((name) => age(join(path, name)));
    else utimesSync(path, hourAgo, hourAgo);
  };
  age(dir);
  const server = await SyncServer.start(dir);
  const context = await browser.newContext();
  try {
    const url = editorUrl(server, "build", "Alice");
    const page = await openPage(context, url);
    await waitForOfflineReady(page);
    const first = Object.keys(await cachedFiles(page));
    assert.equal(first.length, 1);

    // A new build: a changed style sheet and the build file that wasm/build.sh would write.
    appendFileSync(join(dir, "editor/editor.css"), "\n/* second build */\n");
    const build = readFileSync(join(dir, "sw-build.js"), "utf8");
    writeFileSync(join(dir, "sw-build.js"), build.replace(/"version": "\w+"/, '"version": "second0build"'));

    // The next load checks for a new worker, which installs, takes over and drops the old cache.
    await page.goto(url);
    await page.waitForFunction(async () => {
      const names = await caches.keys();
      return names.length === 1 && names[0] === "crdt-examples-second0build";
    }, null, { timeout: TIMEOUT, polling: 50 });

    // Offline, the new build is what opens.
    await context.setOffline(true);
    await page.goto(url);
    await page.waitForFunction(() => document.documentElement.dataset.ready === "true", null, { timeout: TIMEOUT });
    const css = await page.evaluate(async () => (await fetch("editor.css")).text());
    assert.match(css, /second build/);
  } finally {
    await context.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
