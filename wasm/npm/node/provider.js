// The provider's entry in Node: the browser provider (../web/provider.js), after the wasm
// instance it uses is initialised from its file (./crdt_wasm.js), so that importing only
// `crdt-sync/provider` works too.
import "./crdt_wasm.js";

export * from "../web/provider.js";
