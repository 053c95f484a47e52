/**
 * Faiss's index_factory strings, for the subset nitamono builds, plus its own 'flat' and 'ivf':
 *
 *   Flat             exact search (FlatIndex)                   also 'flat'
 *   IVF{n},Flat      inverted file of float32 rows (IVFIndex)   'ivf' = nlist ⌈√N⌉
 *   SQ8              8-bit scalar quantizer codes (SQ8Index)
 *   PQ{m}            product quantizer, m bytes (PQIndex)
 *   IVF{n},SQ8       inverted file of SQ8 residuals (IVFSQ8Index)
 *   SQfp16           half-precision rows, 2·d bytes (FP16Index)
 *   IVF{n},SQfp16    inverted file of half-precision residuals (IVFFP16Index)
 *   IVF{n},PQ{m}     inverted file of PQ residuals (IVFPQIndex)
 *   PQ{m}x4fs        4-bit PQ, m/2 bytes, scanned with byte tables ("fast scan"; PQIndex, nbits 4)
 *   IVF{n},PQ{m}x4fs inverted file of 4-bit PQ codes of the vectors, fast scan (IVFPQIndex, nbits 4,
 *                    byResidual false: Faiss's IndexIVFPQFastScan default, one table per query)
 *   IVF{n},PQ{m}x4fsr the same of residuals (byResidual true: finer codes, a table per probed list)
 *   …,RFlat          the compressed ones re-ranked with full vectors kept outside the index
 *   IVF{n}_HNSW{M},… any IVF kind whose coarse step searches an HNSW graph over the centroids
 *                    (M neighbours per node) instead of scanning them all: for large nlist
 *   OPQ{m},PQ{m}     PQ (or IVF-PQ: OPQ{m},IVF{n},PQ{m}) behind a learnt rotation (./opq.ts); the
 *                    m of OPQ and of PQ must agree, and d % m == 0
 *
 * PQ{m} may be written PQ{m}x8 (8 bits per sub-code) and end in 'np', which Faiss reads as "no
 * polysemous training"; nitamono never trains polysemous codes, so PQ16 and PQ16np are the same
 * index. 4-bit codes are only scanned the fast way: PQ{m}x4 is read as PQ{m}x4fs, and after
 * IVF{n} as PQ{m}x4fsr (residuals, as Faiss's IVF{n},PQ{m}x4); m must be even. Other widths are
 * refused. Components are matched without regard to case.
 */
import { invalid } from '../errors.js';
import { checkMetric } from '../validate.js';
import { FP16Index, IVFFP16Index, IVFPQIndex, IVFSQ8Index, PQIndex, SQ8Index } from './coded.js';
import { FlatIndex } from './flat.js';
import { IVFIndex } from './ivf.js';
import type { OPQOptions } from './opq.js';
import { PQ4_NBITS } from './pq.js';
import type { RefineVectors } from './refine.js';
import type { Metric } from './types.js';

export type FactoryKind = 'flat' | 'ivf' | 'sq8' | 'pq' | 'ivf-sq8' | 'ivf-pq' | 'fp16' | 'ivf-fp16';

export interface IndexSpec {
  /** The registered kind it builds. */
  kind: FactoryKind;
  /** Inverted lists of the IVF kinds; undefined for 'ivf', whose nlist is ⌈√N⌉ of the training set. */
  nlist?: number;
  /** IVF{n}_HNSW{M}: the coarse quantizer's graph has M neighbours per node. */
  hnswM?: number;
  /** PQ sub-quantizers. */
  m?: number;
  /** PQ{m}x4fs: 4 bits per sub-code, fast scan (absent: 8 bits). */
  nbits?: 4;
  /** IVF{n},PQ{m}x4fs: false (codes of the vectors); …x4fsr: true (of residuals). Absent: residuals. */
  byResidual?: boolean;
  /** OPQ{m},…: the PQ kinds behind an OPQ rotation learnt for m sub-quantizers (= m). */
  opq?: number;
  /** ',RFlat': re-rank with full vectors (compressed kinds only). */
  refine: boolean;
  /** The string in canonical form ('IVF256,PQ16,RFlat', 'flat', 'ivf', …). */
  description: string;
}

