/**
 * What a collection of cluster mode holds and who serves it, for `nitamono info --catalog`:
 * its settings, images by status, generation, searchable vectors per feature space, the shared
 * quantizer of each space, the shard processes of the registry and, when a queue is given, its
 * jobs by state and the workers connected to it. Reading them writes nothing.
 *
 *   const s = await clusterStats(store, { queue });   // queue: an open ExtractionQueue, optional
 *   s.features[0].shards   // registry entries: partition, node, url, heartbeat age, generation
 */
import type { ClusterCatalogStore, FeatureSpace } from '../catalog/types.js';
import type { FeatureKind } from '../collection/config.js';
import type { ExtractionQueue } from '../ingest/queue.js';
import { REGISTERED_MS } from './client.js';
import { DEFAULT_STALE_MS } from './coordinator.js';
import { loadSharedQuantizer } from './quantizer.js';
import { type ClusterSettings, clusterSpace, readClusterSettings } from './settings.js';

export interface ClusterShardInfo {
  /** Partition index i of `of`. */
  shard: number;
  of: number;
  node: string;
  url: string;
  /** Its index is loaded and answers searches (as it last said). */
  ready: boolean;
  /** The catalogue generation its index reflects; null before its first load. */
  generation: number | null;
  /** Vectors in its index. */
  size: number;
  /** How long ago it last announced itself (by the database server's clock), ms. */
  heartbeat_age_ms: number;
  /** When that was, as this machine's clock puts it. */
  heartbeat_at: string;
  started_at: string;
  /** Heard from within the coordinators' staleness limit: searches use it. */
  live: boolean;
}

export interface ClusterQuantizerInfo {
  version: number;
  nlist: number;
  dim: number;
  /** Vectors k-means ran on, the collection's size and generation then. */
  trained_on: number;
  collection_size: number;
  generation: number;
  created_at: string;
}

export interface ClusterSpaceStats {
  kind: FeatureKind;
  /** The space's model version ('rgb-hist-4', a deep model name). */
  model: string;
  dim: number | null;
  /** Searchable vectors in the catalogue. */
  vectors: number;
  /** The shared IVF centroids shards build on (latest version); null: none trained, shards are flat. */
  quantizer: ClusterQuantizerInfo | null;
  /**
   * The partitioning the live shards serve (the count most of them serve) and how many of its
   * partitions have a live shard; null when no shard is live.
   */
  coverage: { shards: number; live: number } | null;
  /** Registry entries heard from within the last hour, by partition then node (`live` marks the current ones). */
  shards: ClusterShardInfo[];
}

export interface ClusterQueueStats {
  name: string;
  /** Password masked. */
  url: string;
  waiting: number;
  active: number;
  delayed: number;
  prioritized: number;
  /** Kept for a while after they finish (the keep policy), not every job ever run. */
  completed: number;
  failed: number;
  /** Worker connections to the queue now. */
  workers: number;
}

export interface ClusterStats {
  collection: string;
  /** user@host:port/database, no password. */
  catalog: string;
  database: string;
  backend: string;
  schema_version: number;
  /** null when nothing was indexed into the collection yet. */
  settings: ClusterSettings | null;
  root: string | null;
  /** Searchable images. */
  images: number;
  skipped: number;
  excluded: number;
  generation: number;
  features: ClusterSpaceStats[];
  /** Only when a queue was given; `error` when its Redis did not answer. */
  queue?: ClusterQueueStats | { name: string; url: string; error: string };
}

export interface ClusterStatsOptions {
  /** The collection's job queue, to report its state. */
  queue?: ExtractionQueue;
  /** Registry entries older than this are not live (default the coordinators' 6000 ms). */
  staleMs?: number;
}

type StatsStore = Pick<
  ClusterCatalogStore,
  | 'collection'
  | 'target'
  | 'database'
  | 'backend'
  | 'schemaVersion'
  | 'settings'
  | 'updateSettings'
  | 'countByStatus'
  | 'generation'
  | 'vectorCounts'
  | 'getTrained'
  | 'liveShards'
>;

const iso = (ms: number) => new Date(ms).toISOString();

