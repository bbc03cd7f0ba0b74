// What the example pages share: open a document (wasm, IndexedDB, relay), who "you" are
// (name and colour, kept in localStorage), and the header that shows the connection status and
// the other peers. The pages are served by the relay itself (`sync-server --static examples/web`,
// see scripts/run-relay.sh), so the relay's WebSocket is this page's host at /sync.
import init, { Doc } from "../pkg/crdt_wasm.js";
import { WebSocketProvider } from "../pkg/provider.js";
import { IndexedDBStore } from "../pkg/idb.js";

const NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tony"];
const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#008080", "#9a6324", "#800000"];

/** The query parameter `name`, or `fallback`. */
export function param(name, fallback) {
  return new URLSearchParams(location.search).get(name) ?? fallback;
}

/** This browser's name and colour: `?name=` / `?color=` win, else what localStorage remembers, else random. */
export function identity() {
  const pick = (list) => list[Math.floor(Math.random() * list.length)];
  let me;
  try {
    me = JSON.parse(localStorage.getItem("crdt-example:identity"));
  } catch {
    me = null;
  }
  if (!me || typeof me.name !== "string" || typeof me.color !== "string") {
    me = { name: pick(NAMES), color: pick(COLORS) };
  }
  me.name = param("name", me.name);
  me.color = param("color", me.color);
  localStorage.setItem("crdt-example:identity", JSON.stringify(me));
  return me;
}

/** Remembers a new name for this browser. */
export function rename(me, name) {
  me.name = name.trim().slice(0, 40) || me.name;
  localStorage.setItem("crdt-example:identity", JSON.stringify(me));
}

/** The relay's WebSocket address: the page's own host, path /sync (`?relay=` overrides it). */
export function relayUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return param("relay", `${scheme}//${location.host}/sync`);
}

/**
 * Opens document `docId`: loads the wasm module, restores the document from IndexedDB (so a
 * reload, even offline, shows everything) and syncs it through the relay, with the provider
 * `makeProvider(url, docId, doc, options)` returns (default a WebSocketProvider).
 */
export async function openDoc(docId, makeProvider = (...args) => new WebSocketProvider(...args)) {
  await init();
  const doc = new Doc();
  const store = new IndexedDBStore(docId, doc);
  const provider = makeProvider(relayUrl(), docId, doc, { store });
  provider.on("error", (e) => console.warn(`sync ${docId}:`, e));
  await store.whenLoaded();
  return { doc, store, provider };
}

const STATUS_TEXT = {
  connecting: "connecting…",
  connected: "connected, syncing…",
  synced: "online, in sync",
  offline: "offline: edits are kept and sent on reconnect",
  direct: "relay down: syncing directly with peers",
};

/** Keeps `element` showing the provider's status (its `data-status` attribute drives the colour). */
export function showStatus(provider, element) {
  const update = (status) => {
    element.dataset.status = status;
    element.textContent = STATUS_TEXT[status] ?? status;
  };
  update(provider.status);
  provider.on("status", update);
}

/** A small coloured badge with a peer's name. */
export function badge(peer, suffix = "") {
  const span = document.createElement("span");
  span.className = "peer";
  span.style.setProperty("--color", typeof peer.color === "string" ? peer.color : "#888");
  span.textContent = `${typeof peer.name === "string" ? peer.name : "anonymous"}${suffix}`;
  return span;
}

/** Lets the user rename themselves in `input`; `onChange` republishes the presence. */
export function nameField(me, input, onChange) {
  input.value = me.name;
  input.style.setProperty("--color", me.color);
  input.addEventListener("change", () => {
    rename(me, input.value);
    input.value = me.name;
    onChange();
  });
}

/** Calls `fn` at most once per `ms`, always with the latest call last (a trailing throttle). */
export function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  return () => {
    if (timer !== null) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      fn();
    }, wait);
  };
}
