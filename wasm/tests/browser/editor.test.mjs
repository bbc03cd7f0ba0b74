// The editor example (examples/web/editor) in headless chromium against the real relay binary:
// two browsers (separate contexts: separate storage, no shared BroadcastChannel) type into one
// note and converge, see each other's name and caret, keep their own caret when the other types
// before it; with the relay stopped both edit offline and merge when it is back; a reload shows
// everything, even with the relay's WebSocket unreachable (IndexedDB); and saves a screenshot of
// two converged peers side by side as a test artifact: target/test-artifacts/editor-two-peers.png,
// or the path in CRDT_SCREENSHOT.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { SyncServer } from "../support/sync-server.mjs";
import { launch, openPage, waitForStatus, TIMEOUT } from "./support.mjs";

let relay, browser;

before(async () => {
  relay = await SyncServer.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await relay?.close();
});

const value = (page) => page.locator("#editor").inputValue();
const waitForValue = (page, want) =>
  page.waitForFunction((w) => document.getElementById("editor").value === w, want, { timeout: TIMEOUT });

test("two browsers edit one note live, offline edits merge, a reload keeps everything", async () => {
  const docId = `editor-${Date.now()}`;
  const url = (name) => `${relay.httpUrl}editor/?doc=${docId}&name=${name}`;
  const [ca, cb] = [await browser.newContext(), await browser.newContext()];
  const a = await openPage(ca, url("Alice"));
  const b = await openPage(cb, url("Bob"));
  await waitForStatus(a, "synced");
  await waitForStatus(b, "synced");
  assert.match(await a.locator("#status").textContent(), /in sync/);

  // Typing in one window shows up in the other (UTF-16: an emoji is two code units).
  await a.locator("#editor").click();
  await a.keyboard.type("Hello 👋 from Alice.");
  await waitForValue(b, "Hello 👋 from Alice.");
  await b.locator("#editor").click();
  await b.keyboard.press("End");
  await b.keyboard.type(" Bob here.");
  await waitForValue(a, "Hello 👋 from Alice. Bob here.");
  assert.equal(await a.evaluate(() => window.app.text.toString()), "Hello 👋 from Alice. Bob here.");

  // Presence: each sees the other's name, and a caret where the other's caret is.
  await b.waitForFunction(() => document.querySelector('#overlay .caret[data-name="Alice"]') !== null, null, { timeout: TIMEOUT });
  await a.waitForFunction(() => document.querySelector("#peers")?.textContent.includes("Bob"), null, { timeout: TIMEOUT });
  // Bob's caret is at the end (after "here."): Alice sees it there.
  const end = (await value(a)).length;
  await a.waitForFunction((n) => window.app.remoteCursors().some((c) => c.name === "Bob" && c.head === n), end, { timeout: TIMEOUT });

  // Alice types before Bob's caret: Bob's caret moves with his text, it does not stay at the offset.
  const bobCaret = await b.evaluate(() => document.getElementById("editor").selectionStart);
  assert.equal(bobCaret, end);
  await a.keyboard.press("Home");
  await a.keyboard.type(">> ");
  await waitForValue(b, ">> Hello 👋 from Alice. Bob here.");
  assert.equal(await b.evaluate(() => document.getElementById("editor").selectionStart), end + 3);
  await b.keyboard.type("!");
  await waitForValue(a, ">> Hello 👋 from Alice. Bob here.!");

  // Offline: the relay goes away; both keep editing; it comes back and they converge.
  await relay.stop();
  await waitForStatus(a, "offline");
  await waitForStatus(b, "offline");
  assert.match(await a.locator("#status").textContent(), /offline/);
  await a.keyboard.press("End");
  await a.keyboard.press("Enter");
  await a.keyboard.type("Alice, offline.");
  await b.keyboard.press("Home");
  await b.keyboard.type("[Bob offline] ");
  await relay.restart();
  const merged = "[Bob offline] >> Hello 👋 from Alice. Bob here.!\nAlice, offline.";
  await waitForValue(a, merged);
  await waitForValue(b, merged);
  await waitForStatus(a, "synced");
  await waitForStatus(b, "synced");

  // A reload keeps everything: with the relay's WebSocket unreachable (`?relay=` pointing
  // nowhere; the page itself is still served) the note comes from IndexedDB alone.
  await a.evaluate(() => window.app.flushed());
  await a.goto(`${url("Alice")}&relay=${encodeURIComponent("ws://127.0.0.1:9/sync")}`);
  await a.waitForFunction(() => document.documentElement.dataset.ready === "true", null, { timeout: TIMEOUT });
  assert.equal(await value(a), merged);
  assert.notEqual(await a.evaluate(() => window.app.provider.status), "synced");
  // And a plain reload, online, shows the same.
  await a.goto(url("Alice"));
  await a.waitForFunction(() => document.documentElement.dataset.ready === "true", null, { timeout: TIMEOUT });
  assert.equal(await value(a), merged);
  await waitForStatus(a, "synced");
  await ca.close();
  await cb.close();
});

