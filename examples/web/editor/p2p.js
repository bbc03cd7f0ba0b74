// `?p2p` in the editor's URL: the note syncs with the other peers directly, browser to browser
// over WebRTC (crdt-sync's WebRtcProvider), beside the relay, which still stores everything and
// carries the signaling. `?p2p=N` caps the direct links at N (default 8; past it peers sync
// through the relay). A line under the header shows, per remote peer, whether it is connected
// directly or through the relay.
import { WebRtcProvider } from "../pkg/webrtc.js";
import { badge, param } from "../shared.js";

/** The cap on direct links when the URL has `?p2p` (`?p2p=N`: N, else 8); null without it. */
export function p2pOption() {
  const value = param("p2p", null);
  if (value === null) return null;
  const n = Number(value);
  return value !== "" && Number.isInteger(n) && n >= 0 ? n : 8;
}

/** A provider factory for openDoc (shared.js): a WebRtcProvider capped at `maxDirectPeers`. */
export function webRtcProvider(maxDirectPeers) {
  return (url, docId, doc, options) => new WebRtcProvider(url, docId, doc, { ...options, maxDirectPeers });
}

/** Adds to `parent` a line listing each remote peer as "direct" or "via relay", kept current. */
export function showLinks(provider, parent) {
  const line = document.createElement("div");
  line.id = "links";
  line.className = "people";
  parent.append(line);
  const draw = () => {
    const peers = provider.peers().map((p) => {
      const b = badge(p.presence ?? {}, p.direct ? " ⇄ direct" : " via relay");
      b.dataset.peer = p.peer;
      b.dataset.link = p.direct ? "direct" : "relay";
      return b;
    });
    const none = document.createElement("span");
    none.className = "hint";
    none.textContent = "no other peer";
    line.replaceChildren("peer to peer: ", ...(peers.length > 0 ? peers : [none]));
  };
  provider.on("peers", draw);
  draw();
}
