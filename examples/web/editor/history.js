// The editor's history panel: a slider over every committed change of the note, from the empty
// note (0) to now (the number of changes). Moving it shows the note as it was after that change
// (doc.viewAt of the version after the first k entries of doc.history(), a read-only document),
// with the change's author, time and message; "Restore this version" makes one new change that
// turns the note back into that text (doc.restore), which syncs to everyone like any edit. The
// history itself stays, so a restore can be undone by restoring a later version.
//
// The panel reads history only while it is open: a closed panel costs the editor nothing.

/** The version after the first `k` entries of `entries` (a prefix of a causal order is a version). */
export function versionAfter(entries, k) {
  const version = {};
  for (const e of entries.slice(0, k)) version[e.replica] = e.last;
  return version;
}

/**
 * Wires the panel of editor/index.html (#history, #history-slider, #history-label,
 * #history-preview, #history-restore) to `doc`. `names()` maps replica ids to people's names;
 * `preview(element, view)` shows a read-only document (default: its text `textName` as plain
 * text). The editor follows a restore by itself: it is a change of the document.
 */
export function historyPanel({ doc, textName, names, preview: showPreview }) {
  const panel = document.getElementById("history");
  const slider = document.getElementById("history-slider");
  const label = document.getElementById("history-label");
  const preview = document.getElementById("history-preview");
  const restore = document.getElementById("history-restore");
  let entries = [];

  function author(replica) {
    if (replica === doc.replicaId) return "you";
    return names().get(replica) ?? `peer ${replica.slice(-4)}`;
  }

  function describe(k) {
    if (k === 0) return `0 of ${entries.length}: the empty note`;
    const e = entries[k - 1];
    const when = e.time === null ? "" : ` · ${new Date(e.time).toLocaleString()}`;
    const message = e.message === null ? "" : ` · “${e.message}”`;
    const now = k === entries.length ? " (now)" : "";
    return `${k} of ${entries.length}${now} · ${author(e.replica)}${when}${message}`;
  }

  /** Shows the note at the slider's version. */
  function show() {
    const k = Number(slider.value);
    const view = doc.viewAt(versionAfter(entries, k));
    try {
      if (showPreview) showPreview(preview, view);
      else preview.textContent = view.getText(textName).toString();
    } finally {
      view.free();
    }
    label.textContent = describe(k);
    restore.disabled = k === entries.length;
  }

  /** Re-reads the history (the slider stays on "now" when it was there). */
  function refresh() {
    if (!panel.open) return;
    const atNow = slider.value === slider.max;
    entries = doc.history();
    slider.max = String(entries.length);
    if (atNow || Number(slider.value) > entries.length) slider.value = slider.max;
    show();
  }

  slider.addEventListener("input", show);
  panel.addEventListener("toggle", refresh);
  doc.subscribe(refresh);
  restore.addEventListener("click", () => {
    const k = Number(slider.value);
    doc.restore(versionAfter(entries, k), { message: `Restored version ${k}`, time: Date.now() });
    slider.value = slider.max; // the restore is the newest change: show "now"
    refresh();
  });
  return { refresh };
}
