/**
 * The catalogue: the source of truth of a collection, behind one asynchronous interface so that
 * SQLite (one machine, the default) and a server database (PostgreSQL, for several machines) are
 * interchangeable. The application layer talks only to `CatalogStore`: no raw database handle,
 * no caller-opened transactions; every write is one unit of work (`commit`).
 *
 * Generations: every commit that changes the set of searchable vectors bumps the catalogue's
 * generation once; rows it inserts carry that generation, and ids that leave the searchable set
 * are recorded with it. An index built at generation g is brought up to date with
 * `changesSince(space, g)`. Ids are never reused, and a file whose content changes gets a new id,
 * so a vector never changes under an id.
 */
import type { FeatureKind } from '../image/extract.js';
import type { CheckedFilter, NameHit } from './filter.js';
import type { NameQuery } from './names.js';

export type { FeatureKind };
export type ImageStatus = 'ok' | 'skipped' | 'excluded';

/**
 * One vector space: a feature kind computed by one model version ('rgb-hist-4', or a deep model
 * name). Vectors are stored per (image, kind, model), so a change of model never mixes embeddings.
 */
export interface FeatureSpace {
  /** An extracted kind, or the name of a learned one (derived from the deep vectors). */
  kind: FeatureKind | (string & {});
  model: string;
}

export function spaceKey(s: FeatureSpace): string {
  return `${s.kind}:${s.model}`;
}

export interface ImageRow {
  id: number;
  relpath: string;
  size: number;
  mtime_ms: number;
  sha256: string | null;
  status: ImageStatus;
  width: number | null;
  height: number | null;
  format: string | null;
  error_code: string | null;
  error_message: string | null;
  gen: number;
  added_at: number;
}

/** A row without vectors, and whether it holds a vector in every space asked about. */
export interface ImageSummary extends ImageRow {
  complete: boolean;
}

export interface NewImage {
  relpath: string;
  size: number;
  mtime_ms: number;
  sha256: string | null;
  status: ImageStatus;
  width?: number | null;
  height?: number | null;
  format?: string | null;
  error_code?: string | null;
  error_message?: string | null;
}

export interface SpaceVector {
  space: FeatureSpace;
  vector: Float32Array;
}

/** One change of a unit of work. */
export type CatalogWrite =
  /**
   * Stores a file's row under its relpath, replacing any row that holds that relpath (its id then
   * leaves the searchable set and a new id is given). Idempotent: when the stored row already has
   * the same content hash, size, mtime and status, and a vector in each space given, nothing
   * changes and the existing id is returned (a job delivered twice writes once).
   * Vectors come from `vectors`, or are copied from the row `copyVectorsFrom` (same content).
   */
  | { op: 'put'; image: NewImage; vectors?: SpaceVector[]; copyVectorsFrom?: { id: number; spaces: FeatureSpace[] } }
  /** Deletes a row (any status). */
  | { op: 'delete'; id: number }
  /** Keeps the row but takes it out of search, so a re-index does not bring it back. */
  | { op: 'exclude'; id: number }
  /** Metadata only: the file's size and mtime changed, its content did not. */
  | { op: 'touch'; id: number; size: number; mtime_ms: number };

export interface CommitResult {
  /** The catalogue generation after the commit. */
  generation: number;
  /** Whether the searchable set changed (and so the generation moved). */
  changed: boolean;
  /** Per write: the row id of a put; the id of a delete/exclude/touch, or -1 when it did nothing. */
  ids: number[];
}

/** All searchable vectors of a space, read at one generation. */
export interface VectorSnapshot {
  generation: number;
  ids: Int32Array;
  /** n×dim row-major. */
  vectors: Float32Array;
}

export interface VectorChanges {
  generation: number;
  /** Ids that left the searchable set after the given generation. */
  removed: Int32Array;
  /** Searchable rows added after it. */
  added: { ids: Int32Array; vectors: Float32Array };
}

export interface PathChanges {
  generation: number;
  removed: Int32Array;
  /** [id, relpath], in no particular order. */
  added: [number, string][];
}

export type StatusCounts = Record<ImageStatus, number>;

/**
 * Who writes a collection: one writer at a time across processes and machines. `token` tells
 * two writers of one process apart; pid, host and start time let another process on the same
 * host tell whether the holder still runs.
 */
export interface WriterIdentity {
  token: string;
  pid: number;
  host: string;
  /** The holder process's start time (ms since the epoch), so a reused pid is not mistaken for it. */
  started_at: number;
  /** What it runs, for the message another writer shows ("nitamono index /photos"). */
  command: string;
}

export interface WriterLease extends WriterIdentity {
  acquired_at: number;
}

/** Everything the application layer may ask of a catalogue backend. */
export interface CatalogStore {
  /** 'sqlite', 'postgres', … */
  readonly backend: string;
  /** Schema version in use (after migrations). */
  readonly schemaVersion: number;

  /** The unit of work: all writes apply together or none does. */
  commit(writes: readonly CatalogWrite[]): Promise<CommitResult>;

