// A page in headless chromium syncs through the real relay binary started with --auth-secret:
// its WebSocketProvider sends the token as the subprotocol `token.<JWT>`, the relay selects
// `crdt-sync` and admits it, and no WebSocket URL the browser opens holds the token (URLs are what
// proxies log). A page with a token for another document is refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";

import { SyncServer } from "../support/sync-server.mjs";
import { launch, servePage, TIMEOUT } from "./support.mjs";

const secret = randomBytes(32).toString("hex");
let relay, server, browser;

before(async () => {
  relay = await SyncServer.start(undefined, ["--auth-secret", secret]);
  server = await servePage();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await relay?.close();
  server?.close();
});

const base64url = (bytes) => Buffer.from(bytes).toString("base64url");

/** An HS256 token of the relay's claims, signed with `secret`. */
function sign(claims) {
  const head = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = base64url(JSON.stringify(claims));
  const signature = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${signature}`;
}

/** Opens the test page on `docId` with `token`; returns it and the URLs of its WebSockets. */
async function open(context, docId, token) {
  const page = await context.newPage();
  const sockets = [];
  page.on("websocket", (ws) => sockets.push(ws.url()));
  const query = new URLSearchParams({ doc: docId, relay: relay.wsUrl, token });
  await page.goto(`${server.base}?${query}`);
  await page.waitForFunction(() => document.title === "ready", null, { timeout: TIMEOUT });
  return { page, sockets };
}

test("a page sends its token as a subprotocol, never in the URL, and syncs", async () => {
  const exp = Math.floor(Date.now() / 1000) + 600;
  const token = sign({ doc: "token/*", access: "write", exp });
  const docId = `token/doc-${Date.now()}`;
  const context = await browser.newContext();
  const a = await open(context, docId, token);
  const b = await open(await browser.newContext(), docId, token);
  for (const { page } of [a, b]) {
    await page.waitForFunction(() => window.app.statuses.includes("synced"), null, { timeout: TIMEOUT });
  }
  await a.page.evaluate(() => window.app.insert(0, "through a token"));
  await b.page.waitForFunction(() => window.app.text() === "through a token", null, { timeout: TIMEOUT });
  const urls = [...a.sockets, ...b.sockets];
  assert.ok(urls.length >= 2, `sockets opened: ${urls.length}`);
  for (const url of urls) {
    assert.ok(!url.includes(token) && !url.includes("token="), url);
  }

  // A token for other documents joins nothing: the page never gets to "synced".
  const other = sign({ doc: "elsewhere/*", access: "write", exp });
  const refused = await open(await browser.newContext(), docId, other);
  await refused.page.waitForFunction(() => window.app.statuses.includes("connected"), null, { timeout: TIMEOUT });
  await b.page.evaluate(() => window.app.insert(0, "more "));
  await a.page.waitForFunction(() => window.app.text() === "more through a token", null, { timeout: TIMEOUT });
  assert.equal(await refused.page.evaluate(() => window.app.text()), "");
  assert.ok(!(await refused.page.evaluate(() => window.app.statuses.includes("synced"))));
});
