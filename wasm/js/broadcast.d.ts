// Types of broadcast.js: syncing one document between tabs of an origin.
import type { Doc } from "./crdt_wasm.js";

/** The BroadcastChannel name of document `docId`. */
export function channelName(docId: string): string;

export class TabChannel {
  /** Joins the channel of `docId` and asks other tabs for what `doc` lacks. */
  constructor(docId: string, doc: Doc, BroadcastChannel?: typeof globalThis.BroadcastChannel);
  /** Sends other tabs the changes made since the last post. */
  post(): void;
  close(): void;
}
