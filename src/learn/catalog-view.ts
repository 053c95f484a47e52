/**
 * The catalogue as the collection's services see it once it has learned kinds: reads of a
 * learned space return the stored deep vectors passed through the learned head; everything else
 * goes to the store unchanged.
 *
 * Why derived on read rather than stored: a learned vector is a pure function of an image's deep
 * vector and the model version (part of the space's model id), so deriving it where it is read
 * cannot fall out of step with the catalogue — an image `index` adds or changes later has its
 * learned vector as soon as its deep vector is committed, in the same generation, with no second
 * write and no schema change in either backend. The cost is the projection (d×128 multiply-adds
 * per vector, ≈ 0.2 ms) when an index of the kind is built or brought up to date, and for the
 * few vectors a search by id or a re-ranking reads; the index file holds the projected vectors.
 */
import type { CatalogStore, FeatureSpace } from '../catalog/types.js';
import { type HeadLayer, projectAsync, projectRows } from './project.js';

/** How a learned space is computed: from which stored space, of what dimension, through which head. */
export interface LearnedProjection {
  input: FeatureSpace;
  inDim: number;
  outDim: number;
  layers: readonly HeadLayer[];
}

/** The projection of `space`, or undefined when it is not a learned space (read as stored). */
export type ProjectionOf = (space: FeatureSpace) => Promise<LearnedProjection | undefined>;

type Overrides = Pick<CatalogStore, 'vector' | 'okVector' | 'okVectors' | 'vectorDim' | 'snapshot' | 'changesSince' | 'summaries' | 'okBySha'>;

/** `store` with learned spaces derived on read (writes and every other read go straight to `store`). */
export function learnedCatalog(store: CatalogStore, projectionOf: ProjectionOf): CatalogStore {
  const inputs = async (spaces: readonly FeatureSpace[]) => Promise.all(spaces.map(async (s) => (await projectionOf(s))?.input ?? s));
  const overrides: Overrides = {
    async vector(id, space) {
      const p = await projectionOf(space);
      if (!p) return store.vector(id, space);
      const v = await store.vector(id, p.input);
      return v && v.length === p.inDim ? projectRows(p.layers, v, 1) : undefined;
    },
    async okVector(id, space) {
      const p = await projectionOf(space);
      if (!p) return store.okVector(id, space);
      const r = await store.okVector(id, p.input);
      return r && r.vector.length === p.inDim ? { relpath: r.relpath, vector: projectRows(p.layers, r.vector, 1) } : undefined;
    },
    async okVectors(ids, space, dim) {
      const p = await projectionOf(space);
      if (!p) return store.okVectors(ids, space, dim);
      const r = await store.okVectors(ids, p.input, p.inDim);
      return { ids: r.ids, vectors: await projectAsync(p.layers, r.vectors, r.ids.length) };
    },
    async vectorDim(space) {
      const p = await projectionOf(space);
      if (!p) return store.vectorDim(space);
      return (await store.vectorDim(p.input)) === p.inDim ? p.outDim : undefined;
    },
    async snapshot(space, dim) {
      const p = await projectionOf(space);
      if (!p) return store.snapshot(space, dim);
      const s = await store.snapshot(p.input, p.inDim);
      return { generation: s.generation, ids: s.ids, vectors: await projectAsync(p.layers, s.vectors, s.ids.length) };
    },
    async changesSince(space, dim, since) {
      const p = await projectionOf(space);
      if (!p) return store.changesSince(space, dim, since);
      const c = await store.changesSince(p.input, p.inDim, since);
      return { ...c, added: { ids: c.added.ids, vectors: await projectAsync(p.layers, c.added.vectors, c.added.ids.length) } };
    },
    async summaries(spaces) {
      return store.summaries(await inputs(spaces));
    },
    async okBySha(sha, spaces) {
      return store.okBySha(sha, await inputs(spaces));
    },
  };
  // each method bound once: binding on every read (a search makes several) was ≈ 1.5 % of a filtered search in a profile
  const bound = new Map<PropertyKey, { fn: (...a: unknown[]) => unknown; bound: unknown }>();
  return new Proxy(store, {
    get(target, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof Overrides];
      const v = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      const known = bound.get(prop);
      if (known && known.fn === v) return known.bound;
      const b = v.bind(target);
      bound.set(prop, { fn: v, bound: b });
      return b;
    },
  });
}
