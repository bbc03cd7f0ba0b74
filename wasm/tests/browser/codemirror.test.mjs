// The code page (examples/web/code: CodeMirror 6 through the package's binding,
// crdt-sync/codemirror) in headless chromium against the real relay binary: two browsers
// (separate contexts) type concurrently and end identical, in the editors and in the documents;
// a caret stays on its character while the other types before it; remote carets and names are
// drawn; with the relay stopped both edit offline and merge when it is back; and a screenshot of
// two peers with their carets is saved as an artifact:
// target/test-artifacts/codemirror-two-peers.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
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

/** What the page's editor shows. */
const shown = (page) => page.evaluate(() => window.app.view.state.doc.toString());
/** What the page's document holds. */
const held = (page) => page.evaluate(() => window.app.text.toString());
const waitForShown = (page, want) =>
  page.waitForFunction((w) => window.app.view.state.doc.toString() === w, want, { timeout: TIMEOUT });
/** Waits until both pages show the same text and it satisfies `check`; returns it. */
async function waitForSame(a, b, check) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const [x, y] = [await shown(a), await shown(b)];
    if (x === y && check(x)) return x;
    if (Date.now() > deadline) assert.fail(`pages differ or incomplete:\n${JSON.stringify(x)}\n${JSON.stringify(y)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Types `text` at the end of the page's editor (Escape first: no completion takes a key). */
async function typeAtEnd(page, text) {
  await page.locator(".cm-content").click();
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+End");
  await page.keyboard.type(text);
}

async function typeAtStart(page, text) {
  await page.locator(".cm-content").click();
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+Home");
  await page.keyboard.type(text);
}

test("two CodeMirror editors edit one text live and concurrently, carets shown, offline edits merge", async () => {
  const docId = `code-${Date.now()}`;
  const url = (name, color) => `${relay.httpUrl}code/?doc=${docId}&name=${name}&color=${encodeURIComponent(color)}`;
  const [ca, cb] = [await browser.newContext(), await browser.newContext()];
  const a = await openPage(ca, url("Alice", "#e6194b"));
  const b = await openPage(cb, url("Bob", "#4363d8"));
  await waitForStatus(a, "synced");
  await waitForStatus(b, "synced");

  // Typing in one editor shows up in the other (UTF-16: an emoji is two code units).
  await typeAtEnd(a, "let greeting = 'hi 👋';");
  await waitForShown(b, "let greeting = 'hi 👋';");
  assert.equal(await held(b), "let greeting = 'hi 👋';");

  // Both type at once, at opposite ends, keystroke by keystroke: they end identical.
  await Promise.all([typeAtEnd(a, " // alice was here"), typeAtStart(b, "/* bob */ ")]);
  const both = await waitForSame(a, b, (t) => t.includes("alice was here") && t.includes("/* bob */"));
  assert.equal(both, "/* bob */ let greeting = 'hi 👋'; // alice was here");
  assert.equal(await held(a), both);
  assert.equal(await held(b), both);

  // Bob's caret is after "/* bob */ "; Alice types before it: it moves with his text.
  const bobCaret = await b.evaluate(() => window.app.view.state.selection.main.head);
  assert.equal(bobCaret, "/* bob */ ".length);
  await typeAtStart(a, ">> ");
  await waitForShown(b, `>> ${both}`);
  assert.equal(await b.evaluate(() => window.app.view.state.selection.main.head), bobCaret + 3);

  // Each sees the other's caret, with the name, at the other's position.
  await a.waitForFunction(() => document.querySelector('.cm-crdt-caret[data-name="Bob"]') !== null, null, { timeout: TIMEOUT });
  await b.waitForFunction(() => document.querySelector('.cm-crdt-caret[data-name="Alice"]') !== null, null, { timeout: TIMEOUT });
  // Alice's caret is drawn after her ">> " once her presence (sent at most every 40 ms) arrives.
  await b.waitForFunction(() => {
    const caret = document.querySelector('.cm-crdt-caret[data-name="Alice"]');
    return caret !== null && window.app.view.posAtDOM(caret) === 3;
  }, null, { timeout: TIMEOUT });
  await b.keyboard.type("!");
  await waitForShown(a, `>> /* bob */ !${both.slice("/* bob */ ".length)}`);

  // A peer whose name and colour would smuggle markup and CSS into the others' pages (its page
  // publishes them as its presence) is drawn inertly.
  const cc = await browser.newContext();
  const evil = await openPage(cc, `${relay.httpUrl}code/?doc=${docId}&name=${encodeURIComponent("<img src=x onerror=alert(1)>")}` +
    `&color=${encodeURIComponent("red; background-image: url(http://127.0.0.1:9/x)")}`);
  await evil.waitForFunction(() => window.app.view.state.doc.length > 2, null, { timeout: TIMEOUT });
  await evil.evaluate(() => window.app.view.dispatch({ selection: { anchor: 0, head: 2 } }));
  // Read in the same call that finds it: the caret widget is redrawn as presence and text change.
  const hostile = await (await a.waitForFunction(() => {
    const caret = [...document.querySelectorAll(".cm-crdt-caret")].find((c) => c.dataset.name.startsWith("<img"));
    return caret ? { images: caret.querySelectorAll("img").length, style: caret.getAttribute("style") } : null;
  }, null, { timeout: TIMEOUT })).jsonValue();
  assert.equal(hostile.images, 0);
  assert.doesNotMatch(hostile.style, /url\(/);
  await cc.close();

  // Offline: the relay goes away; both keep editing; it comes back and they converge.
  await relay.stop();
  await waitForStatus(a, "offline");
  await waitForStatus(b, "offline");
  await typeAtEnd(a, " /* alice offline */");
  await typeAtStart(b, "// bob offline ");
  await relay.restart();
  const merged = await waitForSame(a, b, (t) => t.includes("alice offline") && t.includes("bob offline"));
  assert.ok(merged.startsWith("// bob offline >> "), merged);
  assert.ok(merged.endsWith(" /* alice offline */"), merged);
  await waitForStatus(a, "synced");
  await waitForStatus(b, "synced");
  assert.equal(await held(a), merged);
  assert.equal(await held(b), merged);

  await screenshot(a, b);
  await ca.close();
  await cb.close();
});

test("an edit made through the document (not the editor) shows in the editor", async () => {
  const docId = `code-direct-${Date.now()}`;
  const context = await browser.newContext();
  const page = await openPage(context, `${relay.httpUrl}code/?doc=${docId}&name=Ada`);
  await typeAtEnd(page, "abc");
  await waitForShown(page, "abc");
  // A local edit through the text handle, as an undo manager or a script makes: the binding
  // writes nothing back for it and the editor follows.
  await page.evaluate(() => {
    window.app.text.insert(1, "XY");
    window.app.doc.commit();
  });
  await waitForShown(page, "aXYbc");
  assert.equal(await held(page), "aXYbc");
  await context.close();
});

test("Ctrl-Z in the code editor takes back only this page's typing; the other's stays on both", async () => {
  const docId = `code-undo-${Date.now()}`;
  const url = (name) => `${relay.httpUrl}code/?doc=${docId}&name=${name}`;
  const [ca, cb] = [await browser.newContext(), await browser.newContext()];
  const a = await openPage(ca, url("Alice"));
  const b = await openPage(cb, url("Bob"));
  await waitForStatus(a, "synced");
  await waitForStatus(b, "synced");
  await typeAtEnd(b, "bob();");
  await waitForShown(a, "bob();");
  await typeAtEnd(a, " alice();");
  await waitForShown(b, "bob(); alice();");
  // Alice's typing may have been recorded as more than one step if the machine paused for over
  // the capture window: press until it is gone (each press undoes synchronously).
  await a.locator(".cm-content").focus();
  for (let i = 0; i < 20 && (await shown(a)) !== "bob();"; i++) await a.keyboard.press("Control+z");
  assert.equal(await shown(a), "bob();");
  await waitForShown(b, "bob();");
  assert.equal(await a.evaluate(() => window.app.view.state.selection.main.head), "bob();".length, "the caret is back before the undone typing");
  for (let i = 0; i < 20 && (await shown(a)) !== "bob(); alice();"; i++) await a.keyboard.press("Control+Shift+z");
  await waitForShown(b, "bob(); alice();");
  // Bob's Ctrl-Z undoes his own typing only.
  await b.locator(".cm-content").focus();
  for (let i = 0; i < 20 && (await shown(b)) !== " alice();"; i++) await b.keyboard.press("Control+z");
  await waitForShown(a, " alice();");
  await ca.close();
  await cb.close();
});

const screenshotPath = resolve(dirname(fileURLToPath(import.meta.url)), "../../../target/test-artifacts/codemirror-two-peers.png");

/** Both pages side by side in one image (each page's own screenshot, stacked by a third page). */
async function screenshot(a, b) {
  const [left, right] = [await a.screenshot(), await b.screenshot()];
  const page = await browser.newPage({ viewport: { width: 1600, height: 720 } });
  const img = (png) => `<img src="data:image/png;base64,${png.toString("base64")}" style="width:800px">`;
  await page.setContent(`<body style="margin:0;display:flex">${img(left)}${img(right)}</body>`);
  mkdirSync(dirname(screenshotPath), { recursive: true });
  await page.screenshot({ path: screenshotPath });
  await page.close();
}
