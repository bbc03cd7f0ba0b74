// The todo example (examples/web/todo) in headless chromium against the real relay binary: two
// browsers add, edit, tick, reorder and delete items through the page's controls and converge;
// with the relay stopped both edit the same item (one ticks it, the other retypes it) and add
// items, and after the relay is back both changes stick on both sides; a reload keeps the list.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

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

/** The list as the page shows it: "[x] text" per row, in order. */
const shown = (page) =>
  page.$$eval("#items li", (rows) =>
    rows.map((li) => `${li.querySelector(".done").checked ? "[x]" : "[ ]"} ${li.querySelector(".text").value}`));

async function waitForList(page, want) {
  await page.waitForFunction(
    (w) => JSON.stringify([...document.querySelectorAll("#items li")].map((li) =>
      `${li.querySelector(".done").checked ? "[x]" : "[ ]"} ${li.querySelector(".text").value}`)) === w,
    JSON.stringify(want),
    { timeout: TIMEOUT },
  ).catch(async (e) => {
    throw new Error(`${e.message}\nwanted ${JSON.stringify(want)}, shown ${JSON.stringify(await shown(page))}`);
  });
}

const rowAt = (page, index) => page.locator("#items li").nth(index);

/** The page's document version ({ replica: counter }). */
const versionOf = (page) => page.evaluate(() => window.app.doc.version());

/** Waits until `page`'s document holds every event of `version`. */
const holds = (page, version) =>
  page.waitForFunction(
    (v) => Object.entries(v).every(([replica, n]) => (window.app.doc.version()[replica] ?? 0) >= n),
    version,
    { timeout: TIMEOUT },
  );

async function addItem(page, text) {
  await page.locator("#new").fill(text);
  await page.locator("#new").press("Enter");
}

test("two browsers share one todo list: add, edit, toggle, reorder, delete, offline, reload", async () => {
  const docId = `todo-${Date.now()}`;
  const url = (name) => `${relay.httpUrl}todo/?doc=${docId}&name=${name}`;
  const [ca, cb] = [await browser.newContext(), await browser.newContext()];
  const a = await openPage(ca, url("Alice"));
  const b = await openPage(cb, url("Bob"));
  await waitForStatus(a, "synced");
  await waitForStatus(b, "synced");

  await addItem(a, "milk");
  await addItem(a, "bread");
  await addItem(b, "eggs");
  await waitForList(a, ["[ ] milk", "[ ] bread", "[ ] eggs"]);
  await waitForList(b, ["[ ] milk", "[ ] bread", "[ ] eggs"]);

  // Toggle in one, edit in the other.
  await rowAt(b, 0).locator(".done").check();
  await rowAt(a, 1).locator(".text").fill("rye bread");
  await waitForList(a, ["[x] milk", "[ ] rye bread", "[ ] eggs"]);
  await waitForList(b, ["[x] milk", "[ ] rye bread", "[ ] eggs"]);
  // Who edits what: Alice's focus on the bread row shows on Bob's page in her name.
  await b.waitForFunction(() => [...document.querySelectorAll("#items li[data-editing] .who")].some((w) => w.textContent === "Alice"), null, { timeout: TIMEOUT });

  // Reorder: eggs up twice, to the top; then delete milk.
  await rowAt(a, 2).locator("button[title='move up']").click();
  await waitForList(a, ["[x] milk", "[ ] eggs", "[ ] rye bread"]);
  await rowAt(a, 1).locator("button[title='move up']").click();
  await waitForList(b, ["[ ] eggs", "[x] milk", "[ ] rye bread"]);
  await rowAt(b, 1).locator(".delete").click();
  await waitForList(a, ["[ ] eggs", "[ ] rye bread"]);
  await waitForList(b, ["[ ] eggs", "[ ] rye bread"]);

  // Offline: both edit the same item (different fields) and add one each; then they merge.
  await relay.stop();
  await waitForStatus(a, "offline");
  await waitForStatus(b, "offline");
  await rowAt(a, 0).locator(".done").check();
  await rowAt(b, 0).locator(".text").fill("a dozen eggs");
  await addItem(a, "jam");
  await addItem(b, "tea");
  await rowAt(b, 1).locator("button[title='move down']").click(); // rye bread to the bottom, offline
  await relay.restart();
  await waitForStatus(a, "synced");
  await waitForStatus(b, "synced");
  // Each is in sync with the relay; wait until each also holds the other's offline edits.
  const a0 = await versionOf(a);
  const b0 = await versionOf(b);
  await holds(a, b0);
  await holds(b, a0);
  const list = await a.evaluate(() => window.app.items().map((t) => t.text));
  assert.equal(list[0], "a dozen eggs");
  assert.deepEqual(new Set(list), new Set(["a dozen eggs", "rye bread", "jam", "tea"]));
  const want = await shown(a);
  assert.equal(want[0], "[x] a dozen eggs", "the tick and the retyping both stick");
  await waitForList(b, want);

  // A reload keeps the list.
  await b.evaluate(() => window.app.flushed());
  await b.reload();
  await b.waitForFunction(() => document.documentElement.dataset.ready === "true", null, { timeout: TIMEOUT });
  assert.deepEqual(await shown(b), want);
  assert.match(await b.locator("#count").textContent(), /3 of 4 left/);
  await ca.close();
  await cb.close();
});
