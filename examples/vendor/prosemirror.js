// The entry of the example pages' ProseMirror bundle (wasm/build.sh bundles it with esbuild into
// examples/web/vendor/prosemirror.js): one module, so the pages and the binding
// (crdt-sync/prosemirror, which imports prosemirror-model, -state, -view and -transform) share one copy of
// ProseMirror's classes, mapped by the editor page's import map.
export * from "prosemirror-model";
export * from "prosemirror-state";
export * from "prosemirror-view";
export * from "prosemirror-transform";
export * from "prosemirror-commands";
export * from "prosemirror-keymap";
export * from "prosemirror-schema-list";
