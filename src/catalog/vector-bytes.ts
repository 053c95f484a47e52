/**
 * Vectors as stored bytes: float32 little-endian, the layout every catalogue backend uses
 * (SQLite BLOB, PostgreSQL bytea), so a vector moves between backends bit-exactly.
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** float32 vector → bytes (a view, no copy, on little-endian hosts). */
export function vectorToBlob(v: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const out = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) out.writeFloatLE(v[i]!, i * 4);
  return out;
}

/** Bytes → a fresh Float32Array (copied, so the source's alignment never matters). */
export function blobToVector(b: Uint8Array): Float32Array {
  const out = new Float32Array(b.byteLength >>> 2);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
  else {
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  }
  return out;
}

/** The distinct non-negative int32 ids of `ids`, ascending. */
export function distinctIds(ids: ArrayLike<number>): Int32Array {
  const set = new Set<number>();
  for (let j = 0; j < ids.length; j++) {
    const id = ids[j]!;
    if (Number.isInteger(id) && id >= 0 && id <= 0x7fffffff) set.add(id);
  }
  return Int32Array.from(set).sort();
}
