// The editor example (examples/web/editor: ProseMirror through crdt-sync/prosemirror) in headless
// chromium against the real relay binary: two browsers (separate contexts: separate storage, no
// shared BroadcastChannel) type into one note and converge, see each other's name and caret, keep
// their own caret when the other types before it; they type concurrently inside and around
// formatted spans and end with the same ProseMirror document; with the relay stopped both edit
// offline and merge when it is back; a reload shows everything, even with the relay's WebSocket
// unreachable (IndexedDB); and a screenshot of two converged peers with headings, a list, bold
// text and carets is saved as a test artifact: target/test-artifacts/editor-two-peers.png, or
// the path in CRDT_SCREENSHOT.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

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


/** The editor's ProseMirror document as JSON. */
const pmJson = (page) => page.evaluate(() => JSON.stringify(window.app.view.state.doc.toJSON()));
const editable = (page) => page.locator("#editor .ProseMirror");

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
  await editable(a).click();
  await a.keyboard.type("Hello 👋 from Alice.");
  await waitForValue(b, "Hello 👋 from Alice.");
  await caretTo(b, "end");
  await b.keyboard.type(" Bob here.");
  await waitForValue(a, "Hello 👋 from Alice. Bob here.");
  assert.equal(await a.evaluate(() => window.app.text.toString()), "Hello 👋 from Alice. Bob here.\n", "the text: one line per block");

  // Presence: each sees the other's name, and a caret where the other's caret is.
  await b.waitForFunction(() => document.querySelector('.crdt-caret[data-name="Alice"]') !== null, null, { timeout: TIMEOUT });
  await a.waitForFunction(() => document.querySelector("#peers")?.textContent.includes("Bob"), null, { timeout: TIMEOUT });
  // Bob's caret is at the end (after "here."): Alice sees it there.
  const end = (await value(a)).length;
  await a.waitForFunction((n) => window.app.remoteCursors().some((c) => c.name === "Bob" && c.head === n), end, { timeout: TIMEOUT });

  // Alice types before Bob's caret: Bob's caret moves with his text, it does not stay at the offset.
  const bobCaret = await b.evaluate(() => window.app.caret());
  assert.equal(bobCaret, end);
  await caretTo(a, "start");
  await a.keyboard.type(">> ");
  await waitForValue(b, ">> Hello 👋 from Alice. Bob here.");
  assert.equal(await b.evaluate(() => window.app.caret()), end + 3);
  await b.keyboard.type("!");
  await waitForValue(a, ">> Hello 👋 from Alice. Bob here.!");

  // Offline: the relay goes away; both keep editing; it comes back and they converge.
  await relay.stop();
  await waitForStatus(a, "offline");
  await waitForStatus(b, "offline");
  assert.match(await a.locator("#status").textContent(), /offline/);
  await caretTo(a, "end");
  await a.keyboard.press("Enter");
  await a.keyboard.type("Alice, offline.");
  await caretTo(b, "start");
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
  await editable(a).click();
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
  await caretTo(a, "end");
  await a.keyboard.type(" + Alice offline");
  await caretTo(b, "start");
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

