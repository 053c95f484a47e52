/**
 * The learned kinds of one collection: their model files, loaded on first use and kept by model
 * id (a new version is a new id, so a replaced model is never served from the cache).
 *
 * Another process may learn a kind again while this one runs (`nitamono learn` next to a
 * `serve`): it writes a new model file and names it in collection.json. Searches of learned
 * kinds take such changes (`followLearned`) the way they take catalogue changes by generation:
 * a stat of collection.json per search, and when it changed, the learned entries re-read and the
 * indexes and dimension of every kind whose entry changed dropped, so the next use loads the
 * index the other process saved for the new model (or rebuilds it from the catalogue).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FeatureSpace } from '../catalog/types.js';
import { CONFIG_FILE, type CollectionConfig, type FeatureKind, readConfig } from '../collection/config.js';
import type { CollectionContext } from '../collection/context.js';
import { NitamonoError } from '../errors.js';
import type { LearnedProjection } from './catalog-view.js';
import { type LearnedModel, loadLearnedModel } from './model-file.js';

export class LearnedModels {
  private readonly byModel = new Map<string, Promise<LearnedModel>>();
  /** collection.json (inode, size, mtime) when its learned entries were last compared. */
  private seen: string | undefined;
  private checks: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly config: () => CollectionConfig,
  ) {}

  /** The model of a learned kind; NOT_FOUND when the collection has no such kind, BAD_FILE for a bad file. */
  get(kind: FeatureKind): Promise<LearnedModel> {
    const learned = this.config().learned;
    const entry = Object.hasOwn(learned, kind) ? learned[kind] : undefined;
    if (!entry) return Promise.reject(new NitamonoError('NOT_FOUND', `this collection has no learned features named "${kind}"`));
    let p = this.byModel.get(entry.model);
    if (!p) {
      const file = join(this.dir, entry.file);
      p = loadLearnedModel(file).then((m) => {
        if (m.meta.model !== entry.model)
          throw new NitamonoError(
            'BAD_FILE',
            `${file} holds model ${m.meta.model}, but collection.json names ${entry.model}; run "nitamono learn --name ${kind}" again`,
          );
        return m;
      });
      p.catch(() => this.byModel.delete(entry.model));
      this.byModel.set(entry.model, p);
    }
    return p;
  }

  /**
   * Takes the learned entries collection.json holds now and returns the kinds whose entry
   * changed (learned again, added, removed). Checks run one after another, so each sees the
   * file as it was at its call or later. A file that cannot be read leaves the entries as they
   * are (the next check tries again): a search is not failed over it.
   */
  follow(): Promise<FeatureKind[]> {
    const run = this.checks.then(() => this.reread());
    this.checks = run.catch(() => undefined);
    return run;
  }

  private async reread(): Promise<FeatureKind[]> {
    const file = join(this.dir, CONFIG_FILE);
    let fresh: CollectionConfig['learned'];
    let sig: string;
    try {
      // written by rename (writeFileAtomic): every write is a new inode
      const st = await stat(file, { bigint: true });
      sig = `${st.ino}:${st.size}:${st.mtimeNs}`;
      if (sig === this.seen) return [];
      fresh = (await readConfig(file)).learned;
    } catch {
      return [];
    }
    this.seen = sig;
    const cfg = this.config();
    const same = (k: string) => JSON.stringify(cfg.learned[k]) === JSON.stringify(fresh[k]);
    const changed = [...new Set([...Object.keys(cfg.learned), ...Object.keys(fresh)])].filter((k) => !same(k));
    if (changed.length === 0) return [];
    for (const k of changed) {
      const old = cfg.learned[k];
      if (old) this.byModel.delete(old.model);
    }
    cfg.learned = fresh;
    return changed;
  }

  /** How a learned space is derived (undefined: not a current learned space). */
  readonly projectionOf = async (space: FeatureSpace): Promise<LearnedProjection | undefined> => {
    if (space.kind === 'color' || space.kind === 'deep') return undefined;
    const entry = this.config().learned[space.kind];
    if (!entry || !Object.hasOwn(this.config().learned, space.kind) || entry.model !== space.model) return undefined;
    const m = await this.get(space.kind);
    return { input: { kind: m.meta.input.kind, model: m.meta.input.model }, inDim: m.meta.input.dim, outDim: m.meta.dim, layers: m.layers };
  };
}

/** Drops what this process holds of a learned kind whose model changed: its indexes and dimension. */
export function forgetLearnedKind(ctx: CollectionContext, kind: FeatureKind): void {
  ctx.indexes.drop(kind);
  ctx.dims.forget(kind);
}

/** Brings the learned kinds in line with collection.json (see the module comment). */
export async function followLearned(ctx: CollectionContext): Promise<void> {
  for (const kind of await ctx.learned.follow()) forgetLearnedKind(ctx, kind);
}
