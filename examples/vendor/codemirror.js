// The entry of the example pages' CodeMirror bundle (wasm/build.sh bundles it with esbuild into
// examples/web/vendor/codemirror.js): one module, so the pages and the binding
// (crdt-sync/codemirror, which imports @codemirror/state and @codemirror/view) share one copy of
// CodeMirror's state classes, mapped by the code page's import map.
export * from "@codemirror/state";
export * from "@codemirror/view";
export * from "@codemirror/commands";
export { basicSetup } from "codemirror";
export { javascript } from "@codemirror/lang-javascript";
