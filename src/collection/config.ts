/**
 * `collection.json`: the small, human-readable description of a collection — which folder it
 * indexes, which feature kinds it stores and with which options, how its search index is chosen.
 * Everything else lives in `catalog.sqlite` (source of truth) and `<kind>.index` (derived cache).
 */
import { readFile } from 'node:fs/promises';
import type { FeatureSpace } from '../catalog/types.js';
import { invalid, NitamonoError } from '../errors.js';
import { colorDim } from '../image/color.js';
import { DEEP_MODELS, isDeepModel, LEGACY_DEEP_MODEL } from '../image/deep.js';
import { writeFileAtomic } from '../persist/atomic.js';
import { type IndexSpec, parseIndexFactory } from '../search/factory.js';

export const SCHEMA_VERSION = 1;
export const DEFAULT_COLLECTION_PATH = '.nitamono';
export const CONFIG_FILE = 'collection.json';
export const CATALOG_FILE = 'catalog.sqlite';

/** Feature kinds computed from the image itself (by the extractor). */
export type ExtractedKind = 'color' | 'deep';
export const FEATURE_KINDS: readonly ExtractedKind[] = ['color', 'deep'];
/**
 * A searchable feature kind: an extracted one, or a learned projection of the deep features,
 * named by the user (`nitamono learn --name N`, src/learn/), listed in `learned`.
 */
export type FeatureKind = ExtractedKind | (string & {});

/** A learned kind as collection.json records it: its model file (in the collection folder) and version. */
export interface LearnedEntry {
  /** File name of the learned projection, relative to the collection folder. */
  file: string;
  /** Model id: the catalogue keys vectors by it, so two versions of one name never mix. */
  model: string;
  version: number;
  /** Output dimension. */
  dim: number;
}

/** How the per-kind search index is chosen: `auto` = flat below AUTO_FLAT_MAX images, else IVF. */
export type IndexChoice = 'flat' | 'ivf' | 'auto';

/**
 * A collection's index policy: an IndexChoice, or a Faiss factory string of a kind the engine
 * builds ('IVF1024,SQ8', 'IVF1024,PQ64,RFlat', 'PQ16', …), stored in canonical form. `auto`
 * chooses among flat, IVF-Flat, IVF-SQ8 and IVF-PQ + re-ranking from the number of images, the
 * dimension and the memory budget (./auto-index.ts).
 */
export type IndexPolicy = IndexChoice | (string & {});

/**
 * Below this many images `--index auto` keeps an exact (flat) index. Measured on the project's
 * 2-core machine (FlatIndex, WASM SIMD, one query on one thread): 50,000 × 1,280-d deep vectors
 * take 26 ms per query (256 MB), 50,000 × 12-d colour histograms 0.3 ms; 200,000 deep vectors
 * take 86 ms. Up to 50,000 images exact search is fast enough for interactive use and never
 * misses a neighbour; past it the cost N·D keeps growing linearly and the inverted file
 * (≈ D·(nlist + N·nprobe/nlist), nlist = ⌈√N⌉) pays for its small recall loss.
 */
export const AUTO_FLAT_MAX = 50_000;

export interface CollectionConfig {
  schema_version: number;
  /** Absolute path of the indexed folder; image paths are stored relative to it. */
  root: string;
  /** Feature kinds extracted for every image, in a stable order (colour first). */
  features: ExtractedKind[];
  /** Learned kinds by name (absent in files of older versions: none). */
  learned: Record<string, LearnedEntry>;
  /** Bins per channel of the colour histogram (dimension 3 × bins). */
  color_bins: number;
  /**
   * Deep model name (src/image/deep.ts), written explicitly when a collection is created. Older
   * files may say null, meaning "the default at that time": readConfig pins that to
   * LEGACY_DEEP_MODEL, so a later change of the default never mixes embeddings.
   */
  deep_model: string | null;
  /** Index policy and, for IVF, the number of lists (null = ⌈√N⌉). */
  index: IndexPolicy;
  nlist: number | null;
  /**
   * RAM the indexes of `auto` may take, in bytes, for all feature kinds together (shared in
   * proportion to their dimensions); null = half the memory the machine has available when an
   * index is built (see auto-index.ts).
   */
  memory_budget: number | null;
  /**
   * Tune nprobe (and the re-ranking factor) of an approximate index until 10-recall@10 on
   * queries drawn from the collection reaches this; null = no tuning (nprobe 8).
   */
  target_recall: number | null;
  created_at: string;
  updated_at: string;
}

export function parseFeatures(value: string | undefined): ExtractedKind[] | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'both' || v === 'all') return ['color', 'deep'];
  const parts = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const out: ExtractedKind[] = [];
  for (const p of parts) {
    const kind = p === 'colour' ? 'color' : p;
    if (kind !== 'color' && kind !== 'deep') throw invalid(`unknown feature kind "${p}" (use color, deep or both)`);
    if (!out.includes(kind)) out.push(kind);
  }
  if (out.length === 0) throw invalid('no feature kind given (use color, deep or both)');
  return sortKinds(out);
}

