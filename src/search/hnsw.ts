/**
 * A hierarchical navigable small-world graph (Malkov & Yashunin, 2018) over the centroids of
 * a coarse quantizer, as Faiss's IndexHNSWFlat serves `IVF65536_HNSW32`: for nlist in the tens
 * of thousands the exhaustive coarse step (every query against every centroid) costs more than
 * the lists it leads to, and a graph search reaches the nearest centroids after a few thousand.
 *
 * Node v has a level drawn as ⌊−ln U · 1/ln M⌋; it has 2M neighbour slots on level 0 and M on
 * each level up to its own (-1 for an empty slot), stored one node after another (offsets).
 * A search descends greedily from the entry point through the upper levels, then keeps the
 * `ef` best candidates on level 0 (best-first search) and returns the k best, ties broken on
 * the node number. Scores are the kernels' (scoresAt gives the bits scanTopK would), so a
 * list found both ways has the same coarse score. Building inserts centroids in order with
 * `efConstruction` candidates and Faiss's neighbour-pruning heuristic (a candidate is kept
 * only if no neighbour already kept is closer to it than the new node is).
 *
 * The graph lives in the main arena; the search runs on any thread (it reads the graph in
 * place) with a small arena scratch for the kernel's row lists and scores.
 */
import { NitamonoError } from '../errors.js';
import type { Kernels, MetricCode } from '../kernels/types.js';
import { rng } from '../util/random.js';

export interface HNSWLayout {
  /** Nodes (centroids). */
  n: number;
  M: number;
  entry: number;
  maxLevel: number;
  /** i32 n: level of each node */
  levels: number;
  /** i32 n+1: first neighbour slot of each node */
  offsets: number;
  /** i32: neighbour slots */
  neighbors: number;
}

/** Neighbour slots of a node of level `level`. */
export const slotsOf = (M: number, level: number): number => 2 * M + level * M;

/** Arena scratch bytes of one search: the row numbers and scores of one node's neighbours. */
export function hnswScratchBytes(M: number): number {
  return 2 * 2 * M * 4 + 64;
}

/** A node number and its score, kept in arrays: a binary heap on (score, node). */
class Heap {
  s: number[] = [];
  v: number[] = [];
  /** max: the worst on top (results); else the best on top (candidates). */
  constructor(private readonly max: boolean) {}
  get size(): number {
    return this.s.length;
  }
  /** a before b at the top */
  private above(a: number, b: number): boolean {
    const sa = this.s[a]!,
      sb = this.s[b]!;
    const lt = sa < sb || (sa === sb && this.v[a]! < this.v[b]!);
    const gt = sa > sb || (sa === sb && this.v[a]! > this.v[b]!);
    return this.max ? gt : lt;
  }
  private swap(a: number, b: number): void {
    const s = this.s[a]!,
      v = this.v[a]!;
    this.s[a] = this.s[b]!;
    this.v[a] = this.v[b]!;
    this.s[b] = s;
    this.v[b] = v;
  }
  push(score: number, node: number): void {
    this.s.push(score);
    this.v.push(node);
    let i = this.s.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): void {
    const last = this.s.length - 1;
    this.swap(0, last);
    this.s.pop();
    this.v.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1,
        r = l + 1;
      let t = i;
      if (l < this.s.length && this.above(l, t)) t = l;
      if (r < this.s.length && this.above(r, t)) t = r;
      if (t === i) break;
      this.swap(i, t);
      i = t;
    }
  }
}

/** (s1, v1) < (s2, v2) */
const before = (s1: number, v1: number, s2: number, v2: number): boolean => s1 < s2 || (s1 === s2 && v1 < v2);

/** Visited marks by search generation (one array per thread, grown as needed). */
let marks = new Uint32Array(0);
let stamp = 0;
function newStamp(n: number): number {
  if (marks.length < n) {
    marks = new Uint32Array(n);
    stamp = 0;
  }
  if (++stamp === 0xffffffff) {
    marks.fill(0);
    stamp = 1;
  }
  return stamp;
}

