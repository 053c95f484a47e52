/**
 * The query of a search or an evaluation (an uploaded image or the id of an image of the
 * collection), and the colour histogram the page draws for it.
 */
import type { Collection, CollectionQuery } from '../collection/index.js';
import { colorHistogram } from '../image/color.js';
import { decodeFeatureImage } from '../image/decode.js';
import { badRequest, notFound } from './errors.js';
import { checkUpload, type Upload } from './input.js';
import { ByteLru } from './lru.js';
import type { SearchParams } from './params.js';
import type { SharedQueries } from './shared-queries.js';

/** The seed's histogram: 4 bins per channel. */
export const HISTOGRAM_BINS = 4;

export async function queryOf(collection: Collection, id: number | undefined, upload: Upload | undefined): Promise<CollectionQuery> {
  if (upload && id !== undefined) throw badRequest('give either an uploaded image or an id, not both');
  if (upload) return { buffer: upload.buffer, filename: upload.filename || 'upload' };
  if (id !== undefined) {
    const img = await collection.getImage(id);
    if (img?.status !== 'ok') throw notFound(`no image with id ${id} in this collection`);
    return { id };
  }
  throw badRequest('send an image (multipart field "image") or the id of an image of the collection ({ "id": 12 })');
}

/**
 * The uploaded query image of a request: the one it carries, or the earlier upload it names by
 * hash (`query`), checked as any upload is.
 */
export async function uploadOf(shared: SharedQueries, p: SearchParams, upload: Upload | undefined, maxPixels: number): Promise<Upload | undefined> {
  if (p.shared === undefined) return upload;
  if (upload || p.id !== undefined) throw badRequest('give one query: an uploaded image, an id, or an earlier upload by its query hash');
  return checkUpload(await shared.get(p.shared), `sha256:${p.shared.slice(0, 12)}…`, maxPixels);
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * Colour histograms (4 bins per channel, the seed's 12 numbers) of query images, computed from
 * the same decode as the collection's colour features, so with 4 bins they are the very numbers
 * a colour search compares. An image's file does not change under its id (a changed file is
 * indexed under a new id), so the histograms of indexed images are kept.
 */
export class QueryHistograms {
  private byId = new ByteLru<number[]>(1024 * 1024);

  constructor(
    private readonly collection: Collection,
    private readonly maxPixels: number,
  ) {}

  /** The histogram, or undefined when the image cannot be read (the search itself reports why). */
  async of(id: number | undefined, upload: Upload | undefined): Promise<number[] | undefined> {
    if (upload) return this.compute(upload.buffer);
    if (id === undefined) return undefined;
    // The stored colour vector is this very histogram when the collection uses the seed's bins.
    if (this.collection.config.color_bins === HISTOGRAM_BINS && this.collection.features.includes('color')) {
      const v = await this.collection.storedVector(id, 'color');
      if (v) return Array.from(v, round4);
    }
    const key = String(id);
    const cached = this.byId.get(key);
    if (cached) return cached;
    const img = await this.collection.getImage(id);
    if (img?.status !== 'ok') return undefined;
    const h = await this.compute(img.absolute_path);
    if (h) this.byId.set(key, h, h.length * 8);
    return h;
  }

  private async compute(input: Buffer | string): Promise<number[] | undefined> {
    try {
      const d = await decodeFeatureImage(input, { maxPixels: this.maxPixels });
      return Array.from(colorHistogram(d.data, d.width, d.height, HISTOGRAM_BINS), round4);
    } catch {
      return undefined;
    }
  }
}
