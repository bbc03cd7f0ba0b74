//! TypeScript declarations of the plain JS values the bindings exchange (versions, cursors,
//! scalars, events), added to the `.d.ts` that wasm-bindgen generates so that the signatures
//! below name them instead of `any`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A replica id: 16 hex digits (`doc.replicaId`). */
export type ReplicaId = string;
/** A version: replica id to the highest counter held from it. */
export type Version = Record<ReplicaId, number>;
/** What a map or list holds (`bigint` for integers beyond ±2^53). */
export type Scalar = null | boolean | number | bigint | string | Uint8Array;
export type ContainerKind = "map" | "list" | "text" | "counter";
/** A stored value: a scalar or a nested container's handle. */
export type Value = Scalar | Text | Map | List | Counter;
/** A stable position in a text; JSON-safe. */
export interface Cursor {
  anchor: { replica: ReplicaId; counter: number } | null;
  assoc: "before" | "after";
}
/**
 * One change to one container. Text patches give the position twice, as the text was just
 * before the patch: `index` in Unicode code points, `indexUtf16` in UTF-16 code units (what JS
 * string methods, `text.insert`/`text.delete` and editors count; apply patches with it). A
 * `textDelete` removes `len` code points, which are `lenUtf16` UTF-16 code units.
 */
export type Patch = { path: (string | number)[] | null; container: ContainerKind } & (
  | { action: "mapPut"; key: string; value: Scalar | { container: ContainerKind }; conflicts: number }
  | { action: "mapDelete"; key: string }
  | { action: "textInsert"; index: number; indexUtf16: number; text: string; attributes?: Attributes }
  | { action: "textMark"; index: number; indexUtf16: number; len: number; lenUtf16: number; key: string; value: Scalar }
  | { action: "textDelete"; index: number; indexUtf16: number; len: number; lenUtf16: number }
  | { action: "listInsert"; index: number; values: (Scalar | { container: ContainerKind })[] }
  | { action: "listDelete"; index: number; len: number }
  | { action: "counterAdd"; delta: number | bigint }
);
/** What `doc.subscribe` listeners receive after a commit or an import. */
export interface DocEvent {
  origin: "local" | "remote";
  patches: Patch[];
}
/** What `describeFrame` tells of a frame. */
export interface FrameInfo {
  kind: "hello" | "changes" | "ack" | "presence" | "error" | "signal";
  doc?: string;
  code?: number;
  message?: string;
  /** Signals: the sender's and the addressee's peer ids, and the payload. */
  from?: string;
  to?: string;
  payload?: Uint8Array;
}
"#;
