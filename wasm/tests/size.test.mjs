// The download budget of the browser package: the .wasm plus its JS glue (wasm/pkg/web, as
// build.sh writes it) must stay under 200 KB gzipped, so that growth is noticed when it happens
// rather than found later. build.sh prints the same figures.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET = 200 * 1024;
const web = new URL("../pkg/web/", import.meta.url);
const gzipped = (name) => gzipSync(readFileSync(new URL(name, web)), { level: 9 }).length;

test("the .wasm plus its JS glue is under 200 KB gzipped", () => {
  const wasm = gzipped("crdt_wasm_bg.wasm");
  const glue = gzipped("crdt_wasm.js");
  // Sanity: these are the real files, not empty ones.
  assert.ok(wasm > 50_000, `crdt_wasm_bg.wasm is only ${wasm} bytes gzipped`);
  assert.ok(glue > 2_000, `crdt_wasm.js is only ${glue} bytes gzipped`);
  assert.ok(
    wasm + glue < BUDGET,
    `.wasm ${wasm} + glue ${glue} = ${wasm + glue} bytes gzipped, over the ${BUDGET}-byte budget`,
  );
});
