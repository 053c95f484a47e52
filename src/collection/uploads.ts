/**
 * Images added and removed through the library or the HTTP API (not found by a folder scan).
 * An upload is checked before anything is written: a bad image writes nothing.
 */
import { mkdir, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { ImageRow } from '../catalog/types.js';
import { invalid, NitamonoError } from '../errors.js';
import { featureSpace } from './config.js';
import type { CollectionContext } from './context.js';
import { hashBuffer, isImageName } from './folder.js';
import { type ImageInfo, UPLOADS_DIR } from './types.js';

export class UploadService {
  constructor(private readonly ctx: CollectionContext) {}

  /**
   * Extracts first (throws DECODE_FAILED / TOO_LARGE / BAD_FILE / UNSUPPORTED and writes nothing
   * for a bad image), then writes `<root>/uploads/<safe name>` (never overwriting: "-1", "-2" …
   * are appended), stores the row and returns its id.
   */
  async add(buffer: Uint8Array, filename: string): Promise<number> {
    if (!(buffer instanceof Uint8Array) || buffer.byteLength === 0) throw invalid('buffer: the uploaded file is empty (0 bytes)');
    const { config } = this.ctx;
    const kinds = config.features;
    const buf = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    this.ctx.dims.learn(this.ctx.extractors.get(kinds).dims);
    const r = await this.ctx.extractors.extractOne(buf, kinds, safeName(filename, 'upload'));
    const dir = join(config.root, UPLOADS_DIR);
    const ioError = (err: unknown) =>
      new NitamonoError('IO', `cannot write the upload under ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    await mkdir(dir, { recursive: true }).catch((err) => {
      throw ioError(err);
    });
    let name = safeName(filename, r.format);
    const ext = extname(name);
    const stem = name.slice(0, name.length - ext.length);
    let abs = join(dir, name);
    for (let i = 1; ; i++) {
      try {
        await writeFile(abs, buf, { flag: 'wx' });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || i > 10000) throw ioError(err);
        name = `${stem}-${i}${ext}`;
        abs = join(dir, name);
      }
    }
    const st = await stat(abs);
    const vectors = kinds.flatMap((k) => (r.features[k] ? [{ space: featureSpace(config, k), vector: r.features[k]! }] : []));
    const { ids } = await this.ctx.store.commit([
      {
        op: 'put',
        image: {
          relpath: `${UPLOADS_DIR}/${name}`,
          size: st.size,
          mtime_ms: st.mtimeMs,
          sha256: hashBuffer(buf),
          status: 'ok',
          width: r.width,
          height: r.height,
          format: r.format,
        },
        vectors,
      },
    ]);
    return ids[0]!;
  }

  /**
   * Files under `uploads/` are deleted with their row; any other file is left on disk and its
   * row excluded, so a later `nitamono index` does not bring it back (until the file changes).
   * Returns false if the id is unknown.
   */
  async remove(id: number): Promise<boolean> {
    const row = await this.ctx.store.get(id);
    if (!row) return false;
    if (row.relpath.startsWith(`${UPLOADS_DIR}/`)) {
      await this.ctx.store.commit([{ op: 'delete', id }]);
      await unlink(this.ctx.paths.absolute(row.relpath)).catch(() => undefined); // already gone is fine
    } else {
      await this.ctx.store.commit([{ op: 'exclude', id }]);
    }
    return true;
  }
}

/** The public description of a catalogue row. */
export function imageInfo(ctx: CollectionContext, row: ImageRow): ImageInfo {
  return {
    id: row.id,
    path: row.relpath,
    absolute_path: ctx.paths.absolute(row.relpath),
    width: row.width,
    height: row.height,
    format: row.format,
    size: row.size,
    sha256: row.sha256,
    status: row.status,
  };
}

/** A file name safe to write: no folders, no leading dots, no control or reserved characters. */
export function safeName(filename: string, format: string): string {
  let name = basename(String(filename ?? '').replace(/\\/g, '/'))
    .normalize('NFC')
    .replace(/[\u0000-\u001f\u007f<>:"/\\|?*]/g, '_')
    .replace(/^[.\s]+/, '')
    .trim();
  if (name.length > 120) {
    const ext = extname(name);
    name = name.slice(0, 120 - ext.length) + ext;
  }
  if (!name) name = 'image';
  if (!isImageName(name)) {
    const ext = (format || 'png').toLowerCase().replace(/[^a-z0-9]/g, '') || 'png';
    name = `${name}.${ext === 'jpeg' ? 'jpg' : ext}`;
  }
  return name;
}
