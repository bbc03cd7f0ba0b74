// Two pages in headless Debian chromium (playwright-core) edit one document through a relay;
// then one page reloads with the relay unreachable and opens the document from IndexedDB.
//
// The relay: $CRDT_RELAY_URL when set (the real sync-server); otherwise the in-process test relay
// of tests/support (same protocol, same SyncSession), started here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";

import * as wasm from "../../pkg/web/crdt_wasm.js";
import { TestRelay } from "../support/relay.mjs";

const here = new URL(".", import.meta.url).pathname;
const pkg = new URL("../../pkg/web/", import.meta.url).pathname;
const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

let server, relay, browser, relayUrl, base;

before(async () => {
  if (process.env.CRDT_RELAY_URL) {
    relayUrl = process.env.CRDT_RELAY_URL;
  } else {
    wasm.initSync({ module: readFileSync(join(pkg, "crdt_wasm_bg.wasm")) });
    relay = await TestRelay.start(wasm);
    relayUrl = relay.url;
  }
  server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const file = path.startsWith("/pkg/") ? join(pkg, normalize(path.slice(5))) : join(here, "page.html");
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-quic"],
  });
});

after(async () => {
  await browser?.close();
  await relay?.close();
  server?.close();
});

async function open(context, docId, relayAt = relayUrl) {
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  await page.goto(`${base}?doc=${encodeURIComponent(docId)}&relay=${encodeURIComponent(relayAt)}`);
  await page.waitForFunction(() => document.title === "ready", null, { timeout: 10_000 });
  return page;
}

const textOf = (page) => page.evaluate(() => window.app.text());

test("two browsers edit one document through the relay; a reload offline restores it from IndexedDB", async () => {
  const docId = `browser/${Date.now()}`;
  // Two contexts: separate storage and no shared BroadcastChannel, as two browsers.
  const [ca, cb] = [await browser.newContext(), await browser.newContext()];
  const a = await open(ca, docId);
  const b = await open(cb, docId);
  await a.waitForFunction(() => window.app.statuses.includes("synced"), null, { timeout: 10_000 });

  await a.evaluate(() => window.app.insert(0, "hello 👋 world"));
  await b.waitForFunction(() => window.app.text() === "hello 👋 world", null, { timeout: 10_000 });
  // UTF-16 indices: delete " world" after the emoji (2 code units), from the other page.
  await b.evaluate(() => window.app.delete(8, 6));
  await b.evaluate(() => window.app.insert(8, "!"));
  await a.waitForFunction(() => window.app.text() === "hello 👋!", null, { timeout: 10_000 });
  assert.equal(await textOf(b), "hello 👋!");
  assert.equal(await a.locator("#editor").inputValue(), "hello 👋!", "the page shows the change");

  await a.evaluate(() => window.app.setPresence({ name: "alice" }));
  const aId = await a.evaluate(() => window.app.replicaId);
  await b.waitForFunction((id) => window.app.presence()[id]?.name === "alice", aId, { timeout: 10_000 });

  // Reload page a with the relay unreachable: IndexedDB alone restores the document.
  await a.evaluate(() => window.app.flushed());
  await a.close();
  const offline = await open(ca, docId, "ws://127.0.0.1:9/");
  assert.equal(await textOf(offline), "hello 👋!");
  assert.notEqual(await offline.evaluate(() => window.app.statuses.at(-1)), "synced");
  await ca.close();
  await cb.close();
});
