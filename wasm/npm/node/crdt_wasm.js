// The package's entry in Node: the browser build (../web/crdt_wasm.js), initialised at once from
// the .wasm file beside it instead of fetched by URL.
//
// Why not wasm-bindgen's `--target nodejs` glue: it is a second module with its own wasm
// instance, and the provider (../web/provider.js) imports the web glue; a Doc of one instance
// handed to a SyncSession of the other would fail. With one glue, `crdt-sync` and
// `crdt-sync/provider` share one instance in Node as in the browser, and the tarball carries
// one .wasm. Initialising here (synchronously, no top-level await) also lets CommonJS code
// `require("crdt-sync")` on Node versions with require(esm).
//
// `init()` (the default export) is kept so that one piece of code runs in both: after
// `initSync` it returns the instance without loading anything again.
import { readFileSync } from "node:fs";
import { initSync } from "../web/crdt_wasm.js";

initSync({ module: readFileSync(new URL("../web/crdt_wasm_bg.wasm", import.meta.url)) });

export * from "../web/crdt_wasm.js";
export { default } from "../web/crdt_wasm.js";
