import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { NitamonoError } from '../../src/errors.js';
import { decodeImage } from '../../src/image/decode.js';
import {
  bundledModelDir,
  DEEP_INPUT_BYTES,
  DEFAULT_DEEP_MODEL,
  DeepEmbedder,
  type DeepModel,
  deepDim,
  GAP3_NODES,
  isDeepModel,
  LEGACY_DEEP_MODEL,
  wasmDir,
} from '../../src/image/deep.js';
import { rng } from '../../src/util/random.js';

// --- no network: every way out of this process is recorded and refused while a describe runs ---
type Offline = { attempts: string[]; restore: () => void };

/**
 * Replaces fetch, socket connect and http(s).request with stubs that record the attempt and throw,
 * until restore(). Each describe blocks in its `before` (so model loading is covered) and restores
 * in its `after`; the attempts it sees are its own.
 */
function blockNetwork(): Offline {
  const attempts: string[] = [];
  const saved = {
    fetch: globalThis.fetch,
    connect: net.Socket.prototype.connect,
    httpRequest: http.request,
    httpsRequest: https.request,
  };
  globalThis.fetch = (async (u: unknown) => {
    attempts.push(`fetch ${String(u)}`);
    throw new Error('network disabled in tests');
  }) as typeof fetch;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    attempts.push(`socket connect ${JSON.stringify(args[0])}`);
    throw new Error('network disabled in tests');
  } as typeof net.Socket.prototype.connect;
  http.request = ((...args: unknown[]) => {
    attempts.push(`http.request ${String(args[0])}`);
    throw new Error('network disabled in tests');
  }) as typeof http.request;
  https.request = ((...args: unknown[]) => {
    attempts.push(`https.request ${String(args[0])}`);
    throw new Error('network disabled in tests');
  }) as typeof https.request;
  return {
    attempts,
    restore: () => {
      globalThis.fetch = saved.fetch;
      net.Socket.prototype.connect = saved.connect;
      http.request = saved.httpRequest;
      https.request = saved.httpsRequest;
    },
  };
}