  generation(): Promise<number>;
  get(id: number): Promise<ImageRow | undefined>;
  byRelpath(relpath: string): Promise<ImageRow | undefined>;
  /**
   * Relative paths of these ids (any status); unknown ids are absent from the map.
   * `generation`: the generation the caller read just before, if any (a backend that caches by
   * generation can skip reading it again).
   */
  relpaths(ids: ArrayLike<number>, generation?: number): Promise<Map<number, string>>;
  /** Every row, with whether it holds a vector in each of `spaces` (change detection). */
  summaries(spaces: readonly FeatureSpace[]): Promise<ImageSummary[]>;
  /** Searchable rows in id order, `limit` from `offset`, and how many there are in all. */
  okPage(offset: number, limit: number): Promise<{ total: number; rows: ImageRow[] }>;
  okCount(): Promise<number>;
  countByStatus(): Promise<StatusCounts>;
  /** Skipped rows, by relpath. */
  skipped(): Promise<ImageRow[]>;
  /** Searchable (id, relpath) in id order. */
  okRows(): Promise<{ id: number; relpath: string }[]>;
  /** The searchable ids a filter (./filter.ts, checked) lets through, ascending: what a filtered search scans. */
  filterIds(filter: CheckedFilter): Promise<Int32Array>;
  /**
   * Optional (SQLite): the searchable images added after generation `since` (id, path) and the
   * ids that left the searchable set after it, read together with the generation they bring a
   * reader to. Lets an in-memory folder index follow writes without re-reading every path
   * (src/collection/folder-ids.ts); `since` -1 gives every searchable image.
   */
  pathChangesSince?(since: number): Promise<PathChanges>;
  /**
   * Optional (SQLite): at most `limit` searchable images (id, path) of generation ≤ `generation`
   * with ids above `after`, by id: every path read in pages, with pathChangesSince(`generation`)
   * bringing them current after the last page, so a reader can let other work run between pages.
   */
  pathsPage?(generation: number, after: number, limit: number): Promise<[number, string][]>;
  /**
   * Search by name (./names.ts): searchable rows whose file and folder names hold every word of
   * `query` (and pass `filter`), best first — more and rarer words in the file name first —
   * `limit` from `offset`, and how many match in all. A literal query matches the path as a
   * substring, in path order.
   */
  searchNames(query: NameQuery, opts: { limit: number; offset?: number; filter?: CheckedFilter }): Promise<{ total: number; hits: NameHit[] }>;
  /** A searchable row's vector in `space`. */
  vector(id: number, space: FeatureSpace): Promise<Float32Array | undefined>;
  /** A searchable row's relpath and vector in `space`, in one read (a search by id). */
  okVector(id: number, space: FeatureSpace): Promise<{ relpath: string; vector: Float32Array } | undefined>;
  /**
   * The vectors in `space` of many searchable rows at once (re-ranking reads the candidates of
   * a batch of queries this way, so RAM need not hold them): of `ids` (any order, repeats
   * allowed), those that are searchable and hold a vector of dimension `dim` in `space`, each
   * once, ascending, with their vectors (n×dim row-major). Unknown, unsearchable and vectorless
   * ids are left out, never an error.
   */
  okVectors(ids: ArrayLike<number>, space: FeatureSpace, dim: number): Promise<{ ids: Int32Array; vectors: Float32Array }>;
  /** A searchable row holding this content with a vector in every space asked (for reuse). */
  okBySha(sha256: string, spaces: readonly FeatureSpace[]): Promise<ImageRow | undefined>;
  /** Dimension of the vectors of a space, from one stored vector; undefined if none is stored. */
  vectorDim(space: FeatureSpace): Promise<number | undefined>;
  /** All searchable vectors of a space (rows of another dimension are left out). */
  snapshot(space: FeatureSpace, dim: number): Promise<VectorSnapshot>;
  /** What changed in a space since generation `since`, read consistently. */
  changesSince(space: FeatureSpace, dim: number, since: number): Promise<VectorChanges>;
  /**
   * Takes the writer lease if it is free, held by `me` already, or held by a holder `isStale`
   * says is gone (check and take are one atomic step). Otherwise returns the current holder.
   */
  acquireWriter(me: WriterIdentity, isStale: (holder: WriterLease) => boolean): Promise<{ acquired: true } | { acquired: false; holder: WriterLease }>;
  /** Gives the lease back if `me` holds it. */
  releaseWriter(me: WriterIdentity): Promise<void>;
  /**
   * Optional (a backend shared by several processes has it: PostgreSQL's LISTEN/NOTIFY; SQLite
   * has not): calls `listener` with the new generation after each commit, by any process, that
   * changes the searchable set, so a reader learns of new generations without polling. Resolves
   * once subscribed (commits after that are reported); the returned function unsubscribes.
   * Without it, a reader polls `generation()`.
   */
  onChange?(listener: (generation: number) => void): Promise<() => void>;
  close(): Promise<void>;
}

