/**
 * Test fixture for the server tests: a temp folder of small generated PNGs (made with sharp),
 * indexed into a collection with colour features, and helpers to start a real server on port 0
 * whose responses are checked against their route schemas (./contract.ts).
 */

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { Collection, type FeatureKind, type IndexPolicy } from '../../src/collection/index.js';
import { createServer, type ServerOptions } from '../../src/server/server.js';
import { watchContract } from './contract.js';

export { rng } from '../../src/util/random.js';

import { rng } from '../../src/util/random.js';

/** Raw RGB of a size×size image made of four coloured quadrants around a base colour, plus noise. */
export function patternRgb(size: number, rand: () => number): Buffer {
  const base = [rand() * 255, rand() * 255, rand() * 255];
  const quads = Array.from({ length: 4 }, () => base.map((c) => Math.max(0, Math.min(255, c + (rand() - 0.5) * 120))));
  const buf = Buffer.alloc(size * size * 3);
  const h = size >> 1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const q = quads[(y < h ? 0 : 2) + (x < h ? 0 : 1)]!;
      const o = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) buf[o + c] = Math.max(0, Math.min(255, Math.round(q[c]! + (rand() - 0.5) * 30)));
    }
  }
  return buf;
}

export async function pngOf(rgb: Buffer, size: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width: size, height: size, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
}

/** A small generated PNG (for uploads). */
export async function makePng(seed: number, size = 48): Promise<Buffer> {
  return pngOf(patternRgb(size, rng(seed)), size);
}

/** Writes `n` generated PNGs into `dir` (in sub-folders of 100), `concurrency` at a time. */
export async function writeImages(dir: string, n: number, opts: { size?: number; seed?: number } = {}): Promise<void> {
  const size = opts.size ?? 24;
  const rand = rng(opts.seed ?? 1);
  const rgbs: Buffer[] = [];
  for (let i = 0; i < n; i++) rgbs.push(patternRgb(size, rand));
  let next = 0;
  const work = async () => {
    while (next < n) {
      const i = next++;
      const sub = join(dir, `g${String(Math.floor(i / 100)).padStart(3, '0')}`);
      await mkdir(sub, { recursive: true });
      await writeFile(join(sub, `img-${String(i).padStart(5, '0')}.png`), await pngOf(rgbs[i]!, size));
    }
  };
  await Promise.all(Array.from({ length: 8 }, work));
}

export interface Fixture {
  base: string;
  root: string;
  collectionPath: string;
  collection: Collection;
  cleanup(): Promise<void>;
}

export interface FixtureOptions {
  /** Runs after the images are written, before indexing. */
  prepare?: (root: string, base: string) => Promise<void>;
  threads?: number;
  size?: number;
  /** The collection's index policy (default auto: flat at these sizes). */
  index?: IndexPolicy;
  /** Feature kinds (default colour only). */
  features?: FeatureKind[];
  /** Colour histogram bins per channel (dimension 3 × bins; default 4). */
  colorBins?: number;
}

/** A temp collection of `n` generated images (colour features), indexed. */
export async function makeFixture(n: number, opts: FixtureOptions = {}): Promise<Fixture> {
  const base = await mkdtemp(join(tmpdir(), 'nitamono-server-'));
  const root = join(base, 'images');
  await mkdir(root, { recursive: true });
  await writeImages(root, n, opts.size !== undefined ? { size: opts.size } : {});
  await opts.prepare?.(root, base);
  const collectionPath = join(base, 'collection');
  const collection = await Collection.open(collectionPath, {
    create: true,
    root,
    features: opts.features ?? ['color'],
    threads: opts.threads ?? 2,
    ...(opts.index ? { index: opts.index } : {}),
    ...(opts.colorBins ? { colorBins: opts.colorBins } : {}),
  });
  await collection.update();
  return {
    base,
    root,
    collectionPath,
    collection,
    async cleanup() {
      await collection.close().catch(() => undefined);
      await rm(base, { recursive: true, force: true });
    },
  };
}

export interface Running {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/**
 * createServer + listen on 127.0.0.1, port 0. close() fails if a response broke its route's
 * schema (a status it does not list, or a body the serializer changed).
 */
export async function startServer(opts: ServerOptions): Promise<Running> {
  const app = createServer(opts);
  const contract = watchContract(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const port = addr && typeof addr === 'object' ? addr.port : 0;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await app.close();
      contract.check();
    },
  };
}

export interface ServerHandle {
  readonly fx: Fixture;
  readonly srv: Running;
}

/**
 * A collection of `n` images and a server over it, owned by the enclosing describe block: made
 * before its first test, closed and deleted after its last, so no state is shared between blocks.
 */
export function useServer(n: number, opts: { fixture?: FixtureOptions; server?: Omit<ServerOptions, 'collection'> } = {}): ServerHandle {
  let fx: Fixture | undefined;
  let srv: Running | undefined;
  before(async () => {
    fx = await makeFixture(n, opts.fixture);
    srv = await startServer({ collection: fx.collection, ...opts.server });
  });
  after(async () => {
    try {
      await srv?.close();
    } finally {
      await fx?.cleanup();
    }
  });
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('useServer: used outside the tests of its describe block');
    return v;
  };
  return {
    get fx() {
      return ready(fx);
    },
    get srv() {
      return ready(srv);
    },
  };
}
