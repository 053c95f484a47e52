import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { NitamonoError } from '../../src/errors.js';
import { type ContainerFile, writeContainer } from '../../src/persist/container.js';
import { FlatIndex } from '../../src/search/flat.js';
import { IVFIndex } from '../../src/search/ivf.js';
import { loadIndex } from '../../src/search/load.js';
import { parseFlatParams } from '../../src/search/params.js';
import { type IndexKind, indexKind, indexKinds, registerIndexKind } from '../../src/search/registry.js';
import {
  type FlatSearchParams,
  type IndexCapabilities,
  type IndexDescription,
  needsTraining,
  type SearchResult,
  type VectorIndex,
} from '../../src/search/types.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';

const KIND = 'test-wrapped-flat';

/** A kind that is not built in: an exact index under another name, whose file format is its own. */
class WrappedFlat implements VectorIndex<FlatSearchParams> {
  readonly kind = KIND;
  readonly capabilities: IndexCapabilities = { trainable: false, removable: false, compressed: false, needsRefineVectors: false };
  readonly isTrained = true;
  constructor(readonly inner: FlatIndex) {}
  get dim(): number {
    return this.inner.dim;
  }
  get metric() {
    return this.inner.metric;
  }
  get size(): number {
    return this.inner.size;
  }
  get memoryBytes(): number {
    return this.inner.memoryBytes;
  }
  add(vectors: Float32Array, ids?: ArrayLike<number>): void {
    this.inner.add(vectors, ids);
  }
  remove(): number {
    throw new NitamonoError('UNSUPPORTED', `${KIND} does not remove`);
  }
  has(id: number): boolean {
    return this.inner.has(id);
  }
  ids(): Int32Array {
    return this.inner.ids();
  }
  reconstruct(id: number): Float32Array {
    return this.inner.reconstruct(id);
  }
  search(q: Float32Array, k: number, p?: FlatSearchParams): SearchResult {
    return this.inner.search(q, k, p);
  }
  searchAsync(q: Float32Array, k: number, p?: FlatSearchParams): Promise<SearchResult> {
    return this.inner.searchAsync(q, k, p);
  }
  queryCost(p?: FlatSearchParams): number {
    return this.inner.queryCost(p);
  }
  describe(): IndexDescription {
    return { ...this.inner.describe(), kind: KIND };
  }
  async save(path: string): Promise<void> {
    const ids = this.inner.ids();
    const vectors = new Float32Array(ids.length * this.dim);
    for (const [i, id] of ids.entries()) vectors.set(this.inner.reconstruct(id), i * this.dim);
    await writeContainer(path, { kind: KIND, version: 1, meta: { dim: this.dim }, sections: { ids, vectors } });
  }
  dispose(): void {
    this.inner.dispose();
  }
}

function wrappedKind(formatVersion = 1): IndexKind<FlatSearchParams, WrappedFlat> {
  return {
    name: KIND,
    capabilities: { trainable: false, removable: false, compressed: false, needsRefineVectors: false },
    formatVersion,
    parseParams: parseFlatParams,
    fromContainer(_path: string, c: ContainerFile): WrappedFlat {
      const dim = c.meta['dim'] as number;
      const v = c.sections['vectors']!,
        i = c.sections['ids']!;
      const inner = new FlatIndex(dim);
      inner.add(new Float32Array(v.buffer, v.byteOffset, v.byteLength / 4), new Int32Array(i.buffer, i.byteOffset, i.byteLength / 4));
      return new WrappedFlat(inner);
    },
  };
}

