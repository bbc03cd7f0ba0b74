// Shared by the browser tests of the example pages: Debian chromium through playwright-core,
// and waiting for a page to be ready and in sync.
import { chromium } from "playwright-core";

export const TIMEOUT = 15_000;

/** Launches headless Debian chromium. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CRDT_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-quic"],
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
