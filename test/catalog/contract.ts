/**
 * The catalogue contract: what every CatalogStore backend must do, as one suite. A backend's
 * test file calls `catalogContract(name, open)`; each test gets a fresh, empty store.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CatalogStore, CatalogWrite, FeatureSpace, NewImage, WriterIdentity } from '../../src/catalog/types.js';
import { filterContract } from './filter-contract.js';

export interface OpenedStore {
  store: CatalogStore;
  /** Closes the store and removes what the backend created. */
  dispose(): Promise<void>;
}

const COLOR: FeatureSpace = { kind: 'color', model: 'rgb-hist-4' };
const COLOR8: FeatureSpace = { kind: 'color', model: 'rgb-hist-8' };
const DEEP: FeatureSpace = { kind: 'deep', model: 'mobilenetv2-mid' };

function image(relpath: string, sha: string, extra: Partial<NewImage> = {}): NewImage {
  return { relpath, size: 100, mtime_ms: 1000, sha256: sha, status: 'ok', width: 4, height: 3, format: 'png', ...extra };
}

function vec(...xs: number[]): Float32Array {
  return Float32Array.from(xs);
}

function put(relpath: string, sha: string, v: Float32Array, extra: Partial<NewImage> = {}): CatalogWrite {
  return { op: 'put', image: image(relpath, sha, extra), vectors: [{ space: COLOR, vector: v }] };
}

