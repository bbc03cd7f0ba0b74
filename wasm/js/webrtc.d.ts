// Types of webrtc.js: the provider that syncs a Doc directly with its room's peers over WebRTC,
// beside the relay.
import type { Doc } from "./crdt_wasm.js";
import type { Json, ProviderOptions, ProviderStatus, WebSocketProvider } from "./provider.js";

/** The relay's status, or "direct" while the relay is down and at least one direct link is up. */
export type WebRtcStatus = ProviderStatus | "direct";

export interface WebRtcProviderOptions extends ProviderOptions {
  /** ICE servers (STUN/TURN) for peers on other networks; default none (one machine or LAN). */
  iceServers?: RTCIceServer[];
  /** Most direct links this peer keeps; further peers sync through the relay (default 8). */
  maxDirectPeers?: number;
  /** The RTCPeerConnection constructor (default: the global one). */
  RTCPeerConnection?: typeof RTCPeerConnection;
}

/** A remote peer of the room. */
export interface PeerInfo {
  /** Its mesh id (16 hex digits), or its relay peer id until it greeted this peer. */
  peer: string;
  /** True while a data channel to it is open. */
  direct: boolean;
  /** True while the relay shows it in the room. */
  relay: boolean;
  /** Its presence state (null when it has none). */
  presence: Json;
}

export interface WebRtcProviderEvents {
  status: (status: WebRtcStatus) => void;
  /** Every other peer's presence, by peer id, whichever way it came. */
  presence: (peers: Map<string, Json>) => void;
  /** The peers list changed (a link opened or closed, a peer came or left). */
  peers: (peers: PeerInfo[]) => void;
  synced: () => void;
  error: (error: Error & { code?: number }) => void;
}

/** Splits a sync frame into data channel messages of at most `size` bytes plus a flag byte. */
export function chunkFrame(frame: Uint8Array, size?: number): Uint8Array[];

/** Reassembles what chunkFrame made; throws past `max` bytes (default 16 MiB). */
export class FrameAssembler {
  constructor(max?: number);
  /** The whole frame once its last part arrived, else null. */
  push(message: Uint8Array): Uint8Array | null;
}

export class WebRtcProvider {
  constructor(relayUrl: string, docId: string, doc: Doc, options?: WebRtcProviderOptions);
  readonly docId: string;
  readonly doc: Doc;
  /** This peer's mesh id (16 hex digits). */
  readonly peerId: string;
  readonly status: WebRtcStatus;
  readonly presence: Map<string, Json>;
  /** The WebSocketProvider this provider syncs with the relay through (and signals over). */
  readonly relay: WebSocketProvider;
  readonly maxDirectPeers: number;
  /** True when connected to the relay and the relay holds what this document holds. */
  readonly synced: boolean;
  /** Resolves when the store (if any) has loaded. */
  readonly ready: Promise<void>;
  on<E extends keyof WebRtcProviderEvents>(event: E, handler: WebRtcProviderEvents[E]): () => void;
  off<E extends keyof WebRtcProviderEvents>(event: E, handler: WebRtcProviderEvents[E]): void;
  /** Every other peer, with whether it is connected directly and whether the relay shows it. */
  peers(): PeerInfo[];
  whenSynced(): Promise<void>;
  flushed(): Promise<void>;
  /** Sets (null: withdraws) this peer's presence, on the relay and every direct link. */
  setPresence(state: Json): void;
  /** Closes every direct link and the relay sync. */
  destroy(): void;
}