/** A photo-like 640×480 scene: smooth blobs around a base colour, with grain. */
async function scene(seed: number, base: [number, number, number], spread: number): Promise<Buffer> {
  const r = rng(seed);
  const sw = 12;
  const sh = 9;
  const small = Buffer.alloc(sw * sh * 3);
  for (let i = 0; i < sw * sh; i++) {
    for (let c = 0; c < 3; c++) small[i * 3 + c] = Math.max(0, Math.min(255, Math.round(base[c]! + (r() - 0.5) * spread)));
  }
  const big = await sharp(small, { raw: { width: sw, height: sh, channels: 3 } })
    .resize(640, 480, { kernel: 'cubic' })
    .raw()
    .toBuffer();
  for (let i = 0; i < big.length; i++) big[i] = Math.max(0, Math.min(255, big[i]! + Math.round((r() - 0.5) * 20)));
  return sharp(big, { raw: { width: 640, height: 480, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

async function cnnInput(jpeg: Buffer): Promise<Uint8Array> {
  return (await decodeImage(jpeg, { resize: { width: 224, height: 224, fit: 'fill' } })).data;
}

function row(m: Float32Array, dim: number, i: number): Float32Array {
  return m.subarray(i * dim, (i + 1) * dim);
}
function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** The four CNN inputs (224×224 RGB): two reddish scenes, a blue one and a green one. Deterministic. */
async function scenes(): Promise<{ red1: Uint8Array; red2: Uint8Array; blue: Uint8Array; green: Uint8Array }> {
  return {
    red1: await cnnInput(await scene(1, [200, 40, 30], 80)),
    red2: await cnnInput(await scene(2, [210, 50, 40], 80)),
    blue: await cnnInput(await scene(3, [40, 80, 200], 80)),
    green: await cnnInput(await scene(4, [50, 170, 60], 80)),
  };
}

test('model registry and dims', () => {
  assert.equal(deepDim('mobilenetv2-pooled'), 1280);
  assert.equal(deepDim('mobilenetv2-mid'), 1792);
  assert.equal(deepDim('mobilenetv2-mid-gap3'), 224 + 224 + 1792);
  assert.equal(DEFAULT_DEEP_MODEL, 'mobilenetv2-mid-gap3');
  assert.equal(LEGACY_DEEP_MODEL, 'mobilenetv2-mid', 'what deep_model: null meant before');
  assert.ok(isDeepModel(DEFAULT_DEEP_MODEL));
  assert.ok(!isDeepModel('resnet'));
  assert.ok(!isDeepModel('toString'));
  assert.throws(
    () => deepDim('resnet' as DeepModel),
    (e: unknown) => e instanceof NitamonoError && e.code === 'INVALID_ARGUMENT',
  );
  // Everything the models need is on disk, inside installed packages.
  assert.ok(existsSync(`${wasmDir()}tfjs-backend-wasm-simd.wasm`));
  assert.ok(existsSync(`${bundledModelDir('mobilenetv2-pooled')}/model.min.js`));
  assert.ok(existsSync(`${bundledModelDir('mobilenetv2-mid')}/group1-shard2of2.min.js`));
});

for (const model of ['mobilenetv2-pooled', 'mobilenetv2-mid', 'mobilenetv2-mid-gap3'] as const) {
  describe(`DeepEmbedder ${model}`, () => {
    let offline: Offline | undefined;
    let attempts: string[];
    let red1: Uint8Array;
    let red2: Uint8Array;
    let blue: Uint8Array;
    let green: Uint8Array;
    let emb: DeepEmbedder;
    before(async () => {
      offline = blockNetwork();
      attempts = offline.attempts;
      ({ red1, red2, blue, green } = await scenes());
      emb = await DeepEmbedder.create(model);
    });
    after(() => {
      emb?.dispose();
      offline?.restore();
    });

    test('loads offline: no fetch, no socket, no http(s) request', () => {
      assert.deepEqual(attempts, []);
    });

    test(`dim ${deepDim(model)}, L2-normalised, deterministic`, async () => {
      assert.equal(emb.dim, deepDim(model));
      assert.equal(emb.model, model);
      const a = await emb.embed([red1]);
      const b = await emb.embed([red1]);
      assert.equal(a.length, emb.dim);
      assert.deepEqual(Array.from(a), Array.from(b), 'same image twice → identical vector');
      assert.ok(Math.abs(Math.sqrt(dot(a, a)) - 1) < 1e-5, 'unit length');
      assert.ok(a.every(Number.isFinite));
    });

    test('a batch gives the same vectors as one at a time', async () => {
      const batch = await emb.embed([red1, blue, red2, green]);
      assert.equal(batch.length, 4 * emb.dim);
      const singles = [red1, blue, red2, green];
      for (let i = 0; i < 4; i++) {
        const one = await emb.embed([singles[i]!]);
        const d = dot(row(batch, emb.dim, i), one);
        assert.ok(d > 0.99999, `row ${i}: cosine to its single embedding ${d}`);
      }
      assert.equal((await emb.embed([])).length, 0);
    });

    test('similar images are closer than dissimilar ones', async () => {
      const m = await emb.embed([red1, red2, blue, green]);
      const v = (i: number) => row(m, emb.dim, i);
      const redRed = dot(v(0), v(1));
      const redBlue = dot(v(0), v(2));
      const redGreen = dot(v(0), v(3));
      assert.ok(
        redRed > redBlue && redRed > redGreen,
        `cos(red, red') ${redRed.toFixed(3)} vs red–blue ${redBlue.toFixed(3)}, red–green ${redGreen.toFixed(3)}`,
      );
    });

    test('rejects wrongly sized input', async () => {
      await assert.rejects(emb.embed([new Uint8Array(100)]), (e: unknown) => e instanceof NitamonoError && e.code === 'INVALID_ARGUMENT');
      assert.equal(DEEP_INPUT_BYTES, 224 * 224 * 3);
    });
  });
}

/** Per row, the spatial mean of each channel of an n×h×w×c activation. */
function spatialMean(data: Float32Array, shape: number[]): Float32Array[] {
  const [n, h, w, c] = shape as [number, number, number, number];
  const rows: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const m = new Float32Array(c);
    for (let p = 0; p < h * w; p++) for (let j = 0; j < c; j++) m[j]! += data[(i * h * w + p) * c + j]! / (h * w);
    rows.push(m);
  }
  return rows;
}

const unit = (v: Float32Array) => {
  const n = Math.sqrt(dot(v, v));
  return v.map((x) => x / n);
};

describe('DeepEmbedder mobilenetv2-mid-gap3: three nodes of one pass', () => {
  let offline: Offline | undefined;
  let red1: Uint8Array;
  let blue: Uint8Array;
  let gap3: DeepEmbedder;
  before(async () => {
    offline = blockNetwork();
    ({ red1, blue } = await scenes());
    gap3 = await DeepEmbedder.create('mobilenetv2-mid-gap3');
  });
  after(() => {
    gap3?.dispose();
    offline?.restore();
  });

  test('equals each node run on its own, averaged and L2-normalised in plain JS, then concatenated', async () => {
    const got = await gap3.embed([red1, blue]);
    const blocks: Float32Array[][] = [];
    for (const node of GAP3_NODES) {
      const { data, shape } = await gap3.nodeActivations([red1, blue], node);
      assert.equal(shape.length, 4);
      blocks.push(spatialMean(data, shape).map(unit));
    }
    assert.deepEqual(
      blocks.map((b) => b[0]!.length),
      [224, 224, 1792],
    );
    for (let i = 0; i < 2; i++) {
      const want = unit(Float32Array.from(blocks.flatMap((b) => Array.from(b[i]!))));
      const row_ = row(got, gap3.dim, i);
      let maxDiff = 0;
      for (let j = 0; j < want.length; j++) maxDiff = Math.max(maxDiff, Math.abs(row_[j]! - want[j]!));
      assert.ok(maxDiff < 1e-5, `image ${i}: max |embedder − reference| = ${maxDiff}`);
      // each block weighs the same: 1/√3 of the unit row
      for (const [a, b] of [
        [0, 224],
        [224, 448],
        [448, 2240],
      ] as const) {
        const part = row_.subarray(a, b);
        assert.ok(Math.abs(Math.sqrt(dot(part, part)) - 1 / Math.sqrt(3)) < 1e-5);
      }
    }
  });

  test("its Conv_1 block is mobilenetv2-mid's feature vector (the graph's own average pool)", async () => {
    const mid = await DeepEmbedder.create('mobilenetv2-mid');
    try {
      const a = await gap3.embed([blue]);
      const b = await mid.embed([blue]);
      const conv1 = unit(a.slice(448));
      let maxDiff = 0;
      for (let j = 0; j < b.length; j++) maxDiff = Math.max(maxDiff, Math.abs(conv1[j]! - b[j]!));
      assert.ok(maxDiff < 1e-5, `max diff ${maxDiff}`);
    } finally {
      mid.dispose();
    }
  });

  test('nodeActivations is for graph models only', async () => {
    const pooled = await DeepEmbedder.create('mobilenetv2-pooled');
    try {
      await assert.rejects(pooled.nodeActivations([blue], GAP3_NODES[0]!), (e: unknown) => e instanceof NitamonoError && e.code === 'INVALID_ARGUMENT');
    } finally {
      pooled.dispose();
    }
  });
});

describe('DeepEmbedder mobilenetv2-pooled: BatchNorm folding', () => {
  let offline: Offline | undefined;
  let attempts: string[];
  let red1: Uint8Array;
  let blue: Uint8Array;
  before(async () => {
    offline = blockNetwork();
    attempts = offline.attempts;
    ({ red1, blue } = await scenes());
  });
  after(() => offline?.restore());

  test('pooled: BatchNorm-folded fast path equals the LayersModel run as loaded', async () => {
    const fused = await DeepEmbedder.create('mobilenetv2-pooled');
    const plain = await DeepEmbedder.create('mobilenetv2-pooled', { fuseBatchNorm: false });
    try {
      const a = await fused.embed([red1, blue]);
      const b = await plain.embed([red1, blue]);
      let maxDiff = 0;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
      assert.ok(maxDiff < 1e-4, `max |fused − layers| = ${maxDiff}`);
    } finally {
      fused.dispose();
      plain.dispose();
    }
    await assert.rejects(fused.embed([red1]), /disposed/);
    assert.deepEqual(attempts, [], 'still no network');
  });
});
