// Undo and redo in the editor example (examples/web/editor) in headless chromium against the
// real relay binary: two browsers type into one note; one undoes its own typing with Ctrl-Z and
// redoes it with the Redo button; both converge each time and the other's text is never
// touched; the caret goes back to where it was before the undone typing.
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



/**
 * Presses `key` until the textarea shows `want` (the typing may have been recorded as more
 * than one undo step if the machine paused for over the capture window between keystrokes);
 * each press undoes or redoes synchronously, so no waiting is needed between presses.
 */
async function pressUntil(page, key, want, limit = 40) {
  for (let i = 0; i < limit && (await value(page)) !== want; i++) {
    await page.keyboard.press(key);
  }
  assert.equal(await value(page), want);
}

test("one browser undoes and redoes its own typing; the other's text stays and both converge", async () => {
  const docId = `undo-${Date.now()}`;
  const url = (name) => `${relay.httpUrl}editor/?doc=${docId}&name=${name}`;
  const [ca, cb] = [await browser.newContext(), await browser.newContext()];
  const a = await openPage(ca, url("Alice"));
  const b = await openPage(cb, url("Bob"));
  await waitForStatus(a, "synced");
  await waitForStatus(b, "synced");
  assert.equal(await a.locator("#undo").isDisabled(), true, "nothing to undo yet");

  await b.locator("#editor .ProseMirror").click();
  await b.keyboard.type("Bob's line.");
  await waitForValue(a, "Bob's line.");
  await caretTo(a, "end");
  await a.keyboard.type(" Alice adds this.");
  await waitForValue(b, "Bob's line. Alice adds this.");
  // Bob types more while Alice's typing stands (before it, so positions shift under it).
  await caretTo(b, "start");
  await b.keyboard.type(">> ");
  await waitForValue(a, ">> Bob's line. Alice adds this.");
  assert.equal(await a.locator("#undo").isDisabled(), false);

  // Ctrl-Z in Alice's window takes back her typing only, on both pages.
  await a.locator("#editor .ProseMirror").focus();
  await pressUntil(a, "Control+z", ">> Bob's line.");
  await waitForValue(b, ">> Bob's line.");
  // The caret is back where it was before she typed: at the end of Bob's line.
  assert.equal(await a.evaluate(() => window.app.caret()), ">> Bob's line.".length);
  assert.equal(await a.locator("#undo").isDisabled(), true, "Bob's typing is not Alice's to undo");
  assert.equal(await a.locator("#redo").isDisabled(), false);

  // The Redo button brings it back, on both pages, with the caret after the redone text.
  for (let i = 0; i < 40 && (await value(a)) !== ">> Bob's line. Alice adds this."; i++) {
    await a.locator("#redo").click();
  }
  assert.equal(await value(a), ">> Bob's line. Alice adds this.");
  await waitForValue(b, ">> Bob's line. Alice adds this.");
  assert.equal(await a.evaluate(() => window.app.caret()), ">> Bob's line. Alice adds this.".length);

  // Bob's own Ctrl-Shift-Z has nothing to redo and Ctrl-Z undoes only his typing.
  await b.locator("#editor .ProseMirror").focus();
  await b.keyboard.press("Control+Shift+z");
  assert.equal(await value(b), ">> Bob's line. Alice adds this.");
  await pressUntil(b, "Control+z", " Alice adds this.");
  await waitForValue(a, " Alice adds this.");
  await ca.close();
  await cb.close();
});
