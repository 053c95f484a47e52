/**
 * The coordinator of sharded search (scatter-gather, as Vespa's dispatcher or Faiss's
 * client_server example): it sends a batch of queries to one replica of every partition, waits
 * for all of them or a deadline, and merges the answers by (distance, id) into the global top-k.
 *
 * It never fails a search because a shard is down or late: that shard's partition is missing
 * from the answer, and the result says so — `coverage` (partitions answered / partitions) and a
 * report per partition (which replica, its timings, its generation, or its error), like Vespa's
 * coverage element. Only when no partition answers is the search an error (UNAVAILABLE).
 *
 * A replica that refuses or fails fast (connection refused, a 5xx, not yet loaded) is replaced by
 * the next replica of its partition while the deadline allows; one that is merely slow is not
 * (hedged requests would double the load). Shards are found in the catalogue's registry (the
 * entries whose heartbeat is recent) or in a fixed list of URLs, whose partitions are learnt from
 * their /health.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { ClusterCatalogStore, FeatureSpace, Partition } from '../catalog/types.js';
import { type ErrorCode, invalid, NitamonoError } from '../errors.js';
import { checkK, checkVectors } from '../validate.js';
import { base64ToF32, base64ToI32, f32ToBase64, type ShardHealth, type ShardSearchReply, type ShardSearchRequest } from './wire.js';

export const DEFAULT_DEADLINE_MS = 2000;
/** How long a registry entry may go without a heartbeat and still be used (3 missed heartbeats). */
export const DEFAULT_STALE_MS = 6000;
const DEFAULT_REFRESH_MS = 1000;

/** One process serving one partition. */
export interface ShardEndpoint {
  url: string;
  partition: Partition;
  /** Loaded and answering (as last seen). */
  ready: boolean;
  /** The generation it last reported (-1: unknown). */
  generation: number;
  node?: string;
}

/** Where the shards are. */
export interface ShardDirectory {
  /** The shards as currently known (cached by the implementation). */
  endpoints(): Promise<ShardEndpoint[]>;
  /** For messages: 'the shard registry of …' or 'shards http://…, …'. */
  readonly description: string;
  close?(): void;
}

/** What happened at one partition. */
export interface ShardReport {
  shard: number;
  of: number;
  /** 'ok': answered; 'error': every replica tried failed; 'timeout': no answer by the deadline; 'missing': no live replica known. */
  status: 'ok' | 'error' | 'timeout' | 'missing';
  /** The replica that answered (or was tried last). */
  url?: string;
  /** Replicas tried. */
  tried: number;
  /** Round trip of the answering request, ms. */
  took_ms?: number;
  /** The shard's own scan time and handling time, ms. */
  search_ms?: number;
  shard_ms?: number;
  generation?: number;
  size?: number;
  index?: 'flat' | 'ivf' | 'empty';
  nprobe?: number;
  nlist?: number;
  distances_computed?: number;
  error?: string;
}

export interface ClusterSearchOptions {
  nprobe?: number;
  /** Scan every list of IVF shards. */
  exact?: boolean;
  /** Overrides the coordinator's deadline for this search. */
  deadlineMs?: number;
  /** Ask shards to answer at this catalogue generation or later (read-your-writes after a commit). */
  minGeneration?: number;
}

export interface ClusterSearchResult {
  nq: number;
  k: number;
  /** nq×k global top-k ids, best first; -1 pads. */
  labels: Int32Array;
  /** nq×k squared L2 distances; NaN pads. */
  distances: Float32Array;
  coverage: { shards: number; answered: number; ratio: number };
  /** The lowest and highest generation the answering shards searched at (null when none answered). */
  generation: { min: number; max: number } | null;
  /** Vectors in the partitions that answered. */
  size: number;
  distances_computed: number;
  took_ms: number;
  /** 'ivf' when an answering shard searched an inverted file, else 'flat' ('empty': no vectors anywhere). */
  index: 'flat' | 'ivf' | 'empty';
  nprobe?: number;
  nlist?: number;
  shards: ShardReport[];
  warnings: string[];
}

export interface CoordinatorOptions {
  directory: ShardDirectory;
  /** How long to wait for the shards (default 2000 ms). */
  deadlineMs?: number;
  /** The shards' bearer token, if they need one. */
  token?: string;
}

