// Peer to peer (issue #16): the editor example with `?p2p` (WebRtcProvider) in headless chromium
// against the real relay binary. Each page is its own browser context (separate storage, no
// shared BroadcastChannel), so once the relay is stopped only WebRTC data channels join them.
//
// - Three pages connect directly (every pair: a mesh), and the page shows each peer as direct.
// - The relay process is stopped: the pages keep editing and converge with each other; a page
//   that leaves then disappears from the others' presence at once (only its data channels can
//   tell them). The relay restarts on the same port and database; a fresh page that joins
//   afterwards gets every edit, the left page's included: the direct edits reached the relay.
// - With `?p2p=1` (one direct link per peer) three pages still converge, the third pair through
//   the relay, and the page says which peer is direct and which is reached through the relay.
// - The terminal peer (examples' `cli --p2p`, a native WebRTC peer on str0m) links directly with
//   a page; with the relay stopped, lines typed in the terminal reach the page and the page's
//   edits reach the terminal.
//
// Host candidates only, no ICE servers, loopback: chromium's mDNS names for host candidates do
// not resolve here, so they are turned off, and loopback candidates are allowed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";

import { SyncServer, cliBinary } from "../support/sync-server.mjs";
import { launch, openPage, waitForStatus, TIMEOUT } from "./support.mjs";

/** Reconnecting after a relay restart waits out the provider's backoff (up to seconds). */
const RECONNECT_TIMEOUT = 45_000;

let relay, browser;

before(async () => {
  relay = await SyncServer.start();
  browser = await launch(["--disable-features=WebRtcHideLocalIpsWithMdns", "--allow-loopback-in-peer-connection"]);
});

after(async () => {
  await browser?.close();
  await relay?.close();
});

/** Opens the editor on `docId` with `p2p` (the query value) in a context of its own. */
async function openPeer(docId, name, p2p = "") {
  const context = await browser.newContext();
  const page = await openPage(context, `${relay.httpUrl}editor/?doc=${docId}&name=${name}&p2p=${p2p}`);
  return { page, context, name };
}

const textOf = (peer) => peer.page.evaluate(() => window.app.text.toString());

/** Appends `s` to the note on `peer`, as one commit. */
const append = (peer, s) =>
  peer.page.evaluate((s) => {
    const { text, doc } = window.app;
    text.insert(text.length, s);
    doc.commit();
  }, s);

/** Waits until `peer` has `count` direct links open. */
const waitForDirect = (peer, count, timeout = TIMEOUT) =>
  peer.page.waitForFunction((n) => window.app.provider.peers().filter((p) => p.direct).length === n, count, { timeout });

/** Waits until every peer's note contains every string of `parts` (each once); returns the common text. */
async function converge(peers, parts, timeout = TIMEOUT) {
  for (const peer of peers) {
    await peer.page.waitForFunction((ps) => ps.every((p) => window.app.text.toString().includes(p)), parts, { timeout });
  }
  const texts = await Promise.all(peers.map(textOf));
  for (const t of texts) assert.equal(t, texts[0], "the pages hold the same note");
  // Changes that came both directly and through the relay were applied once.
  for (const p of parts) assert.equal(texts[0].split(p).length - 1, 1, `${p} once in ${texts[0]}`);
  return texts[0];
}

/** The names the page shows in its presence (other peers). */
const presenceNames = (peer) =>
  peer.page.evaluate(() => [...window.app.provider.presence.values()].map((p) => p?.name).sort());

test("three pages sync directly without the relay, and the relay gets their edits when it is back", async (t) => {
  const docId = `p2p-mesh-${Date.now()}`;
  const [a, b, c] = [await openPeer(docId, "Ann"), await openPeer(docId, "Ben"), await openPeer(docId, "Cat")];
  for (const peer of [a, b, c]) await waitForStatus(peer.page, "synced");
  for (const peer of [a, b, c]) await waitForDirect(peer, 2);
  // The page shows each peer as connected directly.
  await a.page.waitForFunction(() => {
    const shown = [...document.querySelectorAll("#links [data-link]")];
    return shown.length === 2 && shown.every((e) => e.dataset.link === "direct");
  }, null, { timeout: TIMEOUT });
  assert.match(await a.page.locator("#links").textContent(), /Ben ⇄ direct/);
  await append(a, "[a: relay up]");
  await converge([a, b, c], ["[a: relay up]"]);

  // The relay goes away: direct links carry everything.
  await relay.stop();
  for (const peer of [a, b, c]) await waitForStatus(peer.page, "direct");
  assert.match(await a.page.locator("#status").textContent(), /syncing directly/);
  await Promise.all([append(a, "[a offline]"), append(b, "[b offline]"), append(c, "[c offline]")]);
  await converge([a, b, c], ["[a offline]", "[b offline]", "[c offline]"]);
  await c.page.evaluate(() => window.app.flushed());

  // Cat leaves while the relay is down: only the data channels can tell the others, at once.
  assert.deepEqual(await presenceNames(a), ["Ben", "Cat"]);
  const left = Date.now();
  await c.context.close();
  for (const peer of [a, b]) {
    await peer.page.waitForFunction(() => ![...window.app.provider.presence.values()].some((p) => p?.name === "Cat"), null, { timeout: TIMEOUT });
  }
  const gone = Date.now() - left;
  assert.ok(gone < 3_000, `Cat left the others' presence after ${gone} ms`);
  t.diagnostic(`a page that left was gone from the others' presence after ${gone} ms (relay down)`);
  assert.deepEqual(await presenceNames(a), ["Ben"]);
  await waitForDirect(a, 1);
  await append(b, "[b after cat left]");
  await converge([a, b], ["[b after cat left]"]);

  // The relay is back on the same port and database: A and B reconnect and send what it lacks
  // (Cat's edit too, which only they hold now); a fresh page gets everything from the relay.
  await relay.restart();
  for (const peer of [a, b]) {
    await peer.page.waitForFunction(() => window.app.provider.status === "synced", null, { timeout: RECONNECT_TIMEOUT });
  }
  const all = ["[a: relay up]", "[a offline]", "[b offline]", "[c offline]", "[b after cat left]"];
  const text = await converge([a, b], all);
  const d = await openPeer(docId, "Dan");
  await waitForStatus(d.page, "synced");
  await d.page.waitForFunction((t) => window.app.text.toString() === t, text, { timeout: TIMEOUT });
  // And Dan meets A and B directly too.
  await waitForDirect(d, 2);
  await append(d, "[d]");
  await converge([a, b, d], [...all, "[d]"]);
  for (const peer of [a, b, d]) await peer.context.close();
});

