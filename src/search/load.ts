/** Opens any nitamono index file whose kind is registered (see ./registry.ts). */
import { readContainer } from '../persist/container.js';
import { badFile } from '../persist/read.js';
import { findIndexKind, indexKinds } from './registry.js';
import type { VectorIndex } from './types.js';

export async function loadIndex(path: string): Promise<VectorIndex> {
  const kinds = indexKinds();
  // the header, where the kind is named, is only read for versions some kind can read
  const c = await readContainer(path, { maxVersion: Math.max(...kinds.map((k) => k.formatVersion)) });
  const kind = findIndexKind(c.kind);
  if (!kind) throw badFile(path, `unknown index kind '${c.kind}' (this build reads ${kinds.map((k) => `'${k.name}'`).join(', ')})`);
  if (c.version > kind.formatVersion) {
    throw badFile(path, `written by a newer nitamono (format version ${c.version}, this build reads up to ${kind.formatVersion})`);
  }
  return kind.fromContainer(path, c) as VectorIndex;
}