function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'nitamono-registry-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('a kind registered from outside the engine', () => {
  test('loads through loadIndex and answers as the index that was saved', async () => {
    const t = tempDir();
    const unregister = registerIndexKind(wrappedKind());
    try {
      const d = 8,
        { data } = clusteredVectors(300, d, { seed: 2 });
      const inner = new FlatIndex(d);
      inner.add(
        data,
        Array.from({ length: 300 }, (_, i) => 1000 + i),
      );
      const saved = new WrappedFlat(inner);
      await saved.save(join(t.dir, 'w.index'));
      const back = await loadIndex(join(t.dir, 'w.index'));
      try {
        assert.ok(back instanceof WrappedFlat);
        assert.equal(back.kind, KIND);
        assert.deepEqual(back.describe(), saved.describe());
        assert.deepEqual(back.search(data.subarray(0, 5 * d), 4).labels, saved.search(data.subarray(0, 5 * d), 4).labels);
        assert.equal(indexKind(KIND).name, KIND);
      } finally {
        back.dispose();
        saved.dispose();
      }
    } finally {
      unregister();
      t.remove();
    }
  });

  test('once unregistered, its files are refused naming the kinds this build reads', async () => {
    const t = tempDir();
    const unregister = registerIndexKind(wrappedKind());
    try {
      const inner = new FlatIndex(2);
      inner.add(new Float32Array([1, 2]));
      await new WrappedFlat(inner).save(join(t.dir, 'w.index'));
      inner.dispose();
      unregister();
      await assert.rejects(
        loadIndex(join(t.dir, 'w.index')),
        expectError(
          'BAD_FILE',
          /w\.index: unknown index kind 'test-wrapped-flat' \(this build reads 'flat', 'ivf', 'sq8', 'pq', 'ivf-sq8', 'ivf-pq', 'fp16', 'ivf-fp16'\)/,
        ),
      );
      assert.throws(
        () => indexKind(KIND),
        expectError(
          'INVALID_ARGUMENT',
          /index kind must be one of 'flat', 'ivf', 'sq8', 'pq', 'ivf-sq8', 'ivf-pq', 'fp16', 'ivf-fp16', got 'test-wrapped-flat'/,
        ),
      );
    } finally {
      unregister();
      t.remove();
    }
  });

  test('a file newer than its own kind reads is refused, even when another kind reads that version', async () => {
    const t = tempDir();
    const unregisterOld = registerIndexKind(wrappedKind(1));
    const unregisterNew = registerIndexKind({ ...wrappedKind(3), name: 'test-newer' });
    try {
      await writeContainer(join(t.dir, 'v2.index'), { kind: KIND, version: 2, meta: { dim: 1 }, sections: {} });
      await assert.rejects(
        loadIndex(join(t.dir, 'v2.index')),
        expectError('BAD_FILE', /v2\.index: written by a newer nitamono \(format version 2, this build reads up to 1\)/),
      );
    } finally {
      unregisterOld();
      unregisterNew();
      t.remove();
    }
  });
});

describe('registerIndexKind checks what it is given', () => {
  test('duplicate names, bad names, missing capabilities or functions are refused', () => {
    assert.throws(() => registerIndexKind({ ...wrappedKind(), name: 'flat' }), expectError('INVALID_ARGUMENT', /'flat' is already registered/));
    assert.throws(() => registerIndexKind({ ...wrappedKind(), name: 'Bad Name' }), expectError('INVALID_ARGUMENT', /lower case/));
    assert.throws(
      () => registerIndexKind({ ...wrappedKind(), capabilities: { trainable: true } as IndexCapabilities }),
      expectError('INVALID_ARGUMENT', /capabilities\.removable must be true or false/),
    );
    assert.throws(() => registerIndexKind({ ...wrappedKind(), formatVersion: 0 }), expectError('INVALID_ARGUMENT', /formatVersion must be a positive integer/));
    assert.throws(
      () => registerIndexKind({ ...wrappedKind(), fromContainer: undefined as never }),
      expectError('INVALID_ARGUMENT', /fromContainer must be a function/),
    );
    assert.deepEqual(
      indexKinds().map((k) => k.name),
      ['flat', 'ivf', 'sq8', 'pq', 'ivf-sq8', 'ivf-pq', 'fp16', 'ivf-fp16'],
    );
  });
});