test("past maxDirectPeers a pair syncs through the relay, and the page says so", async () => {
  const docId = `p2p-cap-${Date.now()}`;
  const peers = [await openPeer(docId, "Eve", "1"), await openPeer(docId, "Fay", "1"), await openPeer(docId, "Gus", "1")];
  for (const peer of peers) await waitForStatus(peer.page, "synced");
  // Three peers, one direct link each at most: exactly one pair is direct, the third peer is
  // reached through the relay by both.
  await peers[0].page.waitForFunction(() => window.app.provider.peers().length === 2, null, { timeout: TIMEOUT });
  const counts = async () => Promise.all(peers.map((p) => p.page.evaluate(() => window.app.provider.peers().filter((x) => x.direct).length)));
  const deadline = Date.now() + TIMEOUT;
  let direct = await counts();
  while (direct.reduce((s, n) => s + n, 0) !== 2 && Date.now() < deadline) {
    await peers[0].page.waitForTimeout(50);
    direct = await counts();
  }
  assert.deepEqual([...direct].sort(), [0, 1, 1], `direct links per peer: ${direct}`);
  for (const n of direct) assert.ok(n <= 1);
  const alone = peers[direct.indexOf(0)];
  await alone.page.waitForFunction(() => {
    const shown = [...document.querySelectorAll("#links [data-link]")];
    return shown.length === 2 && shown.every((e) => e.dataset.link === "relay");
  }, null, { timeout: TIMEOUT });
  assert.match(await alone.page.locator("#links").textContent(), /via relay/);
  await Promise.all(peers.map((p, i) => append(p, `[${p.name} ${i}]`)));
  await converge(peers, peers.map((p, i) => `[${p.name} ${i}]`));
  for (const peer of peers) await peer.context.close();
});

test("the terminal peer (cli --p2p) links directly with a page and they sync without the relay", async () => {
  const docId = `p2p-cli-${Date.now()}`;
  if (!relay.child) await relay.restart();
  const cli = spawn(cliBinary(), ["--url", relay.wsUrl, "--doc", docId, "--name", "Term", "--p2p"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  cli.stdout.on("data", (d) => (out += d));
  cli.stderr.on("data", (d) => (err += d));
  const exited = new Promise((resolve) => cli.once("exit", resolve));
  try {
    const page = await openPeer(docId, "Pat");
    await waitForStatus(page.page, "synced");
    // The page links to the terminal directly, and shows it.
    await page.page.waitForFunction(
      () => window.app.provider.peers().some((p) => p.direct && p.presence?.name === "Term"),
      null, { timeout: TIMEOUT },
    );
    await page.page.waitForFunction(() => document.querySelector("#links")?.textContent.includes("Term ⇄ direct"), null, { timeout: TIMEOUT });
    await waitFor(() => err.includes("[direct: Pat]"), () => `the terminal did not report the link: ${err}`);

    await relay.stop();
    await waitForStatus(page.page, "direct");
    cli.stdin.write("typed in the terminal\n");
    await page.page.waitForFunction(() => window.app.text.toString().includes("typed in the terminal"), null, { timeout: TIMEOUT });
    await append(page, "[written on the page]");
    await waitFor(() => out.includes("[written on the page]"), () => `the terminal shows: ${out}`);
    await page.context.close();
  } finally {
    cli.kill("SIGTERM");
    await exited;
    // Restarted only when the test got as far as stopping it: a failure before that must show
    // its own error, not "the relay is running".
    if (!relay.child) await relay.restart();
  }
});

/** Waits until `condition()` holds, checking every few milliseconds; fails with `why()` after TIMEOUT. */
async function waitFor(condition, why) {
  const deadline = Date.now() + TIMEOUT;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(why());
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