/**
 * `index --features`: the extracted kinds to make sure exist (as parseFeatures) and the learned
 * names listed with them, whose indexes the run must bring up to date (an unreadable model
 * then fails the run instead of only being reported).
 */
export function parseIndexFeatures(value: string | undefined): { extracted?: ExtractedKind[]; learned: FeatureKind[] } {
  if (value === undefined) return { learned: [] };
  const extracted: string[] = [];
  const learned: FeatureKind[] = [];
  for (const p of value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)) {
    if (['color', 'colour', 'deep', 'both', 'all'].includes(p)) extracted.push(p);
    else if (!learned.includes(p)) learned.push(parseFeatureKind(p));
  }
  if (extracted.length === 0 && learned.length === 0) return { extracted: parseFeatures(value), learned };
  return { ...(extracted.length > 0 ? { extracted: parseFeatures(extracted.join(',')) } : {}), learned };
}

export function sortKinds(kinds: Iterable<FeatureKind>): ExtractedKind[] {
  const set = new Set<FeatureKind>(kinds);
  return FEATURE_KINDS.filter((k) => set.has(k));
}

/** Names a learned kind may not take: the extracted kinds and the words --features gives a meaning. */
const RESERVED_KIND_NAMES = new Set(['color', 'colour', 'deep', 'both', 'all']);

/** A learned kind's name: lowercase letters, digits and dashes, not a reserved word. INVALID_ARGUMENT otherwise. */
export function checkLearnedName(name: unknown): string {
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9-]{0,39}$/.test(name))
    throw invalid(`a learned feature name is 1–40 lowercase letters, digits or dashes (starting with a letter or digit), not ${JSON.stringify(name)}`);
  if (RESERVED_KIND_NAMES.has(name)) throw invalid(`"${name}" is reserved; choose another name for the learned features`);
  return name;
}

/**
 * One searchable kind from --features / the API: an extracted kind ('colour' accepted), or a
 * syntactically valid learned name (whether the collection has it is checked where it is used).
 */
export function parseFeatureKind(value: string): FeatureKind {
  const v = value.trim().toLowerCase();
  if (v === 'colour' || v === 'color') return 'color';
  if (v === 'deep') return 'deep';
  if (v === 'both' || v === 'all') throw invalid('search with one feature kind: color, deep or a learned name');
  return checkLearnedName(v);
}

/** A comma-separated list of searchable kinds ('both'/'all' = color,deep), for eval. */
export function parseKindList(value: string): FeatureKind[] {
  const out: FeatureKind[] = [];
  for (const p of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const kinds = p === 'both' || p === 'all' ? FEATURE_KINDS : [parseFeatureKind(p)];
    for (const k of kinds) if (!out.includes(k)) out.push(k);
  }
  if (out.length === 0) throw invalid('no feature kind given (use color, deep, both or the name of learned features)');
  return out;
}

/** Every kind a collection can search with: its extracted kinds, then its learned ones (which need deep). */
export function searchableKinds(cfg: Pick<CollectionConfig, 'features' | 'learned'>): FeatureKind[] {
  return [...cfg.features, ...(cfg.features.includes('deep') ? Object.keys(cfg.learned).sort() : [])];
}

export function isExtractedKind(kind: FeatureKind): kind is ExtractedKind {
  return kind === 'color' || kind === 'deep';
}

export function isLearnedKind(cfg: Pick<CollectionConfig, 'learned'>, kind: FeatureKind): boolean {
  return kind !== 'color' && kind !== 'deep' && Object.hasOwn(cfg.learned, kind);
}

export function parseIndexChoice(value: string | undefined): IndexChoice | undefined {
  if (value === undefined) return undefined;
  if (value === 'flat' || value === 'ivf' || value === 'auto') return value;
  throw invalid(`--index must be flat, ivf or auto, not "${value}"`);
}

export async function readConfig(file: string): Promise<CollectionConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new NitamonoError('NOT_FOUND', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  let cfg: CollectionConfig;
  try {
    cfg = JSON.parse(text) as CollectionConfig;
  } catch (err) {
    throw new NitamonoError('BAD_FILE', `${file} is not valid JSON`, { cause: err });
  }
  if (typeof cfg !== 'object' || cfg === null || typeof cfg.root !== 'string' || !Array.isArray(cfg.features)) {
    throw new NitamonoError('BAD_FILE', `${file} is not a nitamono collection description`);
  }
  if (cfg.schema_version > SCHEMA_VERSION) {
    throw new NitamonoError('UNSUPPORTED', `${file} has schema version ${cfg.schema_version}; this nitamono reads up to ${SCHEMA_VERSION}`);
  }
  cfg.features = sortKinds(cfg.features.filter((k) => k === 'color' || k === 'deep'));
  cfg.learned = readLearned(file, cfg.learned);
  cfg.color_bins ??= 4;
  cfg.deep_model ??= LEGACY_DEEP_MODEL;
  cfg.index ??= 'auto';
  cfg.nlist ??= null;
  cfg.memory_budget ??= null;
  cfg.target_recall ??= null;
  return cfg;
}