describe('the built-in kinds', () => {
  test('declare their capabilities and parse their own parameters', () => {
    assert.deepEqual({ ...indexKind('flat').capabilities }, { trainable: false, removable: true, compressed: false, needsRefineVectors: false });
    assert.deepEqual({ ...indexKind('ivf').capabilities }, { trainable: true, removable: true, compressed: false, needsRefineVectors: false });
    for (const k of ['sq8', 'ivf-sq8', 'fp16', 'ivf-fp16']) {
      assert.deepEqual({ ...indexKind(k).capabilities }, { trainable: true, removable: true, compressed: true, needsRefineVectors: false }, k);
    }
    for (const k of ['pq', 'ivf-pq']) {
      assert.deepEqual({ ...indexKind(k).capabilities }, { trainable: true, removable: true, compressed: true, needsRefineVectors: true }, k);
      assert.deepEqual(indexKind(k).parseParams({ nprobe: 4, refineFactor: 2.5, efSearch: 9, efConstruction: 7 }), {
        nprobe: 4,
        refineFactor: 2.5,
        efSearch: 9,
      });
      assert.throws(() => indexKind(k).parseParams({ refineFactor: 0.5 }), expectError('INVALID_ARGUMENT', /refineFactor must be a number ≥ 1, got 0.5/));
    }
    // the exact kinds ignore refineFactor, as every kind ignores the parameters of others
    assert.deepEqual(indexKind('ivf').parseParams({ refineFactor: 4 }), {});
    assert.deepEqual(indexKind('ivf').parseParams({ nprobe: 4, threads: 2, efSearch: 9, efConstruction: 7 }), { nprobe: 4, threads: 2, efSearch: 9 });
    // parameters of other kinds are ignored, so one set of parameters can go to any index
    assert.deepEqual(indexKind('flat').parseParams({ nprobe: 4 }), {});
    assert.throws(() => indexKind('ivf').parseParams({ nprobe: 0 }), expectError('INVALID_ARGUMENT', /nprobe must be a positive integer, got 0/));
    assert.throws(() => indexKind('flat').parseParams({ threads: 1.5 }), expectError('INVALID_ARGUMENT', /threads must be a positive integer, got 1.5/));
    assert.throws(() => indexKind('flat').parseParams(7), expectError('INVALID_ARGUMENT', /search parameters must be an object/));
  });

  test('describe(), queryCost() and needsTraining() answer without knowing the kind', async () => {
    const d = 4,
      { data } = clusteredVectors(400, d, { seed: 6 });
    const flat = new FlatIndex(d),
      ivf = new IVFIndex(d, { nlist: 10 });
    try {
      const all: VectorIndex[] = [flat, ivf];
      assert.deepEqual(all.map(needsTraining), [false, true]);
      await ivf.train(data, { threads: 1 });
      assert.deepEqual(all.map(needsTraining), [false, false]);
      for (const idx of all) idx.add(data);
      const f = flat.describe(),
        v = ivf.describe();
      assert.deepEqual(f, { kind: 'flat', dim: d, metric: 'l2', size: 400, memoryBytes: flat.memoryBytes });
      assert.equal(v.kind, 'ivf');
      assert.equal(v.nlist, 10);
      assert.deepEqual(v.lists, ivf.listStats());
      assert.equal(v.lists!.mean, 40);
      assert.equal(flat.queryCost(), 400 * d);
      assert.equal(ivf.queryCost(), (10 + 400 / 10) * d);
      assert.equal(ivf.queryCost({ nprobe: 3 }), (10 + (400 * 3) / 10) * d);
      assert.equal(ivf.queryCost({ nprobe: 99 }), (10 + 400) * d);
      assert.throws(() => ivf.queryCost({ nprobe: -1 }), expectError('INVALID_ARGUMENT', /nprobe/));
    } finally {
      flat.dispose();
      ivf.dispose();
    }
  });
});