/** What the error messages list as accepted. */
export const FACTORY_FORMS =
  "Flat, IVF{n},Flat, IVF{n},SQ8, IVF{n},SQfp16, IVF{n},PQ{m}, SQ8, SQfp16, PQ{m}, OPQ{m},PQ{m}, OPQ{m},IVF{n},PQ{m} (PQ{m} may be written PQ{m}x8 or PQ{m}np, or PQ{m}x4fs for 4-bit fast scan, after IVF{n} also PQ{m}x4fsr on residuals; IVF{n} as IVF{n}_HNSW{M}), each compressed one optionally followed by ',RFlat'; or 'flat', 'ivf'";

const INT = /^[1-9][0-9]{0,8}$/;

/** Parses a factory string; INVALID_ARGUMENT naming the part that does not parse and listing the accepted forms. */
export function parseIndexFactory(description: unknown): IndexSpec {
  if (typeof description !== 'string') throw invalid(`an index factory string is a string, got ${typeof description} (accepted: ${FACTORY_FORMS})`);
  const text = description.trim();
  const bad = (part: string, why: string): never => {
    throw invalid(`index factory string '${description}': ${why.replace('%', `'${part}'`)} (accepted: ${FACTORY_FORMS})`);
  };
  if (text === '') bad('', 'is empty');
  if (text === 'flat') return { kind: 'flat', refine: false, description: 'flat' };
  if (text === 'ivf') return { kind: 'ivf', refine: false, description: 'ivf' };
  const parts = text.split(',').map((p) => p.trim());
  let i = 0;
  let opq: number | undefined;
  const pre = /^opq(.*)$/i.exec(parts[0]!);
  if (pre) {
    const [m, d2] = pre[1]!.split('_');
    if (!INT.test(m!)) bad(parts[0]!, '% needs its number of sub-quantizers m, e.g. OPQ16 (as the PQ16 after it)');
    if (d2 !== undefined)
      bad(parts[0]!, `% changes the dimension to ${d2}: OPQ{m}_{d2} (a rotation to another dimension) is not supported, write OPQ${m} (a d×d rotation)`);
    opq = Number(m);
    i++;
    if (i >= parts.length) bad(parts[0]!, `% is a rotation in front of a product quantizer: write ${parts[0]},PQ${m} or ${parts[0]},IVF{n},PQ${m}`);
  }
  let nlist: number | undefined;
  let hnswM: number | undefined;
  const ivf = /^ivf(.*)$/i.exec(parts[i]!);
  if (ivf) {
    const part = parts[i]!;
    let n = ivf[1]!;
    const hnsw = /^(.*)_hnsw(.*)$/i.exec(n);
    if (hnsw) {
      n = hnsw[1]!;
      const m = hnsw[2]!;
      if (!INT.test(m) || Number(m) < 2 || Number(m) > 512) bad(part, '% needs HNSW followed by its neighbours per node M (2 to 512), e.g. IVF65536_HNSW32');
      hnswM = Number(m);
    }
    if (!INT.test(n)) bad(part, n === '' ? '% needs its number of lists, e.g. IVF256' : '% is not IVF followed by a positive number of lists');
    nlist = Number(n);
    i++;
    if (i >= parts.length) bad(part, `% needs a storage after it: ${part},Flat, ${part},SQ8 or ${part},PQ{m}`);
  }
  const storage = parts[i]!;
  let kind: FactoryKind;
  let m: number | undefined;
  let nbits: 4 | undefined;
  let byResidual: boolean | undefined;
  let canon: string;
  const pq = /^pq([0-9]*)(?:x([0-9]+))?(np|fsr?)?$/i.exec(storage);
  if (/^flat$/i.test(storage)) {
    kind = nlist === undefined ? 'flat' : 'ivf';
    canon = 'Flat';
  } else if (/^sq8$/i.test(storage)) {
    kind = nlist === undefined ? 'sq8' : 'ivf-sq8';
    canon = 'SQ8';
  } else if (/^sqfp16$/i.test(storage)) {
    kind = nlist === undefined ? 'fp16' : 'ivf-fp16';
    canon = 'SQfp16';
  } else if (pq) {
    if (!INT.test(pq[1]!)) bad(storage, '% needs its number of sub-quantizers m, e.g. PQ16');
    const bits = pq[2] === undefined ? 8 : Number(pq[2]);
    const suffix = pq[3]?.toLowerCase();
    if (bits !== 8 && bits !== PQ4_NBITS) bad(storage, `nbits in % must be 8 (256 codewords per sub-quantizer) or 4 (16, fast scan: PQ{m}x4fs), got ${pq[2]}`);
    if (suffix?.startsWith('fs') && bits !== PQ4_NBITS) bad(storage, `fast scan (fs) in % takes 4-bit codes: write PQ${pq[1]}x4fs`);
    if (suffix === 'fsr' && nlist === undefined)
      bad(storage, `'fsr' in % encodes residuals of inverted lists: write IVF{n},PQ${pq[1]}x4fsr, or PQ${pq[1]}x4fs`);
    if (suffix === 'np' && bits === PQ4_NBITS) bad(storage, `'np' in % is for 8-bit codes; 4-bit ones are scanned fast: write PQ${pq[1]}x4fs`);
    m = Number(pq[1]);
    if (bits === PQ4_NBITS && m % 2 !== 0) bad(storage, `% has 4-bit codes, two sub-codes a byte: m must be even, got ${m}`);
    kind = nlist === undefined ? 'pq' : 'ivf-pq';
    if (bits === PQ4_NBITS) {
      nbits = PQ4_NBITS;
      if (nlist !== undefined) byResidual = suffix !== 'fs';
    }
    canon = `PQ${m}${nbits ? `x4fs${byResidual ? 'r' : ''}` : ''}`;
  } else if (storage === '') {
    bad(storage, 'has an empty part');
  } else if (/^(sq|sqfp|sqbf)/i.test(storage)) {
    bad(storage, 'scalar quantizer % is not supported, only SQ8 and SQfp16');
  } else if (/^opq/i.test(storage)) {
    bad(storage, 'pre-transform % must come first');
  } else if (/^(pca|itq|rr|l2norm)/i.test(storage)) {
    bad(storage, 'pre-transform % is not supported');
  } else if (/^(hnsw|nsg|lsh|idmap|imi|residual|refine)/i.test(storage)) {
    bad(storage, 'index type % is not supported');
  } else {
    bad(storage, '% is not a storage nitamono knows');
  }
  if (opq !== undefined && m === undefined) bad(parts[0]!, `% rotates for a product quantizer: '${storage}' is not one (write ${parts[0]},PQ${opq})`);
  if (opq !== undefined && opq !== m) bad(parts[0]!, `the m of % must be the PQ's (${storage}): write OPQ${m!},… or …,PQ${opq}`);
  i++;
  let refine = false;
  if (i < parts.length) {
    if (!/^rflat$/i.test(parts[i]!)) bad(parts[i]!, `% cannot follow ${parts.slice(0, i).join(',')}`);
    if (kind! === 'flat' || kind! === 'ivf') bad(parts[i]!, `% re-ranks compressed codes; ${parts.slice(0, i).join(',')} already stores the full vectors`);
    refine = true;
    i++;
  }
  if (i < parts.length) bad(parts[i]!, '% comes after the end of the index description');
  const coarse = nlist === undefined ? [] : [`IVF${nlist}${hnswM !== undefined ? `_HNSW${hnswM}` : ''}`];
  const description2 = [...(opq !== undefined ? [`OPQ${opq}`] : []), ...coarse, canon!, ...(refine ? ['RFlat'] : [])].join(',');
  return {
    kind: kind!,
    ...(opq !== undefined ? { opq } : {}),
    ...(nlist !== undefined ? { nlist } : {}),
    ...(hnswM !== undefined ? { hnswM } : {}),
    ...(m !== undefined ? { m } : {}),
    ...(nbits !== undefined ? { nbits } : {}),
    ...(byResidual !== undefined ? { byResidual } : {}),
    refine,
    description: description2,
  };
}

