// Two pages in headless Debian chromium (playwright-core) edit one document through a relay;
// then one page reloads with the relay unreachable and opens the document from IndexedDB.
//
// The relay is the real sync-server binary (tests/support/sync-server.mjs); the test page and the
// package are served by a small static server (servePage) on another loopback port.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

import { SyncServer } from "../support/sync-server.mjs";
import { servePage } from "./support.mjs";

let server, relay, browser, relayUrl, base;

before(async () => {
  relay = await SyncServer.start();
  relayUrl = relay.wsUrl;
  server = await servePage();
  base = server.base;
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

  // The relay names peers by connection, not by replica: look for the state itself.
  await a.evaluate(() => window.app.setPresence({ name: "alice" }));
  await b.waitForFunction(() => Object.values(window.app.presence()).some((p) => p?.name === "alice"), null, { timeout: 10_000 });

  // Reload page a with the relay unreachable: IndexedDB alone restores the document.
  await a.evaluate(() => window.app.flushed());
  await a.close();
  const offline = await open(ca, docId, "ws://127.0.0.1:9/");
  assert.equal(await textOf(offline), "hello 👋!");
  assert.notEqual(await offline.evaluate(() => window.app.statuses.at(-1)), "synced");
  await ca.close();
  await cb.close();
});