/** The `learned` map of collection.json, checked: a hand-edited entry must not name a file outside the folder. */
function readLearned(file: string, raw: unknown): Record<string, LearnedEntry> {
  const out: Record<string, LearnedEntry> = {};
  if (raw === undefined || raw === null) return out;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new NitamonoError('BAD_FILE', `${file}: "learned" must be an object`);
  for (const [name, e] of Object.entries(raw as Record<string, Partial<LearnedEntry>>)) {
    const ok =
      /^[a-z0-9][a-z0-9-]*$/.test(name) &&
      !RESERVED_KIND_NAMES.has(name) &&
      typeof e?.file === 'string' &&
      /^[A-Za-z0-9._-]+$/.test(e.file) &&
      typeof e.model === 'string' &&
      Number.isInteger(e.version) &&
      Number.isInteger(e.dim);
    if (!ok) throw new NitamonoError('BAD_FILE', `${file}: learned feature "${name}" is not described correctly`);
    out[name] = { file: e.file!, model: e.model!, version: e.version!, dim: e.dim! };
  }
  return out;
}

export async function writeConfig(file: string, cfg: CollectionConfig): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(cfg, null, 2)}\n`);
}

/**
 * The vector space a kind of this collection lives in: its model version is part of the
 * catalogue key, so vectors of another bin count or deep model are never mixed in.
 */
export function featureSpace(
  cfg: Pick<CollectionConfig, 'color_bins' | 'deep_model'> & Partial<Pick<CollectionConfig, 'learned'>>,
  kind: FeatureKind,
): FeatureSpace {
  if (kind === 'color') return { kind, model: `rgb-hist-${cfg.color_bins}` };
  if (kind === 'deep') return { kind, model: cfg.deep_model ?? LEGACY_DEEP_MODEL };
  const learned = cfg.learned?.[kind];
  if (!learned || !Object.hasOwn(cfg.learned!, kind))
    throw invalid(`this collection has no learned features named "${kind}" (run "nitamono learn --name ${kind}")`);
  return { kind, model: learned.model };
}

/**
 * Checks the options a collection is created with before anything is written: a bad value in
 * collection.json would make every later run fail.
 */
export function checkCollectionOptions(o: {
  colorBins?: number;
  deepModel?: string | null;
  nlist?: number | null;
  index?: IndexPolicy;
  memoryBudget?: number | null;
  targetRecall?: number | null;
}): void {
  if (o.colorBins !== undefined) colorDim(o.colorBins);
  if (o.deepModel !== undefined && o.deepModel !== null && !isDeepModel(o.deepModel)) {
    throw invalid(`unknown deep model '${o.deepModel}' (expected one of ${DEEP_MODELS.join(', ')})`);
  }
  if (o.nlist !== undefined && o.nlist !== null && (!Number.isInteger(o.nlist) || o.nlist < 1))
    throw invalid(`nlist must be a positive integer, got ${o.nlist}`);
  if (o.index !== undefined) {
    const spec = indexPolicySpec(parseIndexPolicy(o.index));
    if (spec?.nlist !== undefined && o.nlist !== undefined && o.nlist !== null && o.nlist !== spec.nlist)
      throw invalid(`--nlist ${o.nlist} disagrees with --index ${o.index} (${spec.nlist} lists)`);
  }
  if (o.memoryBudget !== undefined && o.memoryBudget !== null && (!Number.isSafeInteger(o.memoryBudget) || o.memoryBudget < 1))
    throw invalid(`the memory budget must be a positive number of bytes, got ${o.memoryBudget}`);
  if (o.targetRecall !== undefined && o.targetRecall !== null) checkTargetRecall(o.targetRecall);
}

/** A target recall: a number in (0, 1]. */
export function checkTargetRecall(v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 1)
    throw invalid(`the target recall must be a number in (0, 1], e.g. 0.95, got ${String(v)}`);
  return v;
}

/**
 * An index policy in canonical form: 'auto', 'flat', 'ivf', or a factory string as
 * parseIndexFactory writes it ('Flat' is 'flat'). INVALID_ARGUMENT listing the accepted forms.
 */
export function parseIndexPolicy(value: string): IndexPolicy {
  const v = value.trim();
  if (v === 'auto' || v === 'flat' || v === 'ivf') return v;
  let spec: IndexSpec;
  try {
    spec = parseIndexFactory(v);
  } catch (err) {
    throw invalid(`--index must be auto, flat, ivf or an index factory string: ${(err as Error).message}`);
  }
  return spec.kind === 'flat' ? 'flat' : spec.description;
}

/** The parsed factory string of a policy; undefined for 'auto' (decided per size). */
export function indexPolicySpec(policy: IndexPolicy): IndexSpec | undefined {
  if (policy === 'auto') return undefined;
  return parseIndexFactory(policy);
}