/** How a graph is read: neighbour slots and offsets (arena views, or the builder's arrays). */
interface Graph {
  n: number;
  M: number;
  offsets: Int32Array;
  neighbors: Int32Array;
}

/**
 * Scores of the query at `q` against rows (the kernel, through the arena scratch). Its views
 * are made once: nothing allocates in the arena while a graph is searched or built, so the
 * memory does not grow under them.
 */
class Scorer {
  computed = 0;
  /** The row numbers to score: fill rows[0..n), then call run(q, n). */
  readonly rows: Int32Array;
  /** Their scores, after run. */
  readonly out: Float32Array;
  private readonly outPtr: number;
  constructor(
    private readonly K: Kernels,
    private readonly metric: MetricCode,
    private readonly d: number,
    private readonly base: number,
    private readonly scratch: number,
    cap: number,
  ) {
    const buf = K.memory.buffer;
    this.rows = new Int32Array(buf, scratch, cap);
    this.outPtr = scratch + cap * 4;
    this.out = new Float32Array(buf, this.outPtr, cap);
  }
  /** Scores rows[0..n) against q into out[0..n). */
  run(q: number, n: number): Float32Array {
    this.K.scoresAt(this.metric, q, this.base, this.d, this.scratch, n, this.outPtr);
    this.computed += n;
    return this.out;
  }
  /** Scores of the given rows (n ≤ cap) against q (out, overwritten by the next call). */
  score(q: number, rows: ArrayLike<number>, n: number): Float32Array {
    for (let j = 0; j < n; j++) this.rows[j] = rows[j]!;
    return this.run(q, n);
  }
}

/** The neighbours of `node` on `level`: slots [a, b) of g.neighbors. */
function slotRange(g: Graph, node: number, level: number): [number, number] {
  const a = g.offsets[node]! + (level === 0 ? 0 : 2 * g.M + (level - 1) * g.M);
  return [a, a + (level === 0 ? 2 * g.M : g.M)];
}

/** Greedy descent on one level: the best node reachable by always moving to a better neighbour. */
function greedy(g: Graph, sc: Scorer, q: number, node: number, score: number, level: number): [number, number] {
  const rows = sc.rows;
  for (;;) {
    const [a, b] = slotRange(g, node, level);
    let n = 0;
    for (let j = a; j < b; j++) {
      const v = g.neighbors[j]!;
      if (v < 0) break;
      rows[n++] = v;
    }
    if (n === 0) return [node, score];
    const s = sc.run(q, n);
    let best = node,
      bestS = score;
    for (let j = 0; j < n; j++) {
      if (before(s[j]!, rows[j]!, bestS, best)) {
        best = rows[j]!;
        bestS = s[j]!;
      }
    }
    if (best === node) return [node, score];
    node = best;
    score = bestS;
  }
}

/** Best-first search on one level from `entry`, keeping `ef` results; returns them best first. */
function searchLevel(g: Graph, sc: Scorer, q: number, entry: number, entryScore: number, ef: number, level: number): { s: number[]; v: number[] } {
  const mark = newStamp(g.n);
  const cand = new Heap(false),
    res = new Heap(true);
  marks[entry] = mark;
  cand.push(entryScore, entry);
  res.push(entryScore, entry);
  const rows = sc.rows;
  while (cand.size > 0) {
    const cs = cand.s[0]!,
      cv = cand.v[0]!;
    if (res.size >= ef && before(res.s[0]!, res.v[0]!, cs, cv)) break;
    cand.pop();
    const [a, b] = slotRange(g, cv, level);
    let n = 0;
    for (let j = a; j < b; j++) {
      const v = g.neighbors[j]!;
      if (v < 0) break;
      if (marks[v] === mark) continue;
      marks[v] = mark;
      rows[n++] = v;
    }
    if (n === 0) continue;
    const s = sc.run(q, n);
    for (let j = 0; j < n; j++) {
      const sj = s[j]!,
        v = rows[j]!;
      if (res.size < ef || before(sj, v, res.s[0]!, res.v[0]!)) {
        cand.push(sj, v);
        res.push(sj, v);
        if (res.size > ef) res.pop();
      }
    }
  }
  const order = res.s.map((_, j) => j).sort((x, y) => res.s[x]! - res.s[y]! || res.v[x]! - res.v[y]!);
  return { s: order.map((j) => res.s[j]!), v: order.map((j) => res.v[j]!) };
}

