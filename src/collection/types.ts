/**
 * The public shapes of the collection API: requests, responses and reports (what the CLI prints
 * with --json and the HTTP API returns).
 */

import type { ImageFilter } from '../catalog/filter.js';
import type { WriterLease } from '../catalog/types.js';
import type { FeatureKind, IndexPolicy } from './config.js';
import type { Progress } from './progress.js';
import type { Tuning } from './tune.js';

/** Default nprobe for IVF searches when none is given (clamped to nlist). */
export const DEFAULT_NPROBE = 8;
/** Images committed to SQLite per transaction while indexing. */
export const DEFAULT_BATCH = 64;
/** Folder under the root where addImage() writes uploads. */
export const UPLOADS_DIR = 'uploads';

export type SearchMethod = 'exact' | 'ivf';
export type CollectionQuery = { id: number } | { path: string } | { buffer: Uint8Array; filename?: string };

export interface CollectionSearchOptions {
  /** Results wanted (default 10, at most 1000). */
  k?: number;
  /** Feature kind (default: deep if the collection has it, else color). */
  features?: FeatureKind;
  /** 'exact' scans every vector; 'ivf' scans the nprobe nearest lists. Default: the collection's index kind. */
  method?: SearchMethod;
  /** IVF lists to scan (default: the tuned value, else DEFAULT_NPROBE; clamped to nlist). */
  nprobe?: number;
  /**
   * Indexes re-ranked from the catalogue (`…,RFlat`): refineFactor·k candidates are re-scored
   * with their exact vectors (default: the tuned value, else COLLECTION_REFINE_FACTOR = 4).
   */
  refineFactor?: number;
  /** Leave the query image itself out of the results (queries by id or indexed path). */
  excludeSelf?: boolean;
  /**
   * Search only the images this filter lets through (folders, ids, mtime and size ranges, name
   * words: ../catalog/filter.ts), inside the index scan: the k nearest of that subset, exact
   * when the method is. Resolved to ids through the catalogue at each search.
   */
  filter?: ImageFilter;
}

export interface NameSearchOptions {
  /** Results wanted (default 50, at most 1000). */
  limit?: number;
  /** Results to skip (paging; default 0). */
  offset?: number;
  /** Restrict to these folders, ids, ranges as well (its own `name` words are added to the query's). */
  filter?: ImageFilter;
}

export interface NameSearchResponse {
  /** The query as parsed: the words looked for, or the literal text. */
  query: { words: string[] } | { literal: string };
  /** Images matching in all. */
  total: number;
  results: Array<{ id: number; path: string; absolute_path: string }>;
}

export interface SearchHit {
  id: number;
  /** Path relative to the collection root, "/"-separated. */
  path: string;
  absolute_path: string;
  /** Squared Euclidean distance ‖q − x‖² (smaller = more similar). */
  distance: number;
}

export interface SearchResponse {
  took_ms: number;
  /** Feature extraction time for a query that was not indexed (0 otherwise). */
  extract_ms: number;
  method: SearchMethod;
  features: FeatureKind;
  distances_computed: number;
  /** Searchable vectors. */
  n: number;
  dim: number;
  nprobe?: number;
  nlist?: number;
  /** The re-ranking factor used (indexes re-ranked from the catalogue). */
  refine_factor?: number;
  /** The index searched, as a Faiss factory string ('Flat', 'IVF317,PQ64,RFlat', …). */
  index?: string;
  query: { source: 'indexed' | 'extracted'; id?: number; path?: string };
  /** A filtered search: how many searchable images the filter let through (the subset searched). */
  filtered?: number;
  results: SearchHit[];
  warnings?: string[];
}

export interface ImageInfo {
  id: number;
  /** Path relative to the collection root, "/"-separated (as in SearchHit). */
  path: string;
  absolute_path: string;
  width: number | null;
  height: number | null;
  format: string | null;
  size: number;
  sha256: string | null;
  status: 'ok' | 'skipped' | 'excluded';
}

export interface SkippedFile {
  /** Path relative to the collection root. */
  path: string;
  code: string;
  reason: string;
}

export interface IndexReport {
  root: string;
  collection: string;
  /** Images made searchable in this run (new files, changed files, identical copies). */
  indexed: number;
  /** Of `indexed`: files that replaced an older version of the same path. */
  changed: number;
  /** Of `indexed`: files whose content hash matched an indexed image, vectors copied, not re-extracted. */
  reused: number;
  unchanged: number;
  removed: number;
  /** Files newly skipped in this run. */
  skipped_new: number;
  /** Every file of the folder that is not searchable, with the reason (this run's and earlier runs' still present). */
  skipped: SkippedFile[];
  /** Files without an image extension, not looked at. */
  ignored: number;
  /** Searchable images after the run. */
  images: number;
  features: FeatureKind[];
  /**
   * Per kind: the index kind, size and nlist; for the compressed kinds also its factory string;
   * when `--target-recall` tuned it, the tuning.
   */
  index: Record<string, { kind: string; size: number; nlist?: number; factory?: string; tuning?: Tuning }>;
  /** Learned kinds whose index could not be brought up to date (their model file is unreadable), with why. */
  warnings: IndexWarning[];
  interrupted: boolean;
  took_ms: number;
}

