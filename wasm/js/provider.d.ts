// Types of provider.js: the WebSocket provider that syncs a Doc through a relay.
import type { Doc } from "./crdt_wasm.js";
import type { IndexedDBStore } from "./idb.js";

/** "connecting" while the socket opens; "connected" after Hello; "synced" once caught up; "offline" when down. */
export type ProviderStatus = "connecting" | "connected" | "synced" | "offline";

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface ProviderOptions {
  /** A JWT for the relay, sent as the WebSocket subprotocol `token.<JWT>` (never in the URL). */
  token?: string;
  /** Loaded before the first Hello; every local change is written to it before it is sent. */
  store?: IndexedDBStore;
  /** This peer's initial presence. */
  presence?: Json;
  /** Sync tabs of this origin through BroadcastChannel (default true where available). */
  broadcast?: boolean;
  /** The WebSocket constructor (default: the global one; Node 20 needs the `ws` package's). */
  WebSocket?: typeof WebSocket;
}

export interface ProviderEvents {
  status: (status: ProviderStatus) => void;
  /** Every other peer's presence, by peer id (16 hex digits), decoded from JSON. */
  presence: (peers: Map<string, Json>) => void;
  synced: () => void;
  error: (error: Error & { code?: number }) => void;
  /** A Signal frame for this peer: the sender's and this peer's ids (hex) and the payload. */
  signal: (signal: { kind: "signal"; doc: string; from: string; to: string; payload: Uint8Array }) => void;
}

/** The delay (ms) before reconnect attempt `attempt`: exponential from 250 ms to 30 s, jittered. */
export function backoffDelay(attempt: number, random?: () => number): number;
/** The relay's subprotocol, "crdt-sync". */
export const SUBPROTOCOL: string;
/** The subprotocols a connection offers: [] without a token, else ["crdt-sync", "token.<token>"]. */
export function connectionProtocols(token?: string | null): string[];

export class WebSocketProvider {
  constructor(url: string, docId: string, doc: Doc, options?: ProviderOptions);
  readonly url: string;
  readonly docId: string;
  readonly doc: Doc;
  readonly status: ProviderStatus;
  /** Other peers' presence, as last emitted. */
  readonly presence: Map<string, Json>;
  /** True when connected and the relay holds what this document holds. */
  readonly synced: boolean;
  /** Resolves when the store (if any) has loaded. */
  readonly ready: Promise<void>;
  on<E extends keyof ProviderEvents>(event: E, handler: ProviderEvents[E]): () => void;
  off<E extends keyof ProviderEvents>(event: E, handler: ProviderEvents[E]): void;
  whenSynced(): Promise<void>;
  /** Sets (null: withdraws) this peer's presence. */
  setPresence(state: Json): void;
  /** Sends `payload` to peer `to` of the document's room as a Signal frame; false while disconnected. */
  sendSignal(to: string, payload: Uint8Array): boolean;
  /** Resolves when every change committed so far was persisted and handed to the socket. */
  flushed(): Promise<void>;
  destroy(): void;
}
