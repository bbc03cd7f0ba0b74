// The parts of the WebRTC provider (wasm/js/webrtc.js) that run without a browser: Signal frames
// through the wasm bindings, the data channel framing (a sync frame cut into flagged messages and
// joined again, bounded), and the provider's option checks. The provider itself, with real data
// channels, is tested in chromium (tests/browser/webrtc.test.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import * as wasm from "../pkg/web/crdt_wasm.js";
import { WebRtcProvider, chunkFrame, FrameAssembler } from "../pkg/web/webrtc.js";

wasm.initSync({ module: readFileSync(new URL("../pkg/web/crdt_wasm_bg.wasm", import.meta.url)) });

test("a Signal frame carries its addressee and payload; describeFrame reads them", () => {
  const payload = new TextEncoder().encode('{"t":"hi"}');
  const frame = wasm.encodeSignalFrame("notes/1", "00000000000000a7", payload);
  const info = wasm.describeFrame(frame);
  assert.equal(info.kind, "signal");
  assert.equal(info.doc, "notes/1");
  assert.equal(info.to, "00000000000000a7");
  assert.equal(info.from, "0000000000000000", "the relay sets the sender");
  assert.deepEqual([...info.payload], [...payload]);
  assert.throws(() => wasm.encodeSignalFrame("bad doc", "a7", payload));
  assert.throws(() => wasm.encodeSignalFrame("notes/1", "not hex", payload));
  // A session ignores a signal (it is the driver's business).
  const session = new wasm.SyncSession("notes/1");
  const doc = new wasm.Doc();
  session.connect(doc);
  assert.equal(session.receive(doc, frame).length, 0);
});

test("frames are cut into data channel messages and joined again", () => {
  const size = 1024;
  for (const length of [0, 1, size - 1, size, size + 1, 5 * size + 7]) {
    const frame = Uint8Array.from({ length }, (_, i) => i % 251);
    const parts = chunkFrame(frame, size);
    assert.equal(parts.length, Math.max(1, Math.ceil(length / size)), `length ${length}`);
    for (const p of parts) assert.ok(p.length <= size + 1);
    const assembler = new FrameAssembler();
    const out = parts.map((p) => assembler.push(p));
    assert.ok(out.slice(0, -1).every((x) => x === null), "nothing before the last part");
    assert.deepEqual([...out.at(-1)], [...frame]);
  }
});

test("a frame past the assembler's limit is refused", () => {
  const assembler = new FrameAssembler(2048);
  const parts = chunkFrame(new Uint8Array(4096), 1024);
  assert.equal(assembler.push(parts[0]), null);
  assert.equal(assembler.push(parts[1]), null);
  assert.throws(() => assembler.push(parts[2]), /over 2048 bytes/);
});

test("the provider needs RTCPeerConnection and a sane cap", () => {
  const doc = new wasm.Doc();
  assert.throws(() => new WebRtcProvider("ws://127.0.0.1:9/sync", "d", doc), /no RTCPeerConnection/);
  const RTCPeerConnection = function () {};
  for (const maxDirectPeers of [-1, 1.5, "8"]) {
    assert.throws(
      () => new WebRtcProvider("ws://127.0.0.1:9/sync", "d", doc, { RTCPeerConnection, maxDirectPeers }),
      /maxDirectPeers/,
    );
  }
});
