// The textarea edit as one UTF-16 delete + insert: what turned the old value into the new one.
// Pure (no DOM), so it is tested in Node (wasm/tests/editor-diff.test.mjs).

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/**
 * The edit turning `before` into `after` as { index, remove, insert } in UTF-16 units. `caret`
 * (the selection end after the edit) disambiguates runs of equal characters: typed text ends
 * at the caret.
 */
export function diff(before, after, caret = after.length) {
  const grew = after.length - before.length;
  const prefixCap = Math.min(before.length, after.length, Math.max(0, caret - Math.max(0, grew)));
  let start = 0;
  while (start < prefixCap && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  if (start > 0 && isHigh(before.charCodeAt(start - 1))) start--;
  let endBefore = before.length;
  let endAfter = after.length;
  while (endBefore > start && endAfter > start && before.charCodeAt(endBefore - 1) === after.charCodeAt(endAfter - 1)) {
    endBefore--;
    endAfter--;
  }
  if (endBefore < before.length && isLow(before.charCodeAt(endBefore))) {
    endBefore++;
    endAfter++;
  }
  return { index: start, remove: endBefore - start, insert: after.slice(start, endAfter) };
}