/** What may be done with a catalogue without the writer lease: read. */
export type CatalogReader = Omit<CatalogStore, 'commit' | 'acquireWriter' | 'releaseWriter' | 'close'>;

const WRITE_METHODS = new Set<PropertyKey>(['commit', 'acquireWriter', 'releaseWriter', 'close']);

/**
 * `store` with its write methods gone, at run time too (a JavaScript caller cannot commit
 * around the writer lease through it either).
 */
export function readOnlyCatalog(store: CatalogStore): CatalogReader {
  return new Proxy(store, {
    get(target, prop) {
      if (WRITE_METHODS.has(prop)) return undefined;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
    has: (target, prop) => !WRITE_METHODS.has(prop) && Reflect.has(target, prop),
  }) as CatalogReader;
}

// ---- cluster mode (src/cluster): what a catalogue shared by several processes adds

/**
 * Partition `index` of `count` (shard i/S): the image ids whose partition hash
 * (src/cluster/partition.ts `shardOf`, and the same function in SQL) is `index`.
 */
export interface Partition {
  index: number;
  count: number;
}

/**
 * Something trained once on a sample of a collection and shared by every process that searches
 * it (IVF centroids, later PQ codebooks): bytes stored bit-exactly, versioned (1, 2, …; a new
 * training adds a version, older ones are kept), with a small JSON description.
 */
export interface TrainedArtifact {
  space: FeatureSpace;
  name: string;
  version: number;
  data: Uint8Array;
  meta: Record<string, unknown>;
  /** ms since the epoch. */
  created_at: number;
}

/** What a shard process says about itself in the registry, at every heartbeat. */
export interface ShardAnnouncement {
  /** Unique per process (host, pid and a random part): a replica is told apart by it. */
  node: string;
  space: FeatureSpace;
  partition: Partition;
  /** Where coordinators reach it: http://host:port */
  url: string;
  /** The catalogue generation its index reflects (-1 before the first load). */
  generation: number;
  /** Its index is loaded and answers searches. */
  ready: boolean;
  /** Vectors in its index. */
  size: number;
  /** ms since the epoch. */
  started_at: number;
}

/** A registry entry, and how long ago (by the database server's clock) it last announced itself. */
export interface ShardRecord extends ShardAnnouncement {
  age_ms: number;
}

/** How many searchable vectors a collection holds in one feature space, and their dimension. */
export interface SpaceCount {
  space: FeatureSpace;
  vectors: number;
  /** null when the space holds no vector of a searchable row. */
  dim: number | null;
}

/**
 * The catalogue of cluster mode (PostgresCatalogStore): the CatalogStore plus partitioned reads,
 * the collection's shared settings, trained artefacts and the shard registry.
 */
export interface ClusterCatalogStore extends CatalogStore {
  /** The collection's name inside the database. */
  readonly collection: string;
  /** Where the catalogue is, without any password (for messages). */
  readonly target: string;
  /** The database's name as its server reports it: the same from every machine (names the collection's job queue). */
  readonly database: string;
  /** snapshot() restricted to the ids of one partition. */
  partitionSnapshot(space: FeatureSpace, dim: number, partition: Partition): Promise<VectorSnapshot>;
  /** changesSince() restricted to the ids of one partition (removed ids too). */
  partitionChangesSince(space: FeatureSpace, dim: number, since: number, partition: Partition): Promise<VectorChanges>;
  /** The collection's settings JSON (src/cluster/settings.ts gives it its shape), undefined when never set. */
  settings(): Promise<Record<string, unknown> | undefined>;
  /**
   * Read-modify-write of the settings, atomic across processes: `update` gets the current value
   * and returns the new one (undefined: leave it). Resolves to the stored value.
   */
  updateSettings(update: (current: Record<string, unknown> | undefined) => Record<string, unknown> | undefined): Promise<Record<string, unknown> | undefined>;
  /** Stores a new version of a trained artefact; resolves to it (with its version). */
  putTrained(space: FeatureSpace, name: string, data: Uint8Array, meta?: Record<string, unknown>): Promise<TrainedArtifact>;
  /** The latest version of an artefact (or the given version); undefined when there is none. */
  getTrained(space: FeatureSpace, name: string, version?: number): Promise<TrainedArtifact | undefined>;
  /** The latest version number of an artefact, 0 when there is none (one cheap read). */
  trainedVersion(space: FeatureSpace, name: string): Promise<number>;
  /** Adds or refreshes a shard's registry entry (its heartbeat is the database server's clock). */
  announceShard(a: ShardAnnouncement): Promise<void>;
  /** Removes a shard's entry (a clean stop). */
  withdrawShard(node: string): Promise<void>;
  /** The entries of a space whose last heartbeat is at most `maxAgeMs` old, by partition then node. */
  liveShards(space: FeatureSpace, maxAgeMs: number): Promise<ShardRecord[]>;
  /** Searchable vectors per feature space of the collection (a full count: slow on a very large collection). */
  vectorCounts(): Promise<SpaceCount[]>;
}
