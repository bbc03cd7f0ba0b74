// Registers the service worker (sw.js) that lets the example pages open offline; see sw.js for
// what it caches and how a new build replaces the old one. Only in a secure context (https, or
// http on localhost / 127.0.0.1): elsewhere browsers have no service workers and the pages work
// online only, as before. `updateViaCache: "none"`: the browser's update checks fetch sw.js and
// the sw-build.js it imports from the relay, never from the HTTP cache, so a new build is seen
// on the next navigation. Sets `data-offline="ready"` on <html> once a worker controls the page
// (then every file of the page is cached).
if ("serviceWorker" in navigator) {
  const ready = () => {
    if (navigator.serviceWorker.controller) document.documentElement.dataset.offline = "ready";
  };
  navigator.serviceWorker.addEventListener("controllerchange", ready);
  ready();
  navigator.serviceWorker
    .register(new URL("sw.js", import.meta.url), { updateViaCache: "none" })
    .catch((e) => console.warn("service worker not registered; the page will not open offline:", e));
}
