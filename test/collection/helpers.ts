/** Test images made with sharp, temp folders, and running the CLI. */

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { Collection } from '../../src/collection/collection.js';
import { inProcessRunner, type JobRunnerFactory } from '../../src/collection/sync.js';
import { loadIndex } from '../../src/search/load.js';
import { assemblePng } from '../png-craft.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export async function tempDir(prefix = 'nitamono-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export type RGB = [number, number, number];

async function ensureDir(file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
}

/** A solid-colour image. */
export async function solid(file: string, rgb: RGB, size = 64): Promise<void> {
  await ensureDir(file);
  const img = sharp({ create: { width: size, height: size, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  await (file.endsWith('.jpg') ? img.jpeg({ quality: 95 }) : img.png()).toFile(file);
}

/** A horizontal gradient between two colours. */
export async function gradient(file: string, from: RGB, to: RGB, w = 64, h = 48): Promise<void> {
  await ensureDir(file);
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const t = x / (w - 1);
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = Math.round(from[c]! * (1 - t) + to[c]! * t);
    }
  }
  await sharp(data, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(file);
}

/** A shape (SVG rendered to PNG): a coloured circle or square on a background. */
export async function shape(file: string, kind: 'circle' | 'square', fg: string, bg = 'white', size = 64): Promise<void> {
  await ensureDir(file);
  const body =
    kind === 'circle'
      ? `<circle cx="${size / 2}" cy="${size / 2}" r="${size / 3}" fill="${fg}"/>`
      : `<rect x="${size / 4}" y="${size / 4}" width="${size / 2}" height="${size / 2}" fill="${fg}"/>`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="${bg}"/>${body}</svg>`;
  await sharp(Buffer.from(svg)).png().toFile(file);
}

/** Random-noise image (slow to compress, distinct per seed). */
export async function noise(file: string, seed: number, size = 48): Promise<void> {
  await ensureDir(file);
  const data = Buffer.alloc(size * size * 3);
  let s = seed * 2654435761 + 1;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  await sharp(data, { raw: { width: size, height: size, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toFile(file);
}

/** A valid 1-bit greyscale PNG of w×h that compresses to almost nothing (a decompression bomb). */
export async function pngBomb(file: string, w = 20000, h = 20000): Promise<void> {
  await ensureDir(file);
  const row = 1 + Math.ceil(w / 8);
  const raw = Buffer.alloc(row * h); // all zero: filter 0, black pixels
  // 1-bit greyscale
  await writeFile(file, assemblePng(w, h, 1, 0, deflateSync(raw, { level: 9 })));
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/src/cli/main.js ...args` and collects its output. */
export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, NITAMONO_NO_PROGRESS: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * A count from a collection's catalogue read by a separate read-only connection, as another
 * process sees it; 0 while the catalogue does not exist yet or is being created.
 */
export function catalogCount(col: string, table: 'images' | 'writer' = 'images'): number {
  const file = join(col, 'catalog.sqlite');
  if (!existsSync(file)) return 0;
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

/**
 * An extraction job runner whose jobs wait until `release()`: a collection writing with it holds
 * the writer lease for exactly as long as a test needs.
 */
export function heldRunner(): { runner: JobRunnerFactory; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const runner: JobRunnerFactory = (ctx, kinds) => {
    const inner = inProcessRunner(ctx, kinds);
    return {
      async *run(jobs, signal) {
        await gate;
        yield* inner.run(jobs, signal);
      },
    };
  };
  return { runner, release };
}

export interface CollectionSnapshot {
  rows: string[];
  /** Per index file: its ids, vectors and the answer to one search. */
  indexes: string[];
}

/**
 * The catalogue's rows with their vectors (by id), and each index file's ids, vectors and
 * answers: two collections with equal snapshots hold the same data bit for bit.
 */
export async function collectionSnapshot(col: string, kinds: readonly ('color' | 'deep')[] = ['color']): Promise<CollectionSnapshot> {
  const db = new Database(join(col, 'catalog.sqlite'), { readonly: true });
  let rows: string[];
  try {
    rows = (
      db
        .prepare(
          `SELECT i.id, i.relpath, i.status, i.sha256, v.space, hex(v.data) AS v FROM images i LEFT JOIN vectors v ON v.image_id = i.id ORDER BY i.id, v.space`,
        )
        .all() as { id: number; relpath: string; status: string; sha256: string; space: number; v: string }[]
    ).map((r) => `${r.id} ${r.relpath} ${r.status} ${r.sha256} ${r.space} ${r.v}`);
  } finally {
    db.close();
  }
  const indexes: string[] = [];
  for (const kind of kinds) {
    const idx = await loadIndex(join(col, `${kind}.index`));
    try {
      const ids = [...idx.ids()].sort((a, b) => a - b);
      const parts = ids.map((id) => `${id}:${Buffer.from(idx.reconstruct(id).buffer).toString('hex')}`);
      const r = idx.search(idx.reconstruct(ids[0]!), 5);
      parts.push(`search ${[...r.labels].join(',')} ${[...r.distances].join(',')}`);
      indexes.push(parts.join('\n'));
    } finally {
      idx.dispose();
    }
  }
  return { rows, indexes };
}

/** Makes the collection `col` of deep features over `root` and indexes it once (2 threads). */
export async function indexedDeepCollection(col: string, root: string): Promise<void> {
  const c = await Collection.open(col, { create: true, root, features: ['deep'], threads: 2 });
  try {
    await c.update();
  } finally {
    await c.close();
  }
}