function viewGraph(K: Kernels, G: HNSWLayout): Graph {
  const buf = K.memory.buffer;
  const offsets = new Int32Array(buf, G.offsets, G.n + 1);
  return { n: G.n, M: G.M, offsets, neighbors: new Int32Array(buf, G.neighbors, offsets[G.n]!) };
}

/**
 * The k nodes nearest the query at `q` (best first, ties to the lower node) into outD/outI
 * (k each), searching with max(ef, k) candidates. Returns how many were found and the scores
 * computed.
 */
export function hnswSearch(
  K: Kernels,
  metric: MetricCode,
  d: number,
  centroids: number,
  G: HNSWLayout,
  q: number,
  k: number,
  ef: number,
  outD: number,
  outI: number,
  scratch: number,
): { found: number; computed: number } {
  if (G.n === 0) return { found: 0, computed: 0 };
  const g = viewGraph(K, G);
  const sc = new Scorer(K, metric, d, centroids, scratch, 2 * G.M);
  let node = G.entry;
  let score = sc.score(q, [node], 1)[0]!;
  for (let level = G.maxLevel; level > 0; level--) [node, score] = greedy(g, sc, q, node, score, level);
  const r = searchLevel(g, sc, q, node, score, Math.max(ef, k), 0);
  const found = Math.min(k, r.v.length);
  const buf = K.memory.buffer;
  const D = new Float32Array(buf, outD, found),
    I = new Int32Array(buf, outI, found);
  for (let j = 0; j < found; j++) {
    D[j] = r.s[j]!;
    I[j] = r.v[j]!;
  }
  return { found, computed: sc.computed };
}

export interface HNSWBuildOptions {
  M: number;
  efConstruction: number;
  seed?: number;
}

export interface BuiltGraph {
  levels: Int32Array;
  offsets: Int32Array;
  neighbors: Int32Array;
  entry: number;
  maxLevel: number;
}

const buildCap = (M: number, efConstruction: number): number => Math.max(2 * M + 1, efConstruction);

/** Arena scratch bytes buildHNSW needs. */
export function buildScratchBytes(M: number, efConstruction: number): number {
  return 2 * buildCap(M, efConstruction) * 4 + 64;
}

/** Neighbour offsets of nodes with these levels. */
export function graphOffsets(M: number, levels: Int32Array): Int32Array {
  const offsets = new Int32Array(levels.length + 1);
  for (let v = 0; v < levels.length; v++) offsets[v + 1] = offsets[v]! + slotsOf(M, levels[v]!);
  return offsets;
}

/**
 * Builds the graph over the n rows at `base` (d floats each, in K's memory), inserting them in
 * order. `scratch` is an arena region of hnswScratchBytes(max(M, efConstruction)) bytes.
 */
