/**
 * The learned kinds of one collection: their model files, loaded on first use and kept by model
 * id (a new version is a new id, so a replaced model is never served from the cache).
 */
import { join } from 'node:path';
import type { FeatureSpace } from '../catalog/types.js';
import type { CollectionConfig, FeatureKind } from '../collection/config.js';
import { NitamonoError } from '../errors.js';
import type { LearnedProjection } from './catalog-view.js';
import { type LearnedModel, loadLearnedModel } from './model-file.js';

export class LearnedModels {
  private readonly byModel = new Map<string, Promise<LearnedModel>>();

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

  /** How a learned space is derived (undefined: not a current learned space). */
  readonly projectionOf = async (space: FeatureSpace): Promise<LearnedProjection | undefined> => {
    if (space.kind === 'color' || space.kind === 'deep') return undefined;
    const entry = this.config().learned[space.kind];
    if (!entry || !Object.hasOwn(this.config().learned, space.kind) || entry.model !== space.model) return undefined;
    const m = await this.get(space.kind);
    return { input: { kind: m.meta.input.kind, model: m.meta.input.model }, inDim: m.meta.input.dim, outDim: m.meta.dim, layers: m.layers };
  };
}
