/**
 * A generated near-duplicate set and its scoring, shared by the duplicates benchmark (which
 * calibrates the default thresholds) and the tests: originals, each with one copy of every
 * COPY_KINDS kind, mixed with unrelated images; pairwise precision and recall of found groups.
 *
 * Copies are what a photo library collects: a smaller version (resized 40–80 %), a JPEG saved
 * again at quality 60–90, a crop losing 5 % of the width and height (split at random between
 * the sides), and the other format (PNG → JPEG at quality 95, JPEG → PNG). Transparent PNGs are
 * flattened onto white when they become JPEGs, as converters do (and as nitamono decodes them).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { rng } from '../util/random.js';

export const COPY_KINDS = ['resized', 'recompressed', 'cropped', 'converted'] as const;
export type CopyKind = (typeof COPY_KINDS)[number];

/** One file of a generated set. */
export interface SetFile {
  /** Relative to the set's folder, "/"-separated. */
  relpath: string;
  /** The original it is a copy of (its own name for an original); null for an unrelated image. */
  group: string | null;
  kind: 'original' | CopyKind | 'unrelated';
}

/** An image to build the set from: a file, or bytes made on the spot. */
export interface SourceImage {
  name: string;
  /** A file (PNG or JPEG), or encoded bytes with their extension. */
  file?: string;
  bytes?: { data: Buffer; ext: '.png' | '.jpg' };
}

const isJpeg = (ext: string) => ext === '.jpg' || ext === '.jpeg';

/** The bytes of one copy of `data` (an image with extension `ext`); returns the copy's extension too. */
export async function makeCopy(kind: CopyKind, data: Buffer, ext: string, rand: () => number): Promise<{ data: Buffer; ext: string }> {
  const img = sharp(data);
  const { width = 1, height = 1 } = await img.metadata();
  const jpeg = isJpeg(ext);
  const asJpeg = (s: Sharp, quality: number) => s.flatten({ background: '#ffffff' }).jpeg({ quality }).toBuffer();
  const same = (s: Sharp) => (jpeg ? asJpeg(s, 92) : s.png().toBuffer());
  switch (kind) {
    case 'resized': {
      const f = 0.4 + rand() * 0.4;
      return { data: await same(img.resize(Math.max(16, Math.round(width * f)), Math.max(16, Math.round(height * f)), { fit: 'fill' })), ext };
    }
    case 'recompressed':
      return { data: await asJpeg(img, 60 + Math.floor(rand() * 31)), ext: '.jpg' };
    case 'cropped': {
      const dw = Math.max(1, Math.round(width * 0.05)),
        dh = Math.max(1, Math.round(height * 0.05));
      const left = Math.floor(rand() * (dw + 1)),
        top = Math.floor(rand() * (dh + 1));
      return { data: await same(img.extract({ left, top, width: width - dw, height: height - dh })), ext };
    }
    case 'converted':
      return jpeg ? { data: await img.png().toBuffer(), ext: '.png' } : { data: await asJpeg(img, 95), ext: '.jpg' };
  }
}

/**
 * A photo-like generated image (JPEG, quality 90, 640–1280 × 480–900 px, photo-sized so a resized
 * copy still holds as many pixels as the features look at): smooth colour blobs (low-resolution noise
 * upscaled), a few shapes in random colours, fine grain; seed → always the same bytes.
 */
