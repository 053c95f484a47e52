/** Opens any nitamono index file, whatever its kind. */
import { FlatIndex, FLAT_FORMAT_VERSION } from './flat.js';
import { IVFIndex, IVF_FORMAT_VERSION } from './ivf.js';
import { readContainer } from '../persist/container.js';
import { NitamonoError } from '../errors.js';

export async function loadIndex(path: string): Promise<FlatIndex | IVFIndex> {
  const c = await readContainer(path, { maxVersion: Math.max(FLAT_FORMAT_VERSION, IVF_FORMAT_VERSION) });
  const newer = (v: number) => new NitamonoError('BAD_FILE',
    `${path}: written by a newer nitamono (format version ${c.version}, this build reads up to ${v})`);
  if (c.kind === 'flat') { if (c.version > FLAT_FORMAT_VERSION) throw newer(FLAT_FORMAT_VERSION); return FlatIndex.fromContainer(path, c); }
  if (c.kind === 'ivf') { if (c.version > IVF_FORMAT_VERSION) throw newer(IVF_FORMAT_VERSION); return IVFIndex.fromContainer(path, c); }
  throw new NitamonoError('BAD_FILE', `${path}: unknown index kind '${c.kind}'`);
}
