// The example pages' service worker: it keeps a copy of the app shell (the pages, their scripts
// and styles) and of the wasm package, so that a page opens without a network, e.g. on a plane,
// and then shows its document from IndexedDB. Registered by register-sw.js; its scope is the
// folder it is served from (the relay's root with `--static examples/web`).
//
// Versioning: sw-build.js, written by wasm/build.sh, sets `self.BUILD = { version, files }`:
// the files to cache, and a content hash of them, of their list and of this worker. When the
// relay serves a new build, that file's bytes change, so the browser's update check (on each
// navigation; the page registers with `updateViaCache: "none"` and the relay sends
// `Cache-Control: no-cache`, so no HTTP cache hides the change) installs this worker again: it
// fetches the new files into a new cache named after the new version, takes over at once
// (skipWaiting, clients.claim) and deletes the old caches. A page already open keeps running the
// code it loaded; its next load gets the new build.
//
// Strategy: network first, the cache as a fallback. Stale-while-revalidate would show the
// previous build on every load after a deployment, and could mix files of two builds (the wasm
// glue JS of one with the .wasm of another breaks: they are generated together); a network-first
// load always takes the build the relay serves now, and each response it gets refreshes the
// cached copy. Offline, a request fails at once and the cached copy answers. The cost is a
// round trip per file (a 304 when unchanged) while online, which a page that syncs through the
// same relay pays anyway. No timeout races the network: answering a slow network from the cache
// would again mix builds.
//
// Never cached nor intercepted: other origins, anything but GET, and the relay's own endpoints
// (/sync, the WebSocket, which a service worker never sees anyway; /healthz and /metrics, which
// must tell the truth about the relay now).
/* global BUILD */
importScripts("sw-build.js");

const CACHE_PREFIX = "crdt-examples-";
const CACHE = `${CACHE_PREFIX}${BUILD.version}`;
const SCOPE = new URL(self.registration.scope);
const RELAY_ENDPOINTS = new Set(["sync", "healthz", "metrics"]);

self.addEventListener("install", (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(deleteOldCaches().then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (!handled(event.request, url)) return;
  event.respondWith(networkFirst(event, url));
});

/** Fetches every file of this build into its cache; any failure fails the install (atomic). */
async function precache() {
  const cache = await caches.open(CACHE);
  // `reload`: straight from the server, past the HTTP cache. A revalidation (`no-cache`) would
  // compare `Last-Modified`, whole seconds: a file rebuilt within the second after the browser
  // fetched it would come back as the old copy and be kept for the whole new version.
  await cache.addAll(BUILD.files.map((file) => new Request(new URL(file, SCOPE), { cache: "reload" })));
}

/** Deletes the caches of earlier builds. */
async function deleteOldCaches() {
  const names = await caches.keys();
  await Promise.all(names.filter((n) => n.startsWith(CACHE_PREFIX) && n !== CACHE).map((n) => caches.delete(n)));
}

/** Whether this worker answers `request`: a GET of a file in its scope, not a relay endpoint. */
function handled(request, url) {
  if (request.method !== "GET" || url.origin !== SCOPE.origin) return false;
  if (!url.pathname.startsWith(SCOPE.pathname)) return false;
  const first = url.pathname.slice(SCOPE.pathname.length).split("/")[0];
  return !RELAY_ENDPOINTS.has(first);
}

/**
 * The file a URL names in the cache: its path without the query (`/editor/?doc=x` is the same
 * page as `/editor/`), a folder standing for its index.html, as the relay serves it.
 */
function cacheKey(url) {
  const path = url.pathname.endsWith("/") ? `${url.pathname}index.html` : url.pathname;
  return new URL(path, url.origin).href;
}

/** The network's answer (kept in the cache when it is a plain success), else the cached copy. */
async function networkFirst(event, url) {
  const { request } = event;
  const key = cacheKey(url);
  let response;
  try {
    // A navigation request cannot be re-initialised; the relay's `no-cache` covers it.
    response = request.mode === "navigate" ? await fetch(request) : await fetch(request, { cache: "no-cache" });
  } catch (networkError) {
    const cached = await caches.match(key, { cacheName: CACHE });
    if (cached) return cached;
    throw networkError;
  }
  if (keepable(response)) {
    const copy = response.clone();
    event.waitUntil(keep(key, copy));
  } else if (response.status >= 500) {
    // A proxy in front of a relay that is down: the cached copy is better than its error page.
    const cached = await caches.match(key, { cacheName: CACHE });
    if (cached) return cached;
  }
  return response;
}

/**
 * Puts `response` in this version's cache, unless a newer worker deleted that cache meanwhile
 * (`caches.open` would create it again, a stale copy nothing deletes until the next build).
 */
async function keep(key, response) {
  if (await caches.has(CACHE)) await (await caches.open(CACHE)).put(key, response);
}

/** A complete same-origin 200 that was not redirected (a redirected copy must not answer a navigation). */
function keepable(response) {
  return response.status === 200 && response.type === "basic" && !response.redirected;
}