export function buildHNSW(K: Kernels, metric: MetricCode, d: number, base: number, n: number, options: HNSWBuildOptions, scratch: number): BuiltGraph {
  const { M, efConstruction } = options;
  const rand = rng(options.seed ?? 4321);
  const mult = 1 / Math.log(M);
  const levels = new Int32Array(n);
  for (let v = 0; v < n; v++) levels[v] = Math.min(30, Math.floor(-Math.log(Math.max(rand(), 1e-12)) * mult));
  const offsets = graphOffsets(M, levels);
  const neighbors = new Int32Array(offsets[n]!).fill(-1);
  const g: Graph = { n, M, offsets, neighbors };
  const cap = buildCap(M, efConstruction);
  const sc = new Scorer(K, metric, d, base, scratch, cap);
  const row = (v: number): number => base + v * d * 4;

  /** Faiss's shrink_neighbor_list: candidates best first; keep one unless a kept one is closer to it than the base is. */
  const prune = (cs: number[], cv: number[], max: number): number[] => {
    const kept: number[] = [];
    for (let j = 0; j < cv.length && kept.length < max; j++) {
      const v = cv[j]!;
      let good = true;
      if (kept.length > 0) {
        const s = sc.score(row(v), kept, kept.length);
        for (let t = 0; t < kept.length; t++) {
          if (s[t]! < cs[j]!) {
            good = false;
            break;
          }
        }
      }
      if (good) kept.push(v);
    }
    return kept;
  };

  const link = (u: number, v: number, level: number): void => {
    const [a, b] = slotRange(g, u, level);
    for (let j = a; j < b; j++) {
      if (neighbors[j] === v) return;
      if (neighbors[j]! < 0) {
        neighbors[j] = v;
        return;
      }
    }
    // full: keep the best of the old neighbours and v by the heuristic
    const all = Array.from(neighbors.subarray(a, b));
    all.push(v);
    const s = sc.score(row(u), all, all.length);
    const order = all.map((_, j) => j).sort((x, y) => s[x]! - s[y]! || all[x]! - all[y]!);
    const kept = prune(
      order.map((j) => s[j]!),
      order.map((j) => all[j]!),
      b - a,
    );
    neighbors.fill(-1, a, b);
    neighbors.set(kept, a);
  };

  let entry = -1,
    maxLevel = -1;
  for (let v = 0; v < n; v++) {
    const lv = levels[v]!;
    if (entry < 0) {
      entry = v;
      maxLevel = lv;
      continue;
    }
    const q = row(v);
    let node = entry;
    let score = sc.score(q, [node], 1)[0]!;
    for (let level = maxLevel; level > lv; level--) [node, score] = greedy(g, sc, q, node, score, level);
    for (let level = Math.min(lv, maxLevel); level >= 0; level--) {
      const w = searchLevel(g, sc, q, node, score, efConstruction, level);
      const kept = prune(w.s, w.v, level === 0 ? 2 * M : M);
      const [a] = slotRange(g, v, level);
      neighbors.set(kept, a);
      for (const u of kept) link(u, v, level);
      node = w.v[0]!;
      score = w.s[0]!;
    }
    if (lv > maxLevel) {
      maxLevel = lv;
      entry = v;
    }
  }
  return { levels, offsets, neighbors, entry, maxLevel };
}

/** Checks a graph read from a file against its node count and M; BAD_FILE-worthy problems as messages. */
export function checkGraph(n: number, M: number, levels: Int32Array, neighbors: Int32Array, entry: number, maxLevel: number): string | undefined {
  if (levels.length !== n) return `the graph has ${levels.length} levels for ${n} centroids`;
  for (let v = 0; v < n; v++) if (!(levels[v]! >= 0 && levels[v]! <= 30)) return `node ${v} has level ${levels[v]}`;
  const offsets = graphOffsets(M, levels);
  if (neighbors.length !== offsets[n]) return `the graph has ${neighbors.length} neighbour slots, its levels need ${offsets[n]}`;
  for (let j = 0; j < neighbors.length; j++) if (!(neighbors[j]! >= -1 && neighbors[j]! < n)) return `neighbour slot ${j} holds ${neighbors[j]}`;
  if (n > 0 && !(Number.isSafeInteger(entry) && entry >= 0 && entry < n && levels[entry] === maxLevel))
    return `entry point ${entry} (level ${maxLevel}) is not a top node`;
  return undefined;
}

export function checkHNSWParams(M: unknown, efConstruction: unknown, efSearch: unknown): void {
  const ok = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
  if (!ok(M, 2, 512)) throw new NitamonoError('INVALID_ARGUMENT', `HNSW M (neighbours per node) must be a whole number from 2 to 512, got ${String(M)}`);
  if (!ok(efConstruction, 1, 1 << 16))
    throw new NitamonoError('INVALID_ARGUMENT', `HNSW efConstruction must be a whole number from 1 to 65536, got ${String(efConstruction)}`);
  if (!ok(efSearch, 1, 1 << 16)) throw new NitamonoError('INVALID_ARGUMENT', `HNSW efSearch must be a whole number from 1 to 65536, got ${String(efSearch)}`);
}
