// The editor example's textarea diff (examples/web/editor/diff.js): applying it to the old value
// gives the new one, it never cuts a surrogate pair (the text API refuses such offsets), and the
// caret decides where a run of equal characters was typed.
import { test } from "node:test";
import assert from "node:assert/strict";

import { diff } from "../../examples/web/editor/diff.js";

const apply = (before, { index, remove, insert }) => before.slice(0, index) + insert + before.slice(index + remove);
const splitsPair = (s, i) => i > 0 && i < s.length && /[\ud800-\udbff]/.test(s[i - 1]) && /[\udc00-\udfff]/.test(s[i]);

test("typing, deleting and replacing", () => {
  assert.deepEqual(diff("helo", "hello", 4), { index: 3, remove: 0, insert: "l" });
  assert.deepEqual(diff("hello", "helo", 3), { index: 3, remove: 1, insert: "" });
  assert.deepEqual(diff("hello world", "hello there", 11), { index: 6, remove: 5, insert: "there" });
  assert.deepEqual(diff("same", "same", 2), { index: 2, remove: 0, insert: "" }); // nothing to do
});

test("the caret places a character typed into a run of equal ones", () => {
  // "aa" -> "aaa" with the caret after the second a: the new a is at index 1.
  assert.deepEqual(diff("aa", "aaa", 2), { index: 1, remove: 0, insert: "a" });
  assert.deepEqual(diff("aa", "aaa", 3), { index: 2, remove: 0, insert: "a" });
  assert.deepEqual(diff("aa", "aaa", 1), { index: 0, remove: 0, insert: "a" });
});

test("surrogate pairs are never cut", () => {
  // 👋 and 👍 share their high surrogate: a naive prefix would end between the two halves.
  const d = diff("a👋b", "a👍b", 3);
  assert.deepEqual(d, { index: 1, remove: 2, insert: "👍" });
  const e = diff("👋👋", "👋", 2);
  assert.equal(apply("👋👋", e), "👋");
  assert.ok(!splitsPair("👋👋", e.index) && !splitsPair("👋👋", e.index + e.remove));
});

test("random edits round-trip and keep pairs whole", () => {
  const alphabet = ["a", "b", "👋", "👍", "\n", "é"];
  let seed = 12345;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const word = (n) => Array.from({ length: n }, () => alphabet[random(alphabet.length)]).join("");
  for (let i = 0; i < 2000; i++) {
    const before = word(random(8));
    const units = [...before];
    const at = random(units.length + 1);
    const cut = random(units.length - at + 1);
    const typed = word(random(4));
    const after = units.slice(0, at).join("") + typed + units.slice(at + cut).join("");
    const caret = units.slice(0, at).join("").length + typed.length;
    const d = diff(before, after, caret);
    assert.equal(apply(before, d), after, JSON.stringify({ before, after, caret, d }));
    assert.ok(!splitsPair(before, d.index) && !splitsPair(before, d.index + d.remove), JSON.stringify({ before, after, d }));
    assert.ok(!/^[\udc00-\udfff]/.test(d.insert) && !/[\ud800-\udbff]$/.test(d.insert));
  }
});
