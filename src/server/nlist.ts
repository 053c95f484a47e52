/**
 * The number of lists (nlist) of each kind's inverted file, as far as the server can tell without
 * building one: training an IVF takes seconds and writes a file, so reading stats or pricing a
 * search must never cause it. Searches, evaluations and sweeps report the nlist they used; until
 * one did, the figure is the nlist an IVF would get (the configured one, or ⌈√N⌉).
 */
import type { Collection, FeatureKind } from '../collection/index.js';

export class NlistBook {
  private seen = new Map<FeatureKind, number>();

  constructor(private readonly collection: Collection) {}

  /** Records the nlist of an inverted file that was searched. */
  remember(kind: FeatureKind, nlist: number | null | undefined): void {
    if (typeof nlist === 'number' && nlist > 0) this.seen.set(kind, nlist);
  }

  /** The nlist of the last inverted file of `kind` this server searched, if any. */
  known(kind: FeatureKind): number | undefined {
    return this.seen.get(kind);
  }

  /** The nlist an inverted file of `n` vectors would be trained with: configured or ⌈√N⌉, within [1, N]. */
  planned(n: number): number {
    const wanted = this.collection.config.nlist ?? Math.ceil(Math.sqrt(Math.max(1, n)));
    return Math.max(1, Math.min(n, wanted));
  }

  /** For a cost figure: the known nlist, else the planned one. */
  forCost(kind: FeatureKind, n: number): number {
    return this.known(kind) ?? this.planned(n);
  }
}