export async function sceneJpeg(seed: number): Promise<Buffer> {
  const r = rng(seed * 7919 + 17);
  const w = 640 + Math.floor(r() * 640),
    h = 480 + Math.floor(r() * 420);
  const sw = 3 + Math.floor(r() * 6),
    sh = 3 + Math.floor(r() * 5);
  const small = Buffer.alloc(sw * sh * 3);
  const base = [r() * 255, r() * 255, r() * 255];
  for (let i = 0; i < small.length; i++) small[i] = Math.max(0, Math.min(255, Math.round(base[i % 3]! + (r() - 0.5) * 200)));
  const blobs = await sharp(small, { raw: { width: sw, height: sh, channels: 3 } })
    .resize(w, h, { kernel: 'cubic' })
    .png()
    .toBuffer();
  const colour = () => `rgb(${Math.floor(r() * 256)},${Math.floor(r() * 256)},${Math.floor(r() * 256)})`;
  let shapes = '';
  for (let i = 1 + Math.floor(r() * 5); i > 0; i--) {
    const x = r() * w,
      y = r() * h,
      s = (0.08 + r() * 0.25) * Math.min(w, h);
    if (r() < 0.5) shapes += `<circle cx="${x}" cy="${y}" r="${s}" fill="${colour()}" fill-opacity="${0.6 + r() * 0.4}"/>`;
    else shapes += `<rect x="${x - s}" y="${y - s / 2}" width="${2 * s}" height="${s}" fill="${colour()}" transform="rotate(${r() * 90} ${x} ${y})"/>`;
  }
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${shapes}</svg>`);
  const grain = Buffer.alloc(w * h);
  for (let i = 0; i < grain.length; i++) grain[i] = 118 + Math.floor(r() * 20);
  const grainPng = await sharp(grain, { raw: { width: w, height: h, channels: 1 } })
    .png()
    .toBuffer();
  return sharp(blobs)
    .composite([
      { input: svg, top: 0, left: 0 },
      { input: grainPng, blend: 'overlay' },
    ])
    .jpeg({ quality: 90 })
    .toBuffer();
}

async function put(dir: string, relpath: string, data: Buffer): Promise<void> {
  const file = join(dir, ...relpath.split('/'));
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, data);
}

async function sourceBytes(s: SourceImage): Promise<{ data: Buffer; ext: string }> {
  if (s.bytes) return s.bytes;
  const ext = extname(s.file!).toLowerCase();
  return { data: await readFile(s.file!), ext };
}

/**
 * Writes a set into `dir`: each of `originals` as it is (`originals/NAME.ext`) with one copy of
 * each kind (`copies/NAME.KIND.ext`), and each of `unrelated` (`unrelated/NAME.ext`). Returns
 * what each file is.
 */
export async function writeDuplicateSet(dir: string, originals: readonly SourceImage[], unrelated: readonly SourceImage[], seed = 1): Promise<SetFile[]> {
  const rand = rng(seed);
  const files: SetFile[] = [];
  for (const o of originals) {
    const src = await sourceBytes(o);
    const rel = `originals/${o.name}${src.ext}`;
    await put(dir, rel, src.data);
    files.push({ relpath: rel, group: o.name, kind: 'original' });
    for (const kind of COPY_KINDS) {
      const c = await makeCopy(kind, src.data, src.ext, rand);
      const crel = `copies/${o.name}.${kind}${c.ext}`;
      await put(dir, crel, c.data);
      files.push({ relpath: crel, group: o.name, kind });
    }
  }
  for (const u of unrelated) {
    const src = await sourceBytes(u);
    const rel = `unrelated/${u.name}${src.ext}`;
    await put(dir, rel, src.data);
    files.push({ relpath: rel, group: null, kind: 'unrelated' });
  }
  return files;
}

export interface PairScore {
  /** Pairs inside found groups. */
  found: number;
  /** …of which are copies of one original. */
  correct: number;
  /** Pairs of copies of one original (and the original). */
  truth: number;
  precision: number;
  recall: number;
  f1: number;
}

/**
 * Pairwise precision and recall of `groups` (relpaths) against the set: a pair of images in one
 * group is correct when both come from the same original. `all` counts every pair; each copy
 * kind counts the pairs that hold a copy of that kind (recall: of the copy with its original
 * and the other copies).
 */
export function scoreDuplicateGroups(files: readonly SetFile[], groups: readonly (readonly string[])[]): Record<'all' | CopyKind, PairScore> {
  const info = new Map(files.map((f) => [f.relpath, f]));
  const keys = ['all', ...COPY_KINDS] as const;
  const counts = Object.fromEntries(keys.map((k) => [k, { found: 0, correct: 0, truth: 0 }])) as Record<
    (typeof keys)[number],
    { found: number; correct: number; truth: number }
  >;
  const tally = (a: SetFile, b: SetFile, field: 'found' | 'correct' | 'truth') => {
    counts.all[field]++;
    for (const k of COPY_KINDS) if (a.kind === k || b.kind === k) counts[k][field]++;
  };
  for (const g of groups) {
    const members = g.map((p) => info.get(p)).filter((f): f is SetFile => f !== undefined);
    for (let i = 0; i < members.length; i++)
      for (let j = i + 1; j < members.length; j++) {
        const a = members[i]!,
          b = members[j]!;
        tally(a, b, 'found');
        if (a.group !== null && a.group === b.group) tally(a, b, 'correct');
      }
  }
  const byGroup = new Map<string, SetFile[]>();
  for (const f of files) if (f.group !== null) byGroup.set(f.group, [...(byGroup.get(f.group) ?? []), f]);
  for (const m of byGroup.values()) for (let i = 0; i < m.length; i++) for (let j = i + 1; j < m.length; j++) tally(m[i]!, m[j]!, 'truth');
  const score = (c: { found: number; correct: number; truth: number }): PairScore => {
    const precision = c.found === 0 ? 1 : c.correct / c.found;
    const recall = c.truth === 0 ? 1 : c.correct / c.truth;
    return { ...c, precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall) };
  };
  return Object.fromEntries(keys.map((k) => [k, score(counts[k])])) as Record<'all' | CopyKind, PairScore>;
}
