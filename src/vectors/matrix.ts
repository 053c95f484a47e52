/**
 * Validation and small conveniences for row-major float32 matrices (`n` rows of `dim` floats,
 * rows contiguous), the shape every index, query batch and vector file uses.
 */
import { NitamonoError } from '../errors.js';
import { checkDim } from '../validate.js';

// The check lives with the other argument checks; re-exported here, where callers met it first.
export { checkVectors } from '../validate.js';

/**
 * Scales every row to unit L2 norm (for cosine similarity via inner product). Rows whose norm
 * is zero stay zero. Returns `vectors` itself when `inPlace`, otherwise a new array.
 */
export function l2Normalize(vectors: Float32Array, dim: number, inPlace = false): Float32Array {
  checkDim(dim, 'l2Normalize');
  if (vectors.length % dim !== 0) {
    throw new NitamonoError('DIMENSION_MISMATCH', `l2Normalize: length ${vectors.length} is not a multiple of the dimension ${dim}`);
  }
  const out = inPlace ? vectors : new Float32Array(vectors.length);
  const n = vectors.length / dim;
  for (let r = 0; r < n; r++) {
    const off = r * dim;
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const x = vectors[off + j]!;
      s += x * x;
    }
    if (s > 0 && Number.isFinite(s)) {
      const inv = 1 / Math.sqrt(s);
      for (let j = 0; j < dim; j++) out[off + j] = vectors[off + j]! * inv;
    } else if (!inPlace) {
      // zero rows stay zero; non-finite rows are copied unchanged for checkVectors to report
      for (let j = 0; j < dim; j++) out[off + j] = vectors[off + j]!;
    }
  }
  return out;
}

/**
 * Packs an array of rows (e.g. `number[][]` from JSON) into one Float32Array. All rows must
 * have the same, non-zero length. For convenience outside hot paths.
 */
export function toFloat32Matrix(rows: ArrayLike<ArrayLike<number>>): { data: Float32Array; n: number; dim: number } {
  const n = rows.length;
  if (n === 0) {
    throw new NitamonoError('INVALID_ARGUMENT', 'toFloat32Matrix: no rows given');
  }
  const first = rows[0];
  if (first == null || typeof first.length !== 'number') {
    throw new NitamonoError('INVALID_ARGUMENT', 'toFloat32Matrix: row 0 is not an array');
  }
  const dim = first.length;
  if (dim === 0) {
    throw new NitamonoError('INVALID_ARGUMENT', 'toFloat32Matrix: row 0 is empty');
  }
  const data = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) {
    const row = rows[r];
    if (row == null || typeof row.length !== 'number') {
      throw new NitamonoError('INVALID_ARGUMENT', `toFloat32Matrix: row ${r} is not an array`);
    }
    if (row.length !== dim) {
      throw new NitamonoError('DIMENSION_MISMATCH', `toFloat32Matrix: row ${r} has ${row.length} values, expected ${dim} (the length of row 0)`);
    }
    const off = r * dim;
    for (let j = 0; j < dim; j++) data[off + j] = Number(row[j]);
  }
  return { data, n, dim };
}