/** The partitioning most live shards serve (ties: the larger), and how many of its partitions are live. */
function coverageOf(shards: readonly ClusterShardInfo[]): ClusterSpaceStats['coverage'] {
  const byCount = new Map<number, Set<number>>();
  for (const s of shards) {
    if (!s.live) continue;
    const set = byCount.get(s.of) ?? new Set<number>();
    set.add(s.shard);
    byCount.set(s.of, set);
  }
  const best = [...byCount.entries()].sort((a, b) => b[1].size / b[0] - a[1].size / a[0] || b[0] - a[0])[0];
  return best ? { shards: best[0], live: best[1].size } : null;
}

async function spaceStats(store: StatsStore, space: FeatureSpace, counted: { vectors: number; dim: number | null } | undefined, staleMs: number) {
  const q = await loadSharedQuantizer(store, space);
  const now = Date.now();
  const shards: ClusterShardInfo[] = (await store.liveShards(space, REGISTERED_MS)).map((r) => ({
    shard: r.partition.index,
    of: r.partition.count,
    node: r.node,
    url: r.url,
    ready: r.ready,
    generation: r.generation >= 0 ? r.generation : null,
    size: r.size,
    heartbeat_age_ms: Math.round(r.age_ms),
    heartbeat_at: iso(now - r.age_ms),
    started_at: iso(r.started_at),
    live: r.age_ms <= staleMs,
  }));
  const stats: ClusterSpaceStats = {
    kind: space.kind,
    model: space.model,
    dim: counted?.dim ?? null,
    vectors: counted?.vectors ?? 0,
    quantizer: q
      ? {
          version: q.version,
          nlist: q.nlist,
          dim: q.dim,
          trained_on: q.trainedOn,
          collection_size: q.collectionSize,
          generation: q.generation,
          created_at: iso(q.created_at),
        }
      : null,
    coverage: coverageOf(shards),
    shards,
  };
  return stats;
}

/** Reads the collection's statistics (and the queue's, when given). */
export async function clusterStats(store: StatsStore, opts: ClusterStatsOptions = {}): Promise<ClusterStats> {
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const settings = (await readClusterSettings(store)) ?? null;
  const [counts, generation, vectorCounts] = [await store.countByStatus(), await store.generation(), await store.vectorCounts()];
  const key = (s: FeatureSpace) => `${s.kind}:${s.model}`;
  const counted = new Map(vectorCounts.map((c) => [key(c.space), c]));
  // the settings' spaces first (in their order), then any other space holding vectors (an older model's)
  const spaces: FeatureSpace[] = settings ? settings.features.map((k) => clusterSpace(settings, k)) : [];
  for (const c of vectorCounts) if (!spaces.some((s) => key(s) === key(c.space))) spaces.push(c.space);
  const features: ClusterSpaceStats[] = [];
  for (const space of spaces) features.push(await spaceStats(store, space, counted.get(key(space)), staleMs));
  const out: ClusterStats = {
    collection: store.collection,
    catalog: store.target,
    database: store.database,
    backend: store.backend,
    schema_version: store.schemaVersion,
    settings,
    root: settings?.root ?? null,
    images: counts.ok,
    skipped: counts.skipped,
    excluded: counts.excluded,
    generation,
    features,
  };
  if (opts.queue) out.queue = await queueStats(opts.queue);
  return out;
}

/** The queue's jobs by state and its workers; `error` when its Redis does not answer. */
export async function queueStats(queue: ExtractionQueue): Promise<NonNullable<ClusterStats['queue']>> {
  try {
    const [c, workers] = [await queue.counts(), await queue.workerCount()];
    return {
      name: queue.name,
      url: queue.url,
      waiting: c['waiting'] ?? 0,
      active: c['active'] ?? 0,
      delayed: c['delayed'] ?? 0,
      prioritized: c['prioritized'] ?? 0,
      completed: c['completed'] ?? 0,
      failed: c['failed'] ?? 0,
      workers,
    };
  } catch (err) {
    return { name: queue.name, url: queue.url, error: (err as Error).message };
  }
}
