/**
 * What travels between the coordinator and the shards (HTTP, JSON bodies). Vectors, ids and
 * distances go as base64 of little-endian float32 / int32 arrays: bit-exact (a JSON number may
 * not round-trip a float32 as written) and a third the size of decimal text.
 */
import { invalid } from '../errors.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function toBytes(a: Float32Array | Int32Array, setLE: (view: DataView, at: number, v: number) => void): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const out = Buffer.alloc(a.length * 4);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < a.length; i++) setLE(view, i * 4, a[i]!);
  return out;
}

function fromBase64(s: string, what: string): Buffer {
  if (typeof s !== 'string' || s.length % 4 !== 0 || !BASE64.test(s)) throw invalid(`${what} must be base64 (RFC 4648, padded)`);
  const b = Buffer.from(s, 'base64');
  if (b.length % 4 !== 0) throw invalid(`${what} must hold whole 4-byte numbers, got ${b.length} bytes`);
  return b;
}

export function f32ToBase64(a: Float32Array): string {
  return toBytes(a, (v, at, x) => v.setFloat32(at, x, true)).toString('base64');
}

export function i32ToBase64(a: Int32Array): string {
  return toBytes(a, (v, at, x) => v.setInt32(at, x, true)).toString('base64');
}

/** base64 of little-endian float32 → a fresh Float32Array; INVALID_ARGUMENT naming `what` if malformed. */
export function base64ToF32(s: string, what: string): Float32Array {
  const b = fromBase64(s, what);
  const out = new Float32Array(b.length / 4);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(b);
  else for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

export function base64ToI32(s: string, what: string): Int32Array {
  const b = fromBase64(s, what);
  const out = new Int32Array(b.length / 4);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(b);
  else for (let i = 0; i < out.length; i++) out[i] = b.readInt32LE(i * 4);
  return out;
}

/** POST /search: a batch of queries for one shard. */
export interface ShardSearchRequest {
  /** nq×dim float32, little-endian, base64. */
  queries: string;
  dim: number;
  k: number;
  /** IVF lists to scan (default DEFAULT_NPROBE); ignored by a flat shard. */
  nprobe?: number;
  /** Scan every list of an IVF shard (exact answers). */
  exact?: boolean;
  /** Answer at this catalogue generation or later: a shard behind it catches up first (for at most wait_ms). */
  min_generation?: number;
  /** How long to wait for min_generation, ms (default 1000). */
  wait_ms?: number;
}

/** Its answer. */
export interface ShardSearchReply {
  shard: { index: number; count: number };
  /** The catalogue generation the searched index reflects. */
  generation: number;
  /** Vectors in the shard's index. */
  size: number;
  dim: number;
  nq: number;
  k: number;
  index: 'flat' | 'ivf' | 'empty';
  nprobe?: number;
  nlist?: number;
  quantizer_version?: number;
  /** nq×k int32 ids, -1 pads (fewer than k vectors). */
  labels: string;
  /** nq×k float32 squared L2 distances, NaN pads. */
  distances: string;
  distances_computed: number;
  /** The scan alone. */
  search_ms: number;
  /** From the request's arrival to the reply (scan, waiting for a generation, decoding). */
  took_ms: number;
  warnings?: string[];
}

/** GET /health */
export interface ShardHealth {
  status: 'ready' | 'starting';
  shard: { index: number; count: number };
  collection: string;
  features: string;
  /** The feature space's model ('rgb-hist-4', a deep model); null while the settings are not known. */
  model: string | null;
  generation: number;
  size: number;
  dim: number | null;
  index: 'flat' | 'ivf' | 'empty' | null;
  nlist: number | null;
  quantizer_version: number;
  node: string;
  url: string;
  uptime_ms: number;
  /** Why it is not ready, or the last failure to follow the catalogue (it keeps serving what it has). */
  message?: string;
}
