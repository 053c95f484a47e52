/**
 * A collection's settings in cluster mode: what every process working on it must agree on —
 * the feature kinds, the colour histogram's bins and the deep model (together they name the
 * feature spaces vectors are stored in), the index policy, and the folder the images are under.
 * On one machine `collection.json` holds them; in cluster mode there is no shared folder for it,
 * so they live in the catalogue (`nitamono.collections.settings`, JSON), written by whichever
 * process first needs them (an `index` run, or a test) and read by the others (shards, searches).
 *
 * `ensureClusterSettings` is the one way to write them: atomic across processes, feature kinds
 * only ever added, and the bins / model / root fixed once recorded (changing them would mean
 * other feature spaces: a new collection).
 */
import type { ClusterCatalogStore, FeatureSpace } from '../catalog/types.js';
import { checkCollectionOptions, type FeatureKind, featureSpace, type IndexChoice, sortKinds } from '../collection/config.js';
import { invalid, NitamonoError } from '../errors.js';
import { DEFAULT_DEEP_MODEL } from '../image/deep.js';

export const CLUSTER_SETTINGS_FORMAT = 'nitamono-cluster-settings';
export const CLUSTER_SETTINGS_VERSION = 1;

export interface ClusterSettings {
  format: typeof CLUSTER_SETTINGS_FORMAT;
  version: number;
  /** Feature kinds stored for every image, colour first. */
  features: FeatureKind[];
  color_bins: number;
  deep_model: string;
  index: IndexChoice;
  nlist: number | null;
  /** The images' folder, as every process sees it (a shared mount), or null when not recorded. */
  root: string | null;
}

/** What a caller wants recorded; anything left out keeps its stored value (or the default). */
export interface ClusterSettingsInput {
  features?: FeatureKind[];
  colorBins?: number;
  deepModel?: string;
  index?: IndexChoice;
  nlist?: number | null;
  root?: string | null;
}

type SettingsStore = Pick<ClusterCatalogStore, 'settings' | 'updateSettings' | 'collection'>;

/** Checks stored settings; BAD_FILE for something that is not them, UNSUPPORTED for a newer version. */
export function parseClusterSettings(raw: unknown, where: string): ClusterSettings {
  const o = raw as Partial<ClusterSettings> | null;
  if (!o || typeof o !== 'object' || o.format !== CLUSTER_SETTINGS_FORMAT || typeof o.version !== 'number') {
    throw new NitamonoError('BAD_FILE', `the settings of ${where} are not nitamono's cluster settings`);
  }
  if (o.version > CLUSTER_SETTINGS_VERSION) {
    throw new NitamonoError('UNSUPPORTED', `the settings of ${where} have version ${o.version}; this nitamono reads up to ${CLUSTER_SETTINGS_VERSION}`);
  }
  const features = Array.isArray(o.features) ? sortKinds(o.features.filter((k): k is FeatureKind => k === 'color' || k === 'deep')) : [];
  const bad = (what: string) => new NitamonoError('BAD_FILE', `the settings of ${where}: ${what}`);
  if (features.length === 0) throw bad('no feature kind');
  if (!Number.isInteger(o.color_bins) || (o.color_bins as number) < 1) throw bad(`color_bins ${JSON.stringify(o.color_bins)}`);
  if (typeof o.deep_model !== 'string' || o.deep_model === '') throw bad(`deep_model ${JSON.stringify(o.deep_model)}`);
  const index = o.index === 'flat' || o.index === 'ivf' || o.index === 'auto' ? o.index : 'auto';
  const nlist = Number.isInteger(o.nlist) && (o.nlist as number) > 0 ? (o.nlist as number) : null;
  return {
    format: CLUSTER_SETTINGS_FORMAT,
    version: o.version,
    features,
    color_bins: o.color_bins as number,
    deep_model: o.deep_model,
    index,
    nlist,
    root: typeof o.root === 'string' && o.root !== '' ? o.root : null,
  };
}

function where(store: SettingsStore): string {
  return `collection ${JSON.stringify(store.collection)}`;
}

/** The collection's settings, or undefined when no process has recorded them yet. */
export async function readClusterSettings(store: SettingsStore): Promise<ClusterSettings | undefined> {
  const raw = await store.settings();
  return raw === undefined ? undefined : parseClusterSettings(raw, where(store));
}

/**
 * Records the settings if there are none (defaults: colour features, 4 bins, the default deep
 * model, index auto), else adds the feature kinds asked for and the index policy given. Throws
 * INVALID_ARGUMENT, changing nothing, when `want` disagrees with a recorded colour bin count,
 * deep model or root. Resolves to the settings now stored.
 */
export async function ensureClusterSettings(store: SettingsStore, want: ClusterSettingsInput = {}): Promise<ClusterSettings> {
  checkCollectionOptions(want);
  if (want.features !== undefined && (!Array.isArray(want.features) || want.features.length === 0)) throw invalid('features: at least one of color, deep');
  let conflict: NitamonoError | undefined;
  const stored = await store.updateSettings((raw) => {
    conflict = undefined;
    if (raw === undefined) {
      const fresh: ClusterSettings = {
        format: CLUSTER_SETTINGS_FORMAT,
        version: CLUSTER_SETTINGS_VERSION,
        features: sortKinds(want.features ?? ['color']),
        color_bins: want.colorBins ?? 4,
        deep_model: want.deepModel ?? DEFAULT_DEEP_MODEL,
        index: want.index ?? 'auto',
        nlist: want.nlist ?? null,
        root: want.root ?? null,
      };
      return { ...fresh };
    }
    const cur = parseClusterSettings(raw, where(store));
    const differs = (what: string, have: unknown, asked: unknown) =>
      invalid(`${where(store)} records ${what} ${JSON.stringify(have)}; it cannot change to ${JSON.stringify(asked)} (that would be a new collection)`);
    if (want.colorBins !== undefined && want.colorBins !== cur.color_bins) conflict = differs('colour bins', cur.color_bins, want.colorBins);
    else if (want.deepModel !== undefined && want.deepModel !== cur.deep_model) conflict = differs('the deep model', cur.deep_model, want.deepModel);
    else if (want.root != null && cur.root !== null && want.root !== cur.root) conflict = differs('the image folder', cur.root, want.root);
    if (conflict) return undefined;
    return {
      ...cur,
      features: sortKinds([...cur.features, ...(want.features ?? [])]),
      index: want.index ?? cur.index,
      nlist: want.nlist !== undefined ? want.nlist : cur.nlist,
      root: cur.root ?? want.root ?? null,
    };
  });
  if (conflict) throw conflict;
  return parseClusterSettings(stored, where(store));
}

/** The feature space a kind of this collection lives in (as featureSpace for collection.json). */
export function clusterSpace(settings: Pick<ClusterSettings, 'color_bins' | 'deep_model'>, kind: FeatureKind): FeatureSpace {
  return featureSpace(settings, kind);
}

/** The settings, or NOT_FOUND saying how to make them. */
export async function requireClusterSettings(store: SettingsStore): Promise<ClusterSettings> {
  const s = await readClusterSettings(store);
  if (!s) {
    throw new NitamonoError(
      'NOT_FOUND',
      `${where(store)} has no settings yet: no process has indexed anything into it (its feature kinds, colour bins and deep model are recorded then; run "nitamono index <folder> --catalog … --collection ${store.collection}" first)`,
    );
  }
  return s;
}
