/**
 * The pixel prints (pixel-match.ts) of a collection's images, kept in one file of the collection
 * folder, so the near-duplicate check decodes each image once in its life rather than once per
 * pair and run. Keyed by the file's SHA-256: a renamed or moved image keeps its print, an edited
 * one gets a new key.
 *
 * File: a nitamono container (src/persist/container.ts: header, checksum, written temp + fsync +
 * rename), kind 'pixel-prints', version 1; meta { recipe, count }; sections 'sha256' (32 bytes
 * per print), 'offsets' (f64, count + 1: where each print's bytes start in 'prints', then the
 * end), 'prints' (encodePrint's bytes, one after the other). A file that cannot be read (missing,
 * corrupt, truncated, a newer version) or made with another PRINT_RECIPE loads as empty: the
 * prints are a cache, recomputed from the images, and never the reason a command fails. A print
 * that does not decode is dropped on its own.
 *
 * Size: 12 KiB per image (24 KiB with a trimmed view), all of it in memory while the check runs.
 */
import { join } from 'node:path';
import { readContainer, writeContainer } from '../persist/container.js';
import { decodePrint, PRINT_RECIPE } from './pixel-match.js';

/** The cache's file name in the collection folder. */
export const PRINT_CACHE_FILE = 'pixel-prints.bin';
const KIND = 'pixel-prints';
const VERSION = 1;
const SHA_BYTES = 32;

export class PrintCache {
  private readonly prints = new Map<string, Uint8Array>();
  private changed = false;

  private constructor(
    readonly path: string,
    /** Why the file was not used, when it existed but could not be (for a warning). */
    readonly problem?: string,
  ) {}

  /** The cache of the collection in `dir`; never throws (an unreadable file is an empty cache). */
  static async open(dir: string): Promise<PrintCache> {
    const path = join(dir, PRINT_CACHE_FILE);
    let file: Awaited<ReturnType<typeof readContainer>>;
    try {
      file = await readContainer(path, { kind: KIND, maxVersion: VERSION });
    } catch (err) {
      const missing = (err as { code?: string }).code === 'NOT_FOUND';
      return new PrintCache(path, missing ? undefined : (err as Error).message);
    }
    if (file.meta.recipe !== PRINT_RECIPE) return new PrintCache(path, `made with other print settings (${String(file.meta.recipe)})`);
    const cache = new PrintCache(path);
    const shas = file.sections.sha256 ?? new Uint8Array(0);
    const bytes = file.sections.prints ?? new Uint8Array(0);
    const raw = file.sections.offsets ?? new Uint8Array(0);
    const count = Math.floor(shas.byteLength / SHA_BYTES);
    if (raw.byteLength !== (count + 1) * 8) return new PrintCache(path, 'the offsets do not match the prints');
    const offsets = new Float64Array(raw.buffer, raw.byteOffset, count + 1);
    for (let i = 0; i < count; i++) {
      const a = offsets[i]!,
        b = offsets[i + 1]!;
      if (!(a >= 0 && b >= a && b <= bytes.byteLength)) continue;
      const print = bytes.subarray(a, b);
      if (decodePrint(print)) cache.prints.set(Buffer.from(shas.subarray(i * SHA_BYTES, (i + 1) * SHA_BYTES)).toString('hex'), print);
    }
    // entries dropped above are gone from the next file
    cache.changed = cache.prints.size !== count;
    return cache;
  }

  get size(): number {
    return this.prints.size;
  }

  /** The encoded print of the image with this SHA-256 (hex). */
  get(sha256: string): Uint8Array | undefined {
    return this.prints.get(sha256);
  }

  set(sha256: string, print: Uint8Array): void {
    if (!/^[0-9a-f]{64}$/.test(sha256) || !decodePrint(print)) return;
    this.prints.set(sha256, print);
    this.changed = true;
  }

  /**
   * Writes the file when something changed, keeping only the prints of `keep` (the images the
   * collection still has: a deleted image's print goes). Returns whether it wrote; a failed write
   * (a read-only folder, a full disk) leaves the old file and is only reported.
   */
  async save(keep: ReadonlySet<string>): Promise<{ written: boolean; error?: string }> {
    for (const sha of this.prints.keys())
      if (!keep.has(sha)) {
        this.prints.delete(sha);
        this.changed = true;
      }
    if (!this.changed) return { written: false };
    const entries = [...this.prints].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const shas = new Uint8Array(entries.length * SHA_BYTES);
    const offsets = new Float64Array(entries.length + 1);
    let total = 0;
    entries.forEach(([sha, p], i) => {
      shas.set(Buffer.from(sha, 'hex'), i * SHA_BYTES);
      offsets[i] = total;
      total += p.byteLength;
    });
    offsets[entries.length] = total;
    const prints = new Uint8Array(total);
    for (const [i, [, p]] of entries.entries()) {
      prints.set(p, offsets[i]!);
      // a library's prints are a gigabyte: the server's event loop gets turns while they are copied
      if (i % 4096 === 4095) await new Promise((r) => setImmediate(r));
    }
    try {
      await writeContainer(this.path, {
        kind: KIND,
        version: VERSION,
        meta: { recipe: PRINT_RECIPE, count: entries.length },
        sections: { sha256: shas, offsets, prints },
      });
    } catch (err) {
      return { written: false, error: (err as Error).message };
    }
    this.changed = false;
    return { written: true };
  }
}
