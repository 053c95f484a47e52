/**
 * What the services of a collection share: its folder, configuration, catalogue, indexes and
 * extractors. The `Collection` facade builds one and hands it to each service.
 */
import { isAbsolute, join, normalize, sep } from 'node:path';
import type { CatalogStore } from '../catalog/types.js';
import { colorDim } from '../image/color.js';
import type { LearnedModels } from '../learn/registry.js';
import { CONFIG_FILE, type CollectionConfig, type FeatureKind, featureSpace, writeConfig } from './config.js';
import type { ExtractorCache } from './extractors.js';
import type { IndexManager } from './index-manager.js';
import type { Progress } from './progress.js';

export interface CollectionContext {
  /** The collection folder (absolute). */
  readonly path: string;
  readonly config: CollectionConfig;
  readonly store: CatalogStore;
  readonly indexes: IndexManager;
  readonly extractors: ExtractorCache;
  /** The learned kinds' models (src/learn/). */
  readonly learned: LearnedModels;
  readonly dims: Dimensions;
  readonly threads: number;
  readonly progress: Progress;
  readonly paths: RootPaths;
  saveConfig(): Promise<void>;
}

export async function saveConfig(dir: string, config: CollectionConfig): Promise<void> {
  await writeConfig(join(dir, CONFIG_FILE), config);
}

/** Vector dimension per kind: known from the extractor, else learnt from one stored vector. */
export class Dimensions {
  private readonly known = new Map<FeatureKind, number>();

  constructor(
    private readonly store: CatalogStore,
    private readonly config: () => CollectionConfig,
  ) {}

  /** The dimension if already known, without a catalogue read (the per-search path). */
  cached(kind: FeatureKind): number | undefined {
    return this.known.get(kind);
  }

  async of(kind: FeatureKind): Promise<number | undefined> {
    const k = this.known.get(kind);
    if (k !== undefined) return k;
    const cfg = this.config();
    const stored = await this.store.vectorDim(featureSpace(cfg, kind));
    const d = stored ?? (kind === 'color' ? colorDim(cfg.color_bins) : undefined);
    if (d !== undefined) this.known.set(kind, d);
    return d;
  }

  /** Drops a known dimension (a learned kind re-learned with another output dimension). */
  forget(kind: FeatureKind): void {
    this.known.delete(kind);
  }

  learn(dims: Partial<Record<FeatureKind, number>>): void {
    for (const [k, d] of Object.entries(dims) as [FeatureKind, number | undefined][]) if (typeof d === 'number' && d > 0) this.known.set(k, d);
  }
}

/** A relpath join() would normalise: leading, trailing or doubled "/", or a "." / ".." segment. */
const ODD_RELPATH = /^\/|\/$|\/\/|(^|\/)\.\.?(\/|$)/;

/** Root-relative ↔ absolute paths of the collection's images. */
export class RootPaths {
  private prefix: { root: string; prefix: string | null } | undefined;

  constructor(private readonly root: () => string) {}

  /** Absolute path of a stored relative path. */
  absolute(relpath: string): string {
    // Stored relpaths are normalised ("/"-separated, no "." or ".." segments), so on POSIX a
    // concatenation is what join() would return, without its cost (k of these per search).
    const root = this.root();
    if (this.prefix?.root !== root) {
      this.prefix = { root, prefix: sep === '/' && isAbsolute(root) && normalize(root) === root ? (root.endsWith('/') ? root : `${root}/`) : null };
    }
    const prefix = this.prefix.prefix;
    if (prefix !== null && relpath !== '' && !ODD_RELPATH.test(relpath)) return prefix + relpath;
    return join(root, ...relpath.split('/'));
  }
}
