// The editor's history panel (examples/web/editor/history.js) in headless chromium against the
// real relay binary: two browsers (separate contexts) type into one note; on one, the history
// slider shows the note as it was after the first peer's sentence, with that peer's name and the
// time of the change; "Restore this version" brings that text back on both pages, as one new
// change (the history keeps everything before it).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { SyncServer } from "../support/sync-server.mjs";
import { launch, openPage, waitForStatus, TIMEOUT, editorValue as value, waitForEditorValue as waitForValue, caretTo } from "./support.mjs";

let relay, browser;

before(async () => {
  relay = await SyncServer.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await relay?.close();
});



/** Moves the page's history slider to `k`, as dragging it does. */
function slideTo(page, k) {
  return page.evaluate((k) => {
    const slider = document.getElementById("history-slider");
    slider.value = String(k);
    slider.dispatchEvent(new Event("input"));
  }, k);
}

test("the history slider shows an earlier version and restore brings it back on both pages", async () => {
  const started = Date.now();
  const docId = `history-${started}`;
  const url = (name) => `${relay.httpUrl}editor/?doc=${docId}&name=${name}`;
  const [ca, cb] = [await browser.newContext(), await browser.newContext()];
  const a = await openPage(ca, url("Alice"));
  const b = await openPage(cb, url("Bob"));
  await waitForStatus(a, "synced");
  await waitForStatus(b, "synced");

  await a.locator("#editor .ProseMirror").click();
  await a.keyboard.type("First draft.");
  await waitForValue(b, "First draft.");
  await caretTo(b, "end");
  await b.keyboard.type(" Second thoughts.");
  await waitForValue(a, "First draft. Second thoughts.");
  // Bob knows Alice's name (presence) before he reads the history.
  await b.waitForFunction(() => document.querySelector("#peers")?.textContent.includes("Alice"), null, { timeout: TIMEOUT });

  // Bob opens the history (the panel reads it when it opens): the slider is at "now", one
  // step per committed keystroke.
  await b.locator("#history summary").click();
  await b.waitForFunction(() => document.getElementById("history-label").textContent !== "", null, { timeout: TIMEOUT });
  const max = Number(await b.locator("#history-slider").getAttribute("max"));
  assert.equal(max, "First draft. Second thoughts.".length, "a change per typed character");
  assert.equal(await b.locator("#history-slider").inputValue(), String(max));
  assert.equal(await b.locator("#history-preview").textContent(), "First draft. Second thoughts.");
  assert.ok(await b.locator("#history-restore").isDisabled(), "nothing to restore at now");

  // Sliding back to Alice's last keystroke shows the note as it was then, and who wrote it when.
  const k = "First draft.".length;
  await slideTo(b, k);
  assert.equal(await b.locator("#history-preview").textContent(), "First draft.");
  const labelText = await b.locator("#history-label").textContent();
  assert.match(labelText, new RegExp(`^${k} of ${max} · Alice · `));
  const time = await b.evaluate((k) => window.app.doc.history()[k - 1].time, k);
  assert.ok(time >= started && time <= Date.now(), `the change carries its author's time (${time})`);
  // The editor itself still shows now.
  assert.equal(await value(b), "First draft. Second thoughts.");
  await slideTo(b, 0);
  assert.equal(await b.locator("#history-preview").textContent(), "");

  // Restore: both pages show the earlier version again; the history grew by one change.
  await slideTo(b, k);
  await b.locator("#history-restore").click();
  await waitForValue(b, "First draft.");
  await waitForValue(a, "First draft.");
  const history = await a.evaluate(() => window.app.doc.history());
  assert.equal(history.length, max + 1);
  assert.equal(history.at(-1).message, `Restored version ${k}`);
  assert.equal(await b.locator("#history-slider").getAttribute("max"), String(max + 1));

  // Alice's panel shows Bob's restore as the newest version, and editing goes on from it.
  await a.locator("#history summary").click();
  await a.waitForFunction(() => document.getElementById("history-label").textContent !== "", null, { timeout: TIMEOUT });
  assert.match(await a.locator("#history-label").textContent(), /\(now\) · Bob · .*Restored version/);
  await caretTo(a, "end");
  await a.keyboard.type(" Final.");
  await waitForValue(b, "First draft. Final.");
  await ca.close();
  await cb.close();
});