/** A learned kind left out of an `index` run; its stored data (model file, index files) is left as it is. */
export interface IndexWarning {
  kind: FeatureKind;
  /** The model file that could not be used. */
  file: string;
  code: string;
  reason: string;
  /** The run was asked for this kind by name (UpdateOptions.learned): a failure of the run, not only a warning. */
  asked: boolean;
}

export interface UpdateOptions {
  /** Feature kinds to make sure exist (added to the collection's; existing ones are kept). */
  features?: FeatureKind[];
  /** Learned kinds asked for by name: each must exist, and one whose index cannot be made is flagged `asked` in the warnings. */
  learned?: FeatureKind[];
  /** Index policy: auto, flat, ivf or a factory string (IVF1024,SQ8, IVF1024,PQ64,RFlat, …). */
  index?: IndexPolicy;
  nlist?: number | null;
  /** RAM the indexes may take under `auto`, in bytes (null: half the available memory). */
  memoryBudget?: number | null;
  /** Tune nprobe/refineFactor to reach this 10-recall@10 (null: stop tuning). */
  targetRecall?: number | null;
  /** Worker threads for feature extraction and IVF training (default: all cores). */
  threads?: number;
  /** Images per SQLite transaction (default 64). */
  batchSize?: number;
  /** Re-try files that were skipped before even if they did not change. */
  retrySkipped?: boolean;
  progress?: Progress;
  /** Aborting finishes the current batch, saves, and returns with `interrupted: true`. */
  signal?: AbortSignal;
}

export interface OpenOptions {
  /** Create the collection if it does not exist (needs `root`). */
  create?: boolean;
  /** The image folder: required to create; when opening, must match the stored root if given. */
  root?: string;
  features?: FeatureKind[];
  colorBins?: number;
  deepModel?: string | null;
  /** Index policy of a new collection (see UpdateOptions.index). */
  index?: IndexPolicy;
  nlist?: number | null;
  memoryBudget?: number | null;
  targetRecall?: number | null;
  threads?: number;
  progress?: Progress;
  /**
   * How long a write waits for another process writing the collection, in ms (default: until
   * it is done; 0: fail at once with NitamonoError LOCKED).
   */
  writerWait?: number;
  /** Called once when a write starts waiting for another process's write. */
  onWriterWait?: (holder: WriterLease) => void;
  /** What this process runs, shown to a writer that has to wait for it (default: its argv). */
  command?: string;
}

export interface KindStats {
  kind: FeatureKind;
  dim: number;
  /** Why this kind cannot be searched now (a learned kind whose model file is unreadable). */
  problem?: string;
  /** A learned kind: its model version and the held-out figures measured when it was learned. */
  learned?: {
    version: number;
    model: string;
    labels: string;
    holdout_images: number;
    before: { precision_at_10: number; map: number };
    after: { precision_at_10: number; map: number };
  };
  index: {
    /** The registered kind: flat, ivf, sq8, pq, ivf-sq8, ivf-pq. */
    kind: string;
    /** As a Faiss factory string ('Flat', 'IVF317,Flat', 'IVF317,PQ64,RFlat'). */
    factory: string;
    /** The PQ kinds: sub-quantizers, bits, fast scan, bytes a vector (IndexDescription.codec). */
    codec?: string;
    size: number;
    nlist: number | null;
    list_sizes: { min: number; max: number; mean: number; empty: number } | null;
    /** RAM of the index (vectors or codes, ids, centroids, codebooks, tables). */
    memory_bytes: number;
    /** memory_bytes / size. */
    bytes_per_image: number;
    /** Full vectors re-ranking reads from the catalogue on disk (0 when the index is not re-ranked). */
    refine_bytes: number;
    /** size·dim·4: what float32 vectors would take, for comparison. */
    raw_bytes: number;
    file_bytes: number;
    generation: number;
    /** Why this index (auto's reasoning, or the policy). */
    reason: string | null;
    /** This kind's share of the memory budget the index was planned under (null: none recorded). */
    budget_bytes: number | null;
    /** What searches use by default: the tuned values, else DEFAULT_NPROBE and COLLECTION_REFINE_FACTOR. */
    search_defaults: { nprobe: number | null; refine_factor: number | null };
    /** The tuning for `target_recall` (null: not tuned). */
    tuning: Tuning | null;
  } | null;
}

export interface CollectionStats {
  path: string;
  root: string;
  images: number;
  skipped: number;
  excluded: number;
  generation: number;
  index_policy: IndexPolicy;
  /** collection.json memory_budget (null: half the available memory when an index is built). */
  memory_budget: number | null;
  target_recall: number | null;
  features: KindStats[];
  memory_bytes: number;
  disk_bytes: number;
  created_at: string;
  updated_at: string;
}

export interface QueryEvaluation {
  features: FeatureKind;
  k: number;
  nprobe: number;
  nlist: number;
  /** 1 if the IVF's first result is the exact nearest neighbour (or ties with it), else 0. */
  recall_at_1: number;
  /** |IVF top-k ∩ exact top-k| / k, counting equal-distance ties as found. */
  recall_at_k: number;
  exact: SearchResponse;
  ivf: SearchResponse;
}
