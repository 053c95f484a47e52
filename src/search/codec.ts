/**
 * How an inverted file stores its vectors. A codec turns vectors into fixed-size codes and back
 * (Faiss's encode_vectors / sa_encode / sa_decode) and names the list scanner that scores a
 * query against its codes in place, in the shared arena, on any thread. F32Codec keeps the
 * vectors as they are (IndexIVFFlat); SQ8Codec (./sq8.ts, d bytes a vector) and PQCodec
 * (./pq.ts, m bytes) trade accuracy for memory, each with a scanner of its own (./scan.ts).
 */
import { NitamonoError } from '../errors.js';
import { checkDim } from '../validate.js';
import type { KMeansOptions } from './kmeans.js';
import type { ListScannerName } from './scan.js';

/** What codecs that learn codebooks with k-means take from the index's training options. */
export type CodecTrainOptions = Omit<KMeansOptions, 'metric' | 'assign'>;

export interface CodecTrainResult {
  /** Sample vectors the parameters were learnt from (after subsampling). */
  trainedOn: number;
  warnings: string[];
}

export interface VectorCodec {
  readonly name: string;
  /** Dimension of the vectors it encodes. */
  readonly d: number;
  /** The entry of LIST_SCANNERS (./scan.ts) that scores queries against these codes. */
  readonly scanner: ListScannerName;
  /** decode(encode(x)) gives x back exactly. */
  readonly lossless: boolean;
  /** Ready to encode: always for codecs with nothing to learn, after train() for the others. */
  readonly isTrained: boolean;
  /** Bytes of the trained parameters (ranges, codebooks) held in memory; 0 for none. */
  readonly memoryBytes: number;
  /**
   * The trained parameters its list scanner reads, as one f32 array the index places in its
   * arena (LIST_SCANNERS[scanner] documents the layout); empty for codecs with none.
   */
  scanParams(): Float32Array;
  /** Bytes of the code of one vector of dimension d. */
  codeSize(d: number): number;
  /** Learns the codec's parameters (ranges, codebooks) from n sample vectors; lossless codecs have none. */
  train?(vectors: Float32Array, n: number, options?: CodecTrainOptions): CodecTrainResult | Promise<CodecTrainResult>;
  /** Writes the codes of n vectors (n×d) into out (n×codeSize bytes). */
  encode(vectors: Float32Array, n: number, out: Uint8Array): void;
  /** Writes the n vectors of n codes into out (n×d). */
  decode(codes: Uint8Array, n: number, out: Float32Array): void;
}

export function checkRoom(what: string, have: number, need: number): void {
  if (have < need) throw new NitamonoError('INVALID_ARGUMENT', `${what} holds ${have} bytes, ${need} are needed`);
}

const bytesOf = (v: Float32Array, bytes: number): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, bytes);

/** What the codecs with nothing to learn share (each value stored on its own): trained from the start, no parameters. */
export abstract class UntrainedCodec {
  readonly isTrained = true;
  readonly memoryBytes = 0;
  readonly d: number;

  constructor(d: number) {
    this.d = checkDim(d);
  }

  scanParams(): Float32Array {
    return new Float32Array(0);
  }
}

/** Raw float32: the code of a vector is its 4·d bytes. */
export class F32Codec extends UntrainedCodec implements VectorCodec {
  readonly name = 'f32';
  readonly scanner = 'f32' as const;
  readonly lossless = true;

  codeSize(d: number): number {
    return d * 4;
  }

  encode(vectors: Float32Array, n: number, out: Uint8Array): void {
    const bytes = n * this.codeSize(this.d);
    checkRoom('vectors', vectors.byteLength, bytes);
    checkRoom('the code buffer', out.byteLength, bytes);
    out.set(bytesOf(vectors, bytes));
  }

  decode(codes: Uint8Array, n: number, out: Float32Array): void {
    const bytes = n * this.codeSize(this.d);
    checkRoom('codes', codes.byteLength, bytes);
    checkRoom('the output', out.byteLength, bytes);
    // byte copy: codes need not be 4-byte aligned
    bytesOf(out, bytes).set(codes.subarray(0, bytes));
  }
}