test("two browsers type concurrently inside and around formatted spans and end with one document", async () => {
  const docId = `editor-rich-${Date.now()}`;
  const url = (name) => `${relay.httpUrl}editor/?doc=${docId}&name=${name}`;
  const [ca, cb] = [await browser.newContext(), await browser.newContext()];
  const a = await openPage(ca, url("Alice"));
  const b = await openPage(cb, url("Bob"));
  await waitForStatus(a, "synced");
  await waitForStatus(b, "synced");
  await editable(a).click();
  await a.keyboard.type("one two three");
  await waitForValue(b, "one two three");
  // Alice makes "two" bold and "three" a link target's text in italics.
  await a.evaluate(() => window.app.select(4, 7));
  await a.locator("#bold").click();
  await a.evaluate(() => window.app.select(8, 13));
  await a.keyboard.press("Control+i");
  await b.waitForFunction(() => window.app.view.state.doc.toString().includes('bold("two")'), null, { timeout: TIMEOUT });

  // Both type at once: Alice inside the bold word, Bob at its end and before "three".
  await a.evaluate(() => window.app.select(5));
  await b.evaluate(() => window.app.select(7));
  await Promise.all([a.keyboard.type("WW"), b.keyboard.type("BB")]);
  await b.evaluate(() => window.app.select(window.app.shown().indexOf("three")));
  await Promise.all([a.keyboard.press("Enter"), b.keyboard.type("x ")]);
  const settled = async () => {
    const deadline = Date.now() + TIMEOUT;
    for (;;) {
      const [ja, jb] = [await pmJson(a), await pmJson(b)];
      if (ja === jb && (await value(a)).includes("x ")) return ja;
      if (Date.now() > deadline) assert.fail(`documents differ:\n${ja}\n${jb}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const json = JSON.parse(await settled());
  // Valid for the schema, identical on both pages, everything typed is there.
  await a.evaluate(() => window.app.view.state.doc.check());
  const all = await value(a);
  for (const piece of ["WW", "BB", "x ", "three"]) assert.ok(all.includes(piece), `${piece} in ${JSON.stringify(all)}`);
  // Typing inside the bold word is bold (bold expands as a user expects).
  const texts = (node) => (node.type === "text" ? [node] : (node.content ?? []).flatMap(texts));
  const boldText = texts(json).filter((t) => t.marks?.some((m) => m.type === "bold")).map((t) => t.text).join("");
  assert.ok(boldText.includes("WW"), JSON.stringify(json));

  // A peer's hostile formatting is shown inertly: a javascript: link is not a link.
  await b.evaluate(() => {
    const { text, doc } = window.app;
    text.mark(0, 3, "link", "javascript:alert(1)");
    doc.commit();
  });
  await a.waitForFunction(() => document.querySelector("#editor .unsafe-link") !== null, null, { timeout: TIMEOUT });
  assert.equal(await a.locator('#editor a[href^="javascript"]').count(), 0);
  // A peer whose name and colour would smuggle markup and CSS into the others' pages (its page
  // publishes them as its presence) is drawn inertly.
  const cc = await browser.newContext();
  const evil = await openPage(cc, `${relay.httpUrl}editor/?doc=${docId}&name=${encodeURIComponent("<img src=x onerror=alert(1)>")}` +
    `&color=${encodeURIComponent("red; background: url(http://127.0.0.1:9/x)")}`);
  await evil.waitForFunction(() => window.app.text.length > 2, null, { timeout: TIMEOUT });
  await evil.evaluate(() => window.app.select(0, 2));
  const hostile = await (await a.waitForFunction(() => {
    const caret = [...document.querySelectorAll(".crdt-caret")].find((c) => c.dataset.name.startsWith("<img"));
    return caret ? { images: caret.querySelectorAll("img").length, style: caret.getAttribute("style") } : null;
  }, null, { timeout: TIMEOUT })).jsonValue();
  assert.equal(hostile.images, 0);
  assert.doesNotMatch(hostile.style, /url\(/);
  await cc.close();
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
  // Ada writes a heading and starts a list through the toolbar; Grace adds to the list and
  // bolds a word; the frames share the page's keyboard, so each clicks into its editor first.
  await left.locator("#editor .ProseMirror").click();
  await page.keyboard.type("Shopping for the weekend");
  await left.locator("#h1").click();
  await page.keyboard.press("Enter");
  await page.keyboard.type("bread");
  await left.locator("#bullet").click();
  await page.keyboard.press("Enter");
  await page.keyboard.type("cheese");
  await right.waitForFunction(() => window.app.shown().endsWith("cheese"), null, { timeout: TIMEOUT });
  await right.locator("#editor .ProseMirror").click();
  await right.evaluate(() => window.app.moveTo("end"));
  await page.keyboard.press("Enter");
  await page.keyboard.type("apples");
  await right.evaluate(() => {
    const at = window.app.text.toString().indexOf("apples");
    window.app.select(at, at + "apples".length);
  });
  await right.locator("#bold").click();
  await right.evaluate(() => window.app.moveTo("end"));
  await page.keyboard.press("Control+b"); // bold goes on at the end of a bold word: turn it off
  await page.keyboard.type(" (Grace)");
  await left.waitForFunction(() => window.app.shown().endsWith("(Grace)"), null, { timeout: TIMEOUT });
  // Ada selects "cheese".
  await left.evaluate(() => {
    const at = window.app.text.toString().indexOf("cheese");
    window.app.select(at, at + 6);
  });
  await left.waitForFunction(() => window.app.remoteCursors().some((c) => c.name === "Grace"), null, { timeout: TIMEOUT });
  await right.waitForFunction(() => window.app.remoteCursors().some((c) => c.name === "Ada" && c.anchor !== c.head), null, { timeout: TIMEOUT });
  const want = "Shopping for the weekend\nbread\ncheese\napples (Grace)";
  const docs = [];
  for (const f of [left, right]) {
    assert.equal(await f.evaluate(() => window.app.shown()), want);
    docs.push(await f.evaluate(() => window.app.view.state.doc.toString()));
    await f.evaluate(() => window.scrollTo(0, 0));
  }
  assert.equal(docs[0], docs[1]);
  assert.equal(docs[0], 'doc(heading("Shopping for the weekend"), bullet_list(list_item(paragraph("bread")), ' +
    'list_item(paragraph("cheese")), list_item(paragraph(bold("apples"), " (Grace)"))))');
  // The plain text the terminal peer reads: one line per block.
  assert.equal(await left.evaluate(() => window.app.text.toString()), `${want}\n`);
  mkdirSync(dirname(screenshotPath), { recursive: true });
  await page.screenshot({ path: screenshotPath });
  const png = readFileSync(screenshotPath);
  assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from("PNG")]);
  assert.equal(png.readUInt32BE(16), 1000, "width of the viewport");
  console.log(`screenshot: ${screenshotPath}`);
  await context.close();
});
