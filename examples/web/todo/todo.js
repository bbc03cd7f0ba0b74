// The shared todo list. The document holds one list, "todos", of maps
// { id: string, text: string, done: boolean, order: number }:
// - add pushes a new map; delete removes the list element; edit and toggle set a key (the last
//   writer wins per key, so one peer ticking an item and another retyping it both stick);
// - the shown order is by `order`, then `id`: a fractional index, so moving an item is one key
//   set (halfway between its new neighbours), and two peers moving different items never
//   conflict; the list position itself never changes.
// - presence is { name, color, editing: item id | null }; an item someone else is editing gets
//   their colour.
// Rows are kept per item id and updated in place, so a remote change never steals the focus or
// the caret of the row being typed in.
import { openDoc, identity, nameField, param, showStatus, badge, throttle } from "../shared.js";

const docId = param("doc", "todos");
document.getElementById("doc").textContent = docId;

const { doc, provider } = await openDoc(docId);
const todos = doc.getList("todos");
const me = identity();
showStatus(provider, document.getElementById("status"));
const itemsEl = document.getElementById("items");
const rows = new Map();
let editing = null;

/** The items as plain objects, in display order. */
export function items() {
  const all = todos.toJSON().filter((t) => t && typeof t === "object" && typeof t.id === "string");
  return all.sort((a, b) => (Number(a.order) || 0) - (Number(b.order) || 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The map handle of item `id`, with its list index. */
function find(id) {
  const all = todos.toJSON();
  for (let i = 0; i < all.length; i++) {
    if (all[i]?.id === id) return { index: i, map: todos.get(i) };
  }
  return null;
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Adds an item at the end. */
export function add(text) {
  const list = items();
  const order = list.length ? (Number(list.at(-1).order) || 0) + 1 : 1;
  const map = todos.insertContainer(todos.length, "map");
  map.set("id", randomId());
  map.set("text", text);
  map.set("done", false);
  map.set("order", order);
  doc.commit();
}

/** Sets `key` of item `id`. */
export function update(id, key, value) {
  const found = find(id);
  if (!found) return;
  found.map.set(key, value);
  doc.commit();
}

/** Deletes item `id`. */
export function remove(id) {
  const found = find(id);
  if (!found) return;
  todos.delete(found.index, 1);
  doc.commit();
}

/** Moves item `id` to display position `to` (0-based) by giving it an order between its new neighbours. */
export function move(id, to) {
  const others = items().filter((t) => t.id !== id);
  to = Math.max(0, Math.min(to, others.length));
  const before = others[to - 1] ? Number(others[to - 1].order) : null;
  const after = others[to] ? Number(others[to].order) : null;
  let order;
  if (before === null && after === null) order = 1;
  else if (before === null) order = after - 1;
  else if (after === null) order = before + 1;
  else order = (before + after) / 2;
  update(id, "order", order);
}

const publishPresence = throttle(() => provider.setPresence({ name: me.name, color: me.color, editing }), 40);

function button(label, title, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

function makeRow(id) {
  const li = document.createElement("li");
  li.dataset.id = id;
  const done = document.createElement("input");
  done.type = "checkbox";
  done.className = "done";
  done.addEventListener("change", () => update(id, "done", done.checked));
  const text = document.createElement("input");
  text.className = "text";
  text.addEventListener("input", () => update(id, "text", text.value));
  text.addEventListener("focus", () => { editing = id; publishPresence(); });
  text.addEventListener("blur", () => { if (editing === id) editing = null; publishPresence(); });
  const who = document.createElement("span");
  who.className = "who";
  const position = () => items().findIndex((t) => t.id === id);
  const up = button("↑", "move up", () => move(id, position() - 1));
  const down = button("↓", "move down", () => move(id, position() + 1));
  const del = button("✕", "delete", () => remove(id));
  del.className = "delete";
  li.append(done, text, who, up, down, del);
  return { li, done, text, who };
}

/** Brings the rows in line with the document, touching only what changed. */
function render() {
  const list = items();
  const seen = new Set();
  const editors = new Map();
  for (const state of provider.presence.values()) {
    if (typeof state?.editing === "string") editors.set(state.editing, state);
  }
  list.forEach((item, position) => {
    seen.add(item.id);
    let row = rows.get(item.id);
    if (!row) {
      row = makeRow(item.id);
      rows.set(item.id, row);
    }
    const text = typeof item.text === "string" ? item.text : "";
    if (row.text.value !== text) {
      const focused = document.activeElement === row.text;
      const caret = row.text.selectionStart;
      row.text.value = text;
      if (focused) row.text.setSelectionRange(Math.min(caret, text.length), Math.min(caret, text.length));
    }
    row.done.checked = item.done === true;
    row.li.classList.toggle("done", item.done === true);
    const other = editors.get(item.id);
    if (other) {
      row.li.dataset.editing = "";
      row.li.style.setProperty("--color", String(other.color ?? "#888"));
      row.who.textContent = String(other.name ?? "");
      row.who.hidden = false;
    } else {
      delete row.li.dataset.editing;
      row.who.hidden = true;
    }
    // Move a row only when it is out of place: moving the focused row would blur it.
    if (itemsEl.children[position] !== row.li) itemsEl.insertBefore(row.li, itemsEl.children[position] ?? null);
  });
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      row.li.remove();
      rows.delete(id);
    }
  }
  const left = list.filter((t) => t.done !== true).length;
  document.getElementById("count").textContent = `${left} of ${list.length} left`;
  const badges = [...provider.presence.values()].map((state) => badge(state ?? {}));
  document.getElementById("peers").replaceChildren(...badges);
}

document.getElementById("add").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("new");
  const text = input.value.trim();
  if (text) add(text);
  input.value = "";
});
document.getElementById("new").disabled = false;
doc.subscribe(render);
provider.on("presence", render);
nameField(me, document.getElementById("name"), publishPresence);
publishPresence();
render();

window.app = { doc, provider, items, add, update, remove, move, flushed: () => provider.flushed() };
document.documentElement.dataset.ready = "true";
