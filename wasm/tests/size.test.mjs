// The download budget of the browser package: the .wasm plus its JS glue (wasm/pkg/web, as
// build.sh writes it) must stay under 212 KiB gzipped, so that growth is noticed when it happens
// rather than found later. build.sh prints the same figures. It was 200 KiB until the compact
// change log of issue #13 (about 11.6 KB gzipped: its causal graph, merged operations, their
// saved format and the checks on load), taken knowingly for 27x less memory per document and a
// 16x faster open, then 210 KiB until a whole history was sent in the log's form (1.6 KB: a
// joining replica takes it in with 5x fewer instructions); see wasm/README.md, Size.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET = 212 * 1024;
const web = new URL("../pkg/web/", import.meta.url);
const gzipped = (name) => gzipSync(readFileSync(new URL(name, web)), { level: 9 }).length;

test("the .wasm plus its JS glue is under 212 KiB gzipped", () => {
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