export interface FactoryOptions {
  metric?: Metric;
  /** nlist for 'ivf' (which otherwise takes ⌈√N⌉); must agree with IVF{n} when both are given. */
  nlist?: number;
  /** Full vectors for re-ranking: required by ',RFlat', accepted by every compressed kind. */
  refine?: RefineVectors;
  /** Default re-ranking factor of a compressed index (default 1). */
  refineFactor?: number;
  /** IVF-PQ: the precomputed table policy (default 'auto'). */
  precomputedTable?: boolean | 'auto';
  /** IVF{n}_HNSW{M}: candidates kept while building the graph (default 40) and per search (default 64). */
  efConstruction?: number;
  efSearch?: number;
  /** OPQ{m},…: the rotation's training settings (default Faiss's; see OPQOptions). */
  opq?: OPQOptions;
}

export type FactoryIndex = FlatIndex | IVFIndex | SQ8Index | PQIndex | IVFSQ8Index | IVFPQIndex | FP16Index | IVFFP16Index;

/**
 * A new, empty index of dimension `dim` as `description` says (a factory string, or what
 * parseIndexFactory made of one). Trainable kinds still need train().
 */
export function indexFactory(dim: number, description: string | IndexSpec, options: FactoryOptions = {}): FactoryIndex {
  const spec = typeof description === 'string' ? parseIndexFactory(description) : description;
  const metric = checkMetric(options.metric ?? 'l2');
  let nlist = spec.nlist;
  if (options.nlist !== undefined) {
    if (nlist !== undefined && nlist !== options.nlist) throw invalid(`nlist ${options.nlist} disagrees with '${spec.description}' (${nlist} lists)`);
    nlist = options.nlist;
  }
  const compressed = spec.kind !== 'flat' && spec.kind !== 'ivf';
  if (spec.opq !== undefined && dim % spec.opq !== 0)
    throw invalid(`'${spec.description}': OPQ${spec.opq} needs m to divide the dimension ${dim} (${dim} / ${spec.opq} is not whole)`);
  if (options.opq !== undefined && spec.opq === undefined) throw invalid(`OPQ settings apply to OPQ{m},… indexes; '${spec.description}' has no rotation`);
  const opq = spec.opq !== undefined ? { opq: options.opq ?? true } : {};
  const bits = spec.nbits !== undefined ? { nbits: spec.nbits } : {};
  if (spec.refine && !options.refine)
    throw invalid(`'${spec.description}' re-ranks with full vectors: pass them as the refine option (a vectors file, or a callback)`);
  if (!compressed && (options.refine || options.refineFactor !== undefined)) {
    throw invalid(
      `'${spec.description}' stores the full vectors: refine vectors and refineFactor apply to the compressed kinds (SQ8, SQfp16, PQ{m}, IVF{n},SQ8, IVF{n},SQfp16, IVF{n},PQ{m})`,
    );
  }
  const coded = {
    metric,
    ...(options.refine ? { refine: options.refine } : {}),
    ...(options.refineFactor !== undefined ? { refineFactor: options.refineFactor } : {}),
  };
  const hnsw =
    spec.hnswM !== undefined
      ? {
          hnsw: {
            M: spec.hnswM,
            ...(options.efConstruction !== undefined ? { efConstruction: options.efConstruction } : {}),
            ...(options.efSearch !== undefined ? { efSearch: options.efSearch } : {}),
          },
        }
      : {};
  const lists = { ...(nlist !== undefined ? { nlist } : {}), ...hnsw };
  switch (spec.kind) {
    case 'flat':
      return new FlatIndex(dim, { metric });
    case 'ivf':
      return new IVFIndex(dim, { metric, ...lists });
    case 'sq8':
      return new SQ8Index(dim, coded);
    case 'pq':
      return new PQIndex(dim, { ...coded, m: spec.m!, ...bits, ...opq });
    case 'ivf-sq8':
      return new IVFSQ8Index(dim, { ...coded, ...lists });
    case 'fp16':
      return new FP16Index(dim, coded);
    case 'ivf-fp16':
      return new IVFFP16Index(dim, { ...coded, ...lists });
    case 'ivf-pq':
      return new IVFPQIndex(dim, {
        ...coded,
        ...lists,
        m: spec.m!,
        ...bits,
        ...(spec.byResidual !== undefined ? { byResidual: spec.byResidual } : {}),
        ...opq,
        ...(options.precomputedTable !== undefined ? { precomputedTable: options.precomputedTable } : {}),
      });
  }
}