// ---- HTTP

interface HttpReply {
  status: number;
  body: unknown;
}

const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 64 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }) };

class HttpFailure extends Error {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'network' | 'status',
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** One JSON request; rejects with HttpFailure (network, timeout) and resolves any HTTP status. */
function jsonRequest(base: string, path: string, method: 'GET' | 'POST', body: string | undefined, signal: AbortSignal, token?: string): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(path, `${base}/`);
    } catch {
      reject(new HttpFailure(`not a URL: ${base}`, 'network'));
      return;
    }
    const https = url.protocol === 'https:';
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    if (signal.aborted) {
      reject(new HttpFailure('deadline passed', 'timeout'));
      return;
    }
    let settled = false;
    const fail = (f: HttpFailure) => {
      if (!settled) {
        settled = true;
        reject(f);
      }
    };
    const lost = (err?: NodeJS.ErrnoException) =>
      signal.aborted || err?.name === 'AbortError'
        ? fail(new HttpFailure('no answer by the deadline', 'timeout'))
        : fail(
            new HttpFailure(
              err ? (err.code ? `${err.code}: ${err.message}` : err.message) : 'the connection closed before the answer',
              'network',
              undefined,
              err?.code,
            ),
          );
    const req = (https ? httpsRequest : httpRequest)(url, { method, headers, agent: https ? agents.https : agents.http, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', lost);
      // closed without 'end': cut off (the deadline, or the shard died while answering)
      res.on('close', () => lost());
      res.on('end', () => {
        if (settled) return;
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          fail(new HttpFailure(`HTTP ${res.statusCode}: not JSON`, 'status', res.statusCode));
          return;
        }
        settled = true;
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', lost);
    req.end(body);
  });
}

function errorOf(body: unknown): { code?: string; message?: string } {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return { ...(typeof e?.code === 'string' ? { code: e.code } : {}), ...(typeof e?.message === 'string' ? { message: e.message } : {}) };
}