export function catalogContract(backend: string, open: () => Promise<OpenedStore>): void {
  /** Runs `fn` on a fresh store, always disposing it: tests share nothing. */
  const withStore = (fn: (s: CatalogStore) => Promise<void>) => async () => {
    const o = await open();
    try {
      await fn(o.store);
    } finally {
      await o.dispose();
    }
  };

  describe(`catalogue contract: ${backend}`, () => {
    test(
      'a new store is empty at generation 0',
      withStore(async (s) => {
        assert.equal(await s.generation(), 0);
        assert.equal(await s.okCount(), 0);
        assert.deepEqual(await s.countByStatus(), { ok: 0, skipped: 0, excluded: 0 });
        assert.deepEqual(await s.okRows(), []);
        assert.equal(await s.vectorDim(COLOR), undefined);
        assert.equal(await s.get(1), undefined);
        const snap = await s.snapshot(COLOR, 3);
        assert.equal(snap.ids.length, 0);
      }),
    );

    test(
      'put stores a row and its vectors; reads return them bit-exactly',
      withStore(async (s) => {
        const v = vec(0.1, 0.2, Math.PI);
        const r = await s.commit([put('a/x.png', 'aa', v)]);
        assert.equal(r.changed, true);
        assert.equal(r.generation, 1);
        assert.equal(await s.generation(), 1);
        const id = r.ids[0]!;
        const row = (await s.get(id))!;
        assert.equal(row.relpath, 'a/x.png');
        assert.equal(row.status, 'ok');
        assert.equal(row.sha256, 'aa');
        assert.equal(row.gen, 1);
        assert.deepEqual(await s.byRelpath('a/x.png'), row);
        assert.deepEqual(await s.vector(id, COLOR), v);
        assert.deepEqual(await s.okVector(id, COLOR), { relpath: 'a/x.png', vector: v });
        assert.equal(await s.okVector(id, DEEP), undefined);
        assert.equal(await s.vector(id, DEEP), undefined);
        assert.equal(await s.vector(id, COLOR8), undefined, 'another model is another space');
        assert.equal(await s.vectorDim(COLOR), 3);
        assert.deepEqual(await s.okRows(), [{ id, relpath: 'a/x.png' }]);
        assert.deepEqual(await s.relpaths([id, 999, -1]), new Map([[id, 'a/x.png']]));
      }),
    );

    test(
      'a skipped row does not move the generation and is listed with its reason',
      withStore(async (s) => {
        const r = await s.commit([
          { op: 'put', image: image('bad.png', 'bb', { status: 'skipped', error_code: 'DECODE_FAILED', error_message: 'truncated' }) },
        ]);
        assert.equal(r.changed, false);
        assert.equal(await s.generation(), 0);
        const sk = await s.skipped();
        assert.equal(sk.length, 1);
        assert.equal(sk[0]!.error_code, 'DECODE_FAILED');
        assert.equal(sk[0]!.error_message, 'truncated');
        assert.deepEqual(await s.countByStatus(), { ok: 0, skipped: 1, excluded: 0 });
      }),
    );

    test(
      'put is idempotent: the same file twice keeps its id and generation',
      withStore(async (s) => {
        const first = await s.commit([put('x.png', 'aa', vec(1, 2, 3))]);
        const again = await s.commit([put('x.png', 'aa', vec(1, 2, 3))]);
        assert.equal(again.ids[0], first.ids[0]);
        assert.equal(again.changed, false);
        assert.equal(await s.generation(), 1);
      }),
    );

    test(
      'put over a changed file gives a new id and records the old one as removed',
      withStore(async (s) => {
        const a = (await s.commit([put('x.png', 'aa', vec(1, 2, 3))])).ids[0]!;
        const g = await s.generation();
        const b = (await s.commit([put('x.png', 'bb', vec(4, 5, 6), { mtime_ms: 2000 })])).ids[0]!;
        assert.notEqual(a, b);
        assert.ok(b > a, 'ids are never reused');
        assert.equal(await s.get(a), undefined);
        const ch = await s.changesSince(COLOR, 3, g);
        assert.deepEqual([...ch.removed], [a]);
        assert.deepEqual([...ch.added.ids], [b]);
        assert.deepEqual(ch.added.vectors, vec(4, 5, 6));
        assert.equal(ch.generation, await s.generation());
      }),
    );

    test(
      'copyVectorsFrom copies every space asked, even when the source is replaced in the same unit',
      withStore(async (s) => {
        // two files swap contents: each copy reads the other's row, which the unit replaces
        const r0 = await s.commit([
          {
            op: 'put',
            image: image('a.png', 'X'),
            vectors: [
              { space: COLOR, vector: vec(1, 1, 1) },
              { space: DEEP, vector: vec(9, 9) },
            ],
          },
          {
            op: 'put',
            image: image('b.png', 'Y'),
            vectors: [
              { space: COLOR, vector: vec(2, 2, 2) },
              { space: DEEP, vector: vec(8, 8) },
            ],
          },
        ]);
        const [a, b] = r0.ids as [number, number];
        const both = [COLOR, DEEP];
        const r1 = await s.commit([
          { op: 'put', image: image('a.png', 'Y', { mtime_ms: 5 }), copyVectorsFrom: { id: b, spaces: both } },
          { op: 'put', image: image('b.png', 'X', { mtime_ms: 5 }), copyVectorsFrom: { id: a, spaces: both } },
        ]);
        const [a2, b2] = r1.ids as [number, number];
        assert.deepEqual(await s.vector(a2, COLOR), vec(2, 2, 2));
        assert.deepEqual(await s.vector(a2, DEEP), vec(8, 8));
        assert.deepEqual(await s.vector(b2, COLOR), vec(1, 1, 1));
        assert.deepEqual(await s.vector(b2, DEEP), vec(9, 9));
        assert.equal(await s.okCount(), 2);
      }),
    );

    test(
      'a unit of work applies all or nothing',
      withStore(async (s) => {
        await s.commit([put('keep.png', 'aa', vec(1, 2, 3))]);
        const g = await s.generation();
        await assert.rejects(
          s.commit([put('new.png', 'bb', vec(4, 5, 6)), { op: 'put', image: image('copy.png', 'cc'), copyVectorsFrom: { id: 424242, spaces: [COLOR] } }]),
        );
        assert.equal(await s.byRelpath('new.png'), undefined, 'the first write of the failed unit was rolled back');
        assert.equal(await s.generation(), g);
        assert.equal(await s.okCount(), 1);
      }),
    );

    test(
      'delete, exclude and touch',
      withStore(async (s) => {
        const r = await s.commit([put('a.png', 'aa', vec(1, 0, 0)), put('b.png', 'bb', vec(0, 1, 0)), put('c.png', 'cc', vec(0, 0, 1))]);
        const [a, b, c] = r.ids as [number, number, number];
        const g = await s.generation();
        const t = await s.commit([{ op: 'touch', id: c, size: 7, mtime_ms: 77 }]);
        assert.equal(t.changed, false, 'metadata only');
        assert.equal((await s.get(c))!.mtime_ms, 77);
        const d = await s.commit([
          { op: 'delete', id: a },
          { op: 'exclude', id: b },
          { op: 'delete', id: 999 },
        ]);
        assert.equal(d.changed, true);
        assert.deepEqual(d.ids, [a, b, -1]);
        assert.equal(await s.get(a), undefined);
        assert.equal((await s.get(b))!.status, 'excluded');
        assert.equal(await s.vector(b, COLOR), undefined, 'an excluded row is not searchable');
        const ch = await s.changesSince(COLOR, 3, g);
        assert.deepEqual([...ch.removed].sort(), [a, b].sort());
        assert.equal(ch.added.ids.length, 0);
        assert.deepEqual(await s.countByStatus(), { ok: 1, skipped: 0, excluded: 1 });
        const again = await s.commit([{ op: 'exclude', id: b }]);
        assert.equal(again.changed, false);
      }),
    );

    test(
      'snapshot, okPage and summaries',
      withStore(async (s) => {
        const writes: CatalogWrite[] = [];
        for (let i = 0; i < 10; i++) writes.push(put(`f${i}.png`, `sha${i}`, vec(i, i, i)));
        writes.push({ op: 'put', image: image('color-only-8.png', 'z'), vectors: [{ space: COLOR8, vector: vec(1, 2, 3, 4, 5, 6) }] });
        const ids = (await s.commit(writes)).ids;
        const snap = await s.snapshot(COLOR, 3);
        assert.deepEqual([...snap.ids], ids.slice(0, 10));
        for (let i = 0; i < 10; i++) assert.deepEqual([...snap.vectors.subarray(i * 3, i * 3 + 3)], [i, i, i]);
        assert.equal((await s.snapshot(COLOR8, 6)).ids.length, 1);
        const page = await s.okPage(3, 4);
        assert.equal(page.total, 11);
        assert.deepEqual(
          page.rows.map((r) => r.id),
          ids.slice(3, 7),
        );
        const sum = await s.summaries([COLOR]);
        assert.equal(sum.length, 11);
        assert.equal(sum.filter((r) => r.complete).length, 10);
        assert.equal((await s.summaries([COLOR, DEEP])).filter((r) => r.complete).length, 0);
        assert.equal(
          (await s.summaries([])).every((r) => r.complete),
          true,
        );
      }),
    );

    test(
      'okBySha finds a searchable row holding the content in every space asked',
      withStore(async (s) => {
        const [a] = (await s.commit([put('a.png', 'same', vec(1, 2, 3)), put('b.png', 'same', vec(1, 2, 3))])).ids as [number];
        assert.equal((await s.okBySha('same', [COLOR]))!.id, a);
        assert.equal(await s.okBySha('same', [COLOR, DEEP]), undefined);
        assert.equal(await s.okBySha('other', [COLOR]), undefined);
        await s.commit([{ op: 'exclude', id: a }]);
        assert.notEqual((await s.okBySha('same', [COLOR]))!.id, a, 'an excluded row is no source');
      }),
    );

    test(
      'the writer lease: one holder at a time, re-entrant, taken over only when stale, released by its holder',
      withStore(async (s) => {
        const who = (token: string, pid: number): WriterIdentity => ({ token, pid, host: 'h', started_at: 1, command: `writer ${token}` });
        const a = who('a', 10);
        const b = who('b', 20);
        const never = () => false;
        assert.deepEqual(await s.acquireWriter(a, never), { acquired: true });
        assert.deepEqual(await s.acquireWriter(a, never), { acquired: true }, 're-entrant for its holder');
        const refused = await s.acquireWriter(b, never);
        assert.equal(refused.acquired, false);
        if (!refused.acquired) {
          assert.equal(refused.holder.token, 'a');
          assert.equal(refused.holder.pid, 10);
          assert.equal(refused.holder.command, 'writer a');
          assert.ok(refused.holder.acquired_at > 0);
        }
        await s.releaseWriter(b); // not the holder: nothing happens
        assert.equal((await s.acquireWriter(b, never)).acquired, false);
        let asked: number | undefined;
        const taken = await s.acquireWriter(b, (h) => {
          asked = h.pid;
          return true;
        });
        assert.deepEqual(taken, { acquired: true }, 'a stale holder is taken over');
        assert.equal(asked, 10, 'staleness is judged on the current holder');
        await s.releaseWriter(b);
        assert.deepEqual(await s.acquireWriter(a, never), { acquired: true }, 'free again after release');
      }),
    );

    test(
      'okVectors reads many searchable rows at once: ascending, each once, bit-exactly; the rest left out',
      withStore(async (s) => {
        // more rows than one read of either backend takes (SQLite 1,024 ids, PostgreSQL 4,096), in one unit
        const n = 4500;
        const v = (i: number) => vec(i + 0.25, -i / 3, Math.fround(Math.PI * i));
        const writes: CatalogWrite[] = [];
        for (let i = 0; i < n; i++) writes.push(put(`r/${i}.png`, `h${i}`, v(i)));
        const ids = (await s.commit(writes)).ids;
        const deepOnly = (await s.commit([{ op: 'put', image: image('deep.png', 'dd'), vectors: [{ space: DEEP, vector: vec(1, 2, 3) }] }])).ids[0]!;
        const short = (await s.commit([put('short.png', 'ss', vec(1, 2))])).ids[0]!;
        const [excluded, deleted] = [ids[10]!, ids[20]!];
        await s.commit([
          { op: 'exclude', id: excluded },
          { op: 'delete', id: deleted },
        ]);

        // every row, asked for in reverse with repeats and strangers: each searchable one once, ascending
        const ask = [...ids].reverse();
        ask.push(ids[5]!, ids[5]!, 999_999, -1, deepOnly, short, excluded, deleted);
        const got = await s.okVectors(ask, COLOR, 3);
        const want = ids.filter((id) => id !== excluded && id !== deleted).sort((a, b) => a - b);
        assert.deepEqual([...got.ids], want);
        assert.equal(got.vectors.length, want.length * 3);
        const pos = new Map(ids.map((id, i) => [id, i]));
        for (const j of [0, 1, 1023, 1024, 1025, 4095, 4096, want.length - 1]) {
          assert.deepEqual(got.vectors.subarray(j * 3, j * 3 + 3), v(pos.get(want[j]!)!), `row ${j}`);
        }

        // a few, as re-ranking asks; another space, another dimension, nothing
        const few = await s.okVectors(Int32Array.of(ids[7]!, ids[3]!), COLOR, 3);
        assert.deepEqual([...few.ids], [ids[3]!, ids[7]!]);
        assert.deepEqual(few.vectors, vec(...v(3), ...v(7)));
        assert.deepEqual([...(await s.okVectors([deepOnly, ids[0]!], DEEP, 3)).ids], [deepOnly]);
        assert.deepEqual([...(await s.okVectors([short, ids[0]!], COLOR, 2)).ids], [short]);
        assert.equal((await s.okVectors([ids[0]!], COLOR8, 3)).ids.length, 0, 'a space never written');
        const none = await s.okVectors([], COLOR, 3);
        assert.equal(none.ids.length, 0);
        assert.equal(none.vectors.length, 0);
      }),
    );

    test(
      'rows of another dimension are left out of snapshots',
      withStore(async (s) => {
        await s.commit([put('a.png', 'a', vec(1, 2, 3)), put('b.png', 'b', vec(1, 2))]);
        const snap = await s.snapshot(COLOR, 3);
        assert.equal(snap.ids.length, 1);
      }),
    );
    filterContract(withStore);
  });
}
