// Shared by the browser tests of the example pages: Debian chromium through playwright-core,
// and waiting for a page to be ready and in sync.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";

export const TIMEOUT = 15_000;

/** Launches headless Debian chromium, with `extraArgs` after the usual flags. */
export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CRDT_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-quic", ...extraArgs],
  });
}

/** Opens `url` in a new page of `context` and waits until the app has loaded its document. */
export async function openPage(context, url) {
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  await page.goto(url);
  await page.waitForFunction(() => document.documentElement.dataset.ready === "true", null, { timeout: TIMEOUT });
  return page;
}

/** Waits until the page's provider reports `status` (e.g. "synced", "offline"). */
export function waitForStatus(page, status) {
  return page.waitForFunction((s) => window.app.provider.status === s, status, { timeout: TIMEOUT });
}

/**
 * Serves the test page (tests/browser/page.html) at every path but /pkg/, and the web package at
 * /pkg/, on a free loopback port: another origin than the relay's. Resolves to its base URL and
 * a close function.
 */
export async function servePage() {
  const here = new URL(".", import.meta.url).pathname;
  const pkg = new URL("../../pkg/web/", import.meta.url).pathname;
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
  const server = createServer(async (req, res) => {
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
  return { base: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

/** The note as the editor page (examples/web/editor) shows it, as plain lines. */
export const editorValue = (page) => page.evaluate(() => window.app.shown());

/** Waits until the editor page shows `want`. */
export const waitForEditorValue = (page, want) =>
  page.waitForFunction((w) => window.app.shown() === w, want, { timeout: TIMEOUT });

/**
 * Puts the editor page's caret at the note's start or end. Through the page (`app.moveTo`), not
 * Ctrl-Home / Ctrl-End: ProseMirror reads a caret the browser moved on the next selectionchange,
 * and keys typed before that would land at the old caret.
 */
export async function caretTo(page, where) {
  await page.locator("#editor .ProseMirror").click();
  await page.evaluate((w) => window.app.moveTo(w), where);
}
