/**
 * Index kinds, by name, as Faiss's index factory knows its index types: what each can do, how
 * its search parameters are checked, and how its files are read. loadIndex opens any file whose
 * kind is registered here, so a new kind (HNSW, …) plugs in without touching the loader or the
 * code that serves indexes. Built in: flat, ivf, and the compressed sq8, pq, ivf-sq8, ivf-pq, fp16, ivf-fp16.
 */
import { invalid } from '../errors.js';
import type { ContainerFile } from '../persist/container.js';
import { checkOneOf, checkPositiveInt } from '../validate.js';
import { fp16Kind, ivfFp16Kind, ivfPqKind, ivfSq8Kind, pqKind, sq8Kind } from './coded.js';
import { flatKind } from './flat.js';
import { ivfKind } from './ivf.js';
import type { BaseSearchParams, IndexCapabilities, VectorIndex } from './types.js';

export interface IndexKind<P extends BaseSearchParams = BaseSearchParams, I extends VectorIndex<P> = VectorIndex<P>> {
  /** The `kind` of its index files and of its indexes ('flat', 'ivf', …). */
  readonly name: string;
  readonly capabilities: IndexCapabilities;
  /** The file format version it writes, and the newest it reads. */
  readonly formatVersion: number;
  /** Checks search parameters and returns the ones this kind uses; throws INVALID_ARGUMENT naming a bad one. */
  parseParams(params: unknown): P;
  /** Builds an index from a file of this kind (version ≤ formatVersion, checksum verified); throws BAD_FILE naming `path`. */
  fromContainer(path: string, container: ContainerFile): I;
}

const CAPABILITIES: readonly (keyof IndexCapabilities)[] = ['trainable', 'removable', 'compressed', 'needsRefineVectors'];
const NAME = /^[a-z0-9][a-z0-9._-]*$/;

const kinds = new Map<string, IndexKind>(
  [flatKind, ivfKind, sq8Kind, pqKind, ivfSq8Kind, ivfPqKind, fp16Kind, ivfFp16Kind].map((k): [string, IndexKind] => [k.name, k as unknown as IndexKind]),
);

/**
 * Adds a kind. Its name must be new (lower case letters, digits, '.', '_', '-'). Returns a
 * function that removes it again (for tests and plugins that unload).
 */
export function registerIndexKind<P extends BaseSearchParams, I extends VectorIndex<P>>(kind: IndexKind<P, I>): () => void {
  if (kind === null || typeof kind !== 'object') throw invalid('an index kind must be an object');
  if (typeof kind.name !== 'string' || !NAME.test(kind.name)) {
    throw invalid(`index kind name must be lower case letters, digits, '.', '_' or '-', got ${JSON.stringify(kind.name)}`);
  }
  if (kinds.has(kind.name)) throw invalid(`index kind '${kind.name}' is already registered`);
  const caps = kind.capabilities as unknown as Record<string, unknown> | undefined;
  for (const c of CAPABILITIES) {
    if (typeof caps?.[c] !== 'boolean') throw invalid(`index kind '${kind.name}': capabilities.${c} must be true or false`);
  }
  checkPositiveInt(`index kind '${kind.name}': formatVersion`, kind.formatVersion);
  for (const f of ['parseParams', 'fromContainer'] as const) {
    if (typeof kind[f] !== 'function') throw invalid(`index kind '${kind.name}': ${f} must be a function`);
  }
  const entry = kind as unknown as IndexKind;
  kinds.set(kind.name, entry);
  return () => {
    if (kinds.get(kind.name) === entry) kinds.delete(kind.name);
  };
}

/** The kind registered under `name`; INVALID_ARGUMENT naming the registered ones otherwise. */
export function indexKind(name: string): IndexKind {
  return kinds.get(checkOneOf('index kind', name, [...kinds.keys()]))!;
}

/** Every registered kind, built-in ones first. */
export function indexKinds(): readonly IndexKind[] {
  return [...kinds.values()];
}

/** The kind registered under `name`, if any. */
export function findIndexKind(name: string): IndexKind | undefined {
  return kinds.get(name);
}