function checkUrl(u: string): string {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw invalid(`not a shard URL: ${JSON.stringify(u)} (expected http://host:port)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`a shard URL is http:// or https://, not ${JSON.stringify(u)}`);
  return u.replace(/\/+$/, '');
}

// ---- directories

/** Shards from the catalogue's registry: entries of `space` heard from within `staleMs` (cached `refreshMs`). */
export function registryDirectory(
  store: Pick<ClusterCatalogStore, 'liveShards' | 'collection' | 'target'>,
  space: FeatureSpace,
  opts: { staleMs?: number; refreshMs?: number } = {},
): ShardDirectory {
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const refreshMs = opts.refreshMs ?? DEFAULT_REFRESH_MS;
  let cached: { at: number; list: ShardEndpoint[] } | undefined;
  let pending: Promise<ShardEndpoint[]> | undefined;
  return {
    description: `the shard registry of collection ${JSON.stringify(store.collection)} in ${store.target} (${space.kind}:${space.model})`,
    async endpoints() {
      if (cached && Date.now() - cached.at < refreshMs) return cached.list;
      pending ??= store
        .liveShards(space, staleMs)
        .then((rows) => {
          const list = rows.map((r) => ({ url: r.url, partition: r.partition, ready: r.ready, generation: r.generation, node: r.node }));
          cached = { at: Date.now(), list };
          return list;
        })
        .catch((err) => {
          // the registry unreachable for a moment: the last list is better than nothing
          if (cached) return cached.list;
          throw err;
        })
        .finally(() => {
          pending = undefined;
        });
      return pending;
    },
  };
}

/**
 * Shards at fixed URLs. Their partitions are learnt from GET /health (refreshed every
 * `refreshMs`); a URL that never answered is not known to serve anything yet.
 */
export function staticDirectory(urls: readonly string[], opts: { token?: string; refreshMs?: number; timeoutMs?: number } = {}): ShardDirectory {
  if (!Array.isArray(urls) || urls.length === 0) throw invalid('a shard list needs at least one URL');
  const list = [...new Set(urls.map(checkUrl))];
  const refreshMs = opts.refreshMs ?? 5000;
  const timeoutMs = opts.timeoutMs ?? 1000;
  const known = new Map<string, ShardEndpoint>();
  let at = 0;
  let pending: Promise<ShardEndpoint[]> | undefined;
  const probe = async (url: string) => {
    try {
      const r = await jsonRequest(url, 'health', 'GET', undefined, AbortSignal.timeout(timeoutMs), opts.token);
      const h = r.body as ShardHealth | undefined;
      if ((r.status === 200 || r.status === 503) && h?.shard && Number.isInteger(h.shard.index) && Number.isInteger(h.shard.count)) {
        known.set(url, { url, partition: { index: h.shard.index, count: h.shard.count }, ready: h.status === 'ready', generation: h.generation, node: h.node });
        return;
      }
    } catch {
      // unreachable: keep what was known, marked not ready
    }
    const k = known.get(url);
    if (k) known.set(url, { ...k, ready: false });
  };
  return {
    description: `shards ${list.join(', ')}`,
    async endpoints() {
      if (Date.now() - at < refreshMs && known.size > 0) return [...known.values()];
      pending ??= Promise.all(list.map(probe))
        .then(() => {
          at = Date.now();
          return [...known.values()];
        })
        .finally(() => {
          pending = undefined;
        });
      return pending;
    },
  };
}

// ---- merging

/**
 * The global top-k of per-shard top-k lists: by distance, then id (the engine's own order, so
 * the merge of the partitions' answers is the answer of one index over all of them). -1 labels
 * are padding; an id given twice (replicas of one partition, a resharding) counts once.
 */
export function mergeTopK(
  parts: readonly { labels: Int32Array; distances: Float32Array; k: number }[],
  nq: number,
  k: number,
): { labels: Int32Array; distances: Float32Array } {
  const labels = new Int32Array(nq * k).fill(-1);
  const distances = new Float32Array(nq * k).fill(Number.NaN);
  const pos = new Int32Array(parts.length);
  for (let q = 0; q < nq; q++) {
    pos.fill(0);
    const seen = new Set<number>();
    let out = 0;
    while (out < k) {
      let best = -1;
      let bestD = 0;
      let bestId = 0;
      for (let p = 0; p < parts.length; p++) {
        const part = parts[p]!;
        // skip padding and ids already taken
        while (pos[p]! < part.k && (part.labels[q * part.k + pos[p]!]! < 0 || seen.has(part.labels[q * part.k + pos[p]!]!))) pos[p]!++;
        if (pos[p]! >= part.k) continue;
        const id = part.labels[q * part.k + pos[p]!]!;
        const d = part.distances[q * part.k + pos[p]!]!;
        if (best < 0 || d < bestD || (d === bestD && id < bestId)) {
          best = p;
          bestD = d;
          bestId = id;
        }
      }
      if (best < 0) break;
      labels[q * k + out] = bestId;
      distances[q * k + out] = bestD;
      seen.add(bestId);
      pos[best]!++;
      out++;
    }
  }
  return { labels, distances };
}

// ---- the coordinator

/** A shard's answer with its ids and distances decoded. */
type DecodedReply = Omit<ShardSearchReply, 'labels' | 'distances'> & { labels: Int32Array; distances: Float32Array };

/**
 * The partitioning to search: the shard count under which the largest share of partitions is
 * served by a ready shard, then served at all (ties: the larger count). So while a new layout is
 * started next to a running one (re-partitioning), searches move to it only once its shards are
 * loaded.
 */
export function chooseLayout(endpoints: readonly ShardEndpoint[]): { count: number; warnings: string[] } | undefined {
  const byCount = new Map<number, { all: Set<number>; ready: Set<number> }>();
  for (const e of endpoints) {
    const s = byCount.get(e.partition.count) ?? { all: new Set<number>(), ready: new Set<number>() };
    byCount.set(e.partition.count, s);
    s.all.add(e.partition.index);
    if (e.ready) s.ready.add(e.partition.index);
  }
  if (byCount.size === 0) return undefined;
  const counts = [...byCount.entries()].sort(
    (a, b) => b[1].ready.size / b[0] - a[1].ready.size / a[0] || b[1].all.size / b[0] - a[1].all.size / a[0] || b[0] - a[0],
  );
  const count = counts[0]![0];
  const warnings =
    byCount.size > 1
      ? [`shards of several partitionings answer (${[...byCount.keys()].map((c) => `${c} shards`).join(', ')}); searched the one of ${count}`]
      : [];
  return { count, warnings };
}

export class Coordinator {
  private readonly directory: ShardDirectory;
  private readonly deadlineMs: number;
  private readonly token: string | undefined;
  private readonly turn = new Map<string, number>();

  constructor(o: CoordinatorOptions) {
    this.directory = o.directory;
    this.deadlineMs = o.deadlineMs ?? DEFAULT_DEADLINE_MS;
    if (!(Number.isFinite(this.deadlineMs) && this.deadlineMs > 0)) throw invalid(`the deadline must be a positive number of ms, got ${o.deadlineMs}`);
    this.token = o.token;
  }

  /** The shards the next search would use (for reports and tests). */
  endpoints(): Promise<ShardEndpoint[]> {
    return this.directory.endpoints();
  }

  /**
   * Searches every partition for the k nearest neighbours of each of the nq = queries.length / dim
   * queries and merges the answers. Resolves with whatever answered by the deadline; throws
   * UNAVAILABLE when no partition answered, or the shards' own error when every one refused the
   * query itself (a bad dimension, say).
   */
  async search(queries: Float32Array, dim: number, k: number, opts: ClusterSearchOptions = {}): Promise<ClusterSearchResult> {
    const t0 = performance.now();
    const nq = checkVectors(queries, dim, 'queries');
    checkK(k);
    const deadlineMs = opts.deadlineMs ?? this.deadlineMs;
    if (!(Number.isFinite(deadlineMs) && deadlineMs > 0)) throw invalid(`the deadline must be a positive number of ms, got ${deadlineMs}`);
    const deadline = AbortSignal.timeout(deadlineMs);
    let endpoints: ShardEndpoint[];
    try {
      endpoints = await this.directory.endpoints();
    } catch (err) {
      throw new NitamonoError('UNAVAILABLE', `cannot find the shards (${this.directory.description}): ${(err as Error).message}`, { cause: err });
    }
    const layout = chooseLayout(endpoints);
    if (!layout) throw new NitamonoError('UNAVAILABLE', `no shard is running (${this.directory.description})`);
    const S = layout.count;
    const body: ShardSearchRequest = {
      queries: f32ToBase64(queries),
      dim,
      k,
      ...(opts.nprobe !== undefined ? { nprobe: opts.nprobe } : {}),
      ...(opts.exact ? { exact: true } : {}),
      ...(opts.minGeneration !== undefined ? { min_generation: opts.minGeneration, wait_ms: Math.max(0, Math.floor(deadlineMs * 0.8)) } : {}),
    };
    const text = JSON.stringify(body);
    const parts = await Promise.all(
      Array.from({ length: S }, (_, i) =>
        this.ask(
          i,
          S,
          endpoints.filter((e) => e.partition.count === S && e.partition.index === i),
          text,
          nq,
          k,
          deadline,
        ),
      ),
    );
    const answered = parts.filter((p) => p.reply !== undefined);
    if (answered.length === 0) {
      // every partition refused the query itself (4xx with one code): that is the caller's error, not an outage
      const codes = new Set(parts.map((p) => p.clientError?.code));
      const first = parts[0]?.clientError;
      if (first && codes.size === 1 && parts.every((p) => p.clientError)) throw new NitamonoError(first.code as ErrorCode, first.message);
      const why = parts.map((p) => `${p.report.shard}/${S}: ${p.report.status}${p.report.error ? ` (${p.report.error})` : ''}`).join('; ');
      throw new NitamonoError('UNAVAILABLE', `no shard answered within ${deadlineMs} ms (${this.directory.description}): ${why}`);
    }
    const merged = mergeTopK(
      answered.map((p) => p.reply!),
      nq,
      k,
    );
    const gens = answered.map((p) => p.reply!.generation);
    const ivf = answered.find((p) => p.reply!.index === 'ivf')?.reply;
    const warnings = [...layout.warnings];
    for (const p of answered) for (const w of p.reply!.warnings ?? []) if (!warnings.includes(w)) warnings.push(w);
    if (Math.min(...gens) !== Math.max(...gens))
      warnings.push(`the shards answered at generations ${Math.min(...gens)} to ${Math.max(...gens)}: some are catching up`);
    return {
      nq,
      k,
      labels: merged.labels,
      distances: merged.distances,
      coverage: { shards: S, answered: answered.length, ratio: answered.length / S },
      generation: { min: Math.min(...gens), max: Math.max(...gens) },
      size: answered.reduce((a, p) => a + p.reply!.size, 0),
      distances_computed: answered.reduce((a, p) => a + p.reply!.distances_computed, 0),
      took_ms: Math.round((performance.now() - t0) * 1000) / 1000,
      index: ivf ? 'ivf' : answered.some((p) => p.reply!.index === 'flat') ? 'flat' : 'empty',
      ...(ivf?.nprobe !== undefined ? { nprobe: ivf.nprobe } : {}),
      ...(ivf?.nlist !== undefined ? { nlist: ivf.nlist } : {}),
      shards: parts.map((p) => p.report),
      warnings,
    };
  }

  /** One partition: its replicas in turn (ready ones first, rotating) until one answers or the deadline passes. */
  private async ask(
    index: number,
    count: number,
    replicas: ShardEndpoint[],
    body: string,
    nq: number,
    k: number,
    deadline: AbortSignal,
  ): Promise<{ report: ShardReport; reply?: DecodedReply; clientError?: { code: string; message: string } }> {
    const report: ShardReport = { shard: index, of: count, status: 'missing', tried: 0 };
    if (replicas.length === 0) {
      report.error = 'no live replica';
      return { report };
    }
    const key = `${index}/${count}`;
    const start = this.turn.get(key) ?? 0;
    this.turn.set(key, start + 1);
    const rotated = replicas.map((_, j) => replicas[(start + j) % replicas.length]!);
    const order = [...rotated.filter((r) => r.ready), ...rotated.filter((r) => !r.ready)];
    let clientError: { code: string; message: string } | undefined;
    for (const ep of order) {
      if (deadline.aborted) {
        report.status = 'timeout';
        break;
      }
      report.tried++;
      report.url = ep.url;
      const t = performance.now();
      try {
        const r = await jsonRequest(ep.url, 'search', 'POST', body, deadline, this.token);
        const took = Math.round((performance.now() - t) * 1000) / 1000;
        if (r.status === 200) {
          const b = r.body as ShardSearchReply;
          const labels = base64ToI32(b.labels, 'labels');
          const distances = base64ToF32(b.distances, 'distances');
          if (b.nq !== nq || b.k !== k || labels.length !== nq * k || distances.length !== nq * k) throw new HttpFailure('a malformed answer', 'status', 200);
          if (b.shard?.index !== index || b.shard?.count !== count) {
            throw new HttpFailure(
              `it serves shard ${b.shard?.index}/${b.shard?.count}, not ${index}/${count} (restarted with another --shard?)`,
              'status',
              200,
            );
          }
          Object.assign(report, {
            status: 'ok',
            took_ms: took,
            search_ms: b.search_ms,
            shard_ms: b.took_ms,
            generation: b.generation,
            size: b.size,
            index: b.index,
            ...(b.nprobe !== undefined ? { nprobe: b.nprobe } : {}),
            ...(b.nlist !== undefined ? { nlist: b.nlist } : {}),
            distances_computed: b.distances_computed,
          });
          delete report.error;
          return { report, reply: { ...b, labels, distances } };
        }
        const e = errorOf(r.body);
        report.status = 'error';
        report.error = `HTTP ${r.status}${e.code ? ` ${e.code}` : ''}${e.message ? `: ${e.message}` : ''}`;
        // the query itself was refused: another replica would refuse it too
        if (r.status >= 400 && r.status < 500 && r.status !== 401 && r.status !== 404 && r.status !== 408 && r.status !== 429) {
          clientError = { code: e.code ?? 'INVALID_ARGUMENT', message: e.message ?? report.error };
          break;
        }
      } catch (err) {
        const f = err instanceof HttpFailure ? err : new HttpFailure((err as Error).message, 'network');
        report.status = f.kind === 'timeout' || deadline.aborted ? 'timeout' : 'error';
        report.error = f.message;
        if (report.status === 'timeout') break;
      }
    }
    return { report, ...(clientError ? { clientError } : {}) };
  }
}