test("a browser that alone goes offline catches up when it is back", async () => {
  const docId = `editor-offline-${Date.now()}`;
  const url = (name) => `${relay.httpUrl}editor/?doc=${docId}&name=${name}`;
  const [ca, cb] = [await browser.newContext(), await browser.newContext()];
  const a = await openPage(ca, url("Alice"));
  const b = await openPage(cb, url("Bob"));
  await waitForStatus(a, "synced");
  await waitForStatus(b, "synced");
  await a.locator("#editor").click();
  await a.keyboard.type("shared line");
  await waitForValue(b, "shared line");

  // Only Alice's browser loses the network; Bob keeps editing through the relay meanwhile.
  // Chromium's offline emulation leaves an open WebSocket alone, as a real loss would until the
  // relay's ping timeout; the provider drops it on the browser's "offline" event.
  await a.evaluate(() => {
    window.statuses = [];
    window.app.provider.on("status", (s) => window.statuses.push(s));
  });
  await ca.setOffline(true);
  await a.waitForFunction(() => window.statuses.includes("offline"), null, { timeout: TIMEOUT });
  await a.keyboard.press("End");
  await a.keyboard.type(" + Alice offline");
  await b.locator("#editor").click();
  await b.keyboard.press("Home");
  await b.keyboard.type("Bob online: ");
  assert.equal(await value(a), "shared line + Alice offline");
  assert.equal(await value(b), "Bob online: shared line");
  await ca.setOffline(false);
  const merged = "Bob online: shared line + Alice offline";
  await waitForValue(a, merged);
  await waitForValue(b, merged);
  await ca.close();
  await cb.close();
});

const screenshotPath = process.env.CRDT_SCREENSHOT ??
  resolve(dirname(fileURLToPath(import.meta.url)), "../../../target/test-artifacts/editor-two-peers.png");

test("two converged peers side by side, saved as a screenshot", async () => {
  const docId = "shopping"; // a fresh relay database and fresh browser storage per run
  const context = await browser.newContext({ viewport: { width: 1000, height: 600 } });
  const page = await context.newPage();
  // Same origin as the frames (an about:blank parent would make them third-party frames).
  await page.goto(`${relay.httpUrl}index.html`);
  const frame = (name, color) =>
    `<iframe src="${relay.httpUrl}editor/?doc=${docId}&name=${name}&color=${encodeURIComponent(color)}" style="width:490px;height:584px;border:1px solid #ccc"></iframe>`;
  await page.setContent(`<body style="margin:8px;display:flex;gap:8px">${frame("Ada", "#e6194b")}${frame("Grace", "#4363d8")}</body>`);
  const frameOf = async (name) => {
    for (;;) {
      const f = page.frames().find((fr) => fr.url().includes(`name=${name}`));
      if (f) {
        await f.waitForFunction(() => window.app?.provider.status === "synced", null, { timeout: TIMEOUT });
        return f;
      }
      await page.waitForEvent("frameattached", { timeout: TIMEOUT });
    }
  };
  const [left, right] = [await frameOf("Ada"), await frameOf("Grace")];
  await left.locator("#editor").click();
  await page.keyboard.type("Shopping for the weekend\n- bread\n- cheese\n");
  await right.waitForFunction(() => document.getElementById("editor").value.endsWith("cheese\n"), null, { timeout: TIMEOUT });
  await right.locator("#editor").click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type("- apples (Grace)");
  await left.waitForFunction(() => document.getElementById("editor").value.endsWith("(Grace)"), null, { timeout: TIMEOUT });
  // Ada selects "cheese".
  await left.evaluate(() => {
    const e = document.getElementById("editor");
    const at = e.value.indexOf("cheese");
    e.focus();
    e.setSelectionRange(at, at + 6);
    e.dispatchEvent(new Event("select"));
  });
  await left.waitForFunction(() => window.app.remoteCursors().some((c) => c.name === "Grace"), null, { timeout: TIMEOUT });
  await right.waitForFunction(() => window.app.remoteCursors().some((c) => c.name === "Ada" && c.anchor !== c.head), null, { timeout: TIMEOUT });
  const want = "Shopping for the weekend\n- bread\n- cheese\n- apples (Grace)";
  for (const f of [left, right]) {
    assert.equal(await f.locator("#editor").inputValue(), want);
    await f.evaluate(() => window.scrollTo(0, 0));
  }
  mkdirSync(dirname(screenshotPath), { recursive: true });
  await page.screenshot({ path: screenshotPath });
  const png = readFileSync(screenshotPath);
  assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from("PNG")]);
  assert.equal(png.readUInt32BE(16), 1000, "width of the viewport");
  console.log(`screenshot: ${screenshotPath}`);
  await context.close();
});
