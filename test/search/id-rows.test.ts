/** IdRows: the id → row mapping of filtered search, dense or sparse ids, remembered row lists dropped on change. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdRows } from '../../src/search/id-rows.js';

/** The increasing rows of the held ids, by brute force. */
function expected(rowIds: number[], ids: Int32Array): number[] {
  const want = new Set(ids);
  return rowIds.flatMap((id, r) => (want.has(id) ? [r] : []));
}

test('allowedRows equals a brute-force lookup for compact and sparse ids, before and after changes', () => {
  for (const spread of [1, 3, 1_000_003]) {
    const m = new IdRows();
    // rows in an order unrelated to the ids, as an inverted file keeps them
    const rowIds = Array.from({ length: 500 }, (_, r) => ((r * 7919) % 500) * spread + 1);
    m.reset(Int32Array.from(rowIds));
    const ids = Int32Array.from([-5, 0, ...rowIds.filter((_, r) => r % 3 === 0).sort((a, b) => a - b), 2 ** 31 - 1]);
    const rows = m.allowedRows(ids);
    assert.deepEqual([...rows], expected(rowIds, ids), `spread ${spread}`);
    assert.equal(m.allowedRows(ids), rows, 'unchanged mapping: the remembered rows');
    // the caller refills its array: not the remembered rows
    const refilled = ids.slice();
    const again = m.allowedRows(refilled);
    refilled[3] = rowIds[1]!;
    assert.deepEqual([...m.allowedRows(refilled)], expected(rowIds, refilled));
    assert.notEqual(m.allowedRows(refilled), again);
    // appended rows (a flat index's add), then a fresh mapping
    for (let i = 0; i < 50; i++) {
      const id = 600 * spread + i * spread;
      m.set(id, rowIds.length);
      rowIds.push(id);
    }
    const more = Int32Array.from([...ids.filter((id) => id >= 0), 600 * spread, 649 * spread].sort((a, b) => a - b));
    assert.deepEqual([...m.allowedRows(more)], expected(rowIds, more));
    const after = m.allowedRows(ids);
    assert.notEqual(after, rows, 'a changed mapping recomputes');
    assert.deepEqual([...after], expected(rowIds, ids));
    assert.equal(m.size, rowIds.length);
    assert.equal(m.get(rowIds[10]!), 10);
    assert.equal(m.has(-5), false);
  }
});

test('allowedRows sorts rows of one, two and three bytes (radix passes) as the built-in sort does', () => {
  for (const n of [200, 5_000, 300_000]) {
    const m = new IdRows();
    // ids 1..n in rows scrambled by a multiplier prime to n, as an inverted file scatters them
    const rowIds = new Int32Array(n);
    for (let r = 0; r < n; r++) rowIds[(r * 7919) % n] = r + 1;
    m.reset(rowIds);
    for (const count of [100, 127, 128, 1_000]) {
      const ids = Int32Array.from({ length: count }, (_, i) => 1 + ((i * 3) % n)).sort();
      const distinct = Int32Array.from(new Set(ids));
      assert.deepEqual([...m.allowedRows(distinct)], expected([...rowIds], distinct), `n ${n}, ${count} ids`);
    }
  }
});

test('allowedRows in the ids’ order when asked, then increasing for a caller that needs it (a new array, the first kept)', () => {
  const m = new IdRows();
  const rowIds = Int32Array.from({ length: 300 }, (_, r) => ((r * 7) % 300) + 1);
  m.reset(rowIds);
  const ids = Int32Array.from({ length: 150 }, (_, i) => 2 * i + 1);
  const any = m.allowedRows(ids, false);
  assert.deepEqual(
    [...any],
    [...ids].map((id) => rowIds.indexOf(id)),
    'rows follow the ids',
  );
  const firstOrder = [...any];
  const inc = m.allowedRows(ids);
  assert.deepEqual([...inc], expected([...rowIds], ids));
  assert.notEqual(inc, any);
  assert.deepEqual([...any], firstOrder, 'the rows handed out first are left as they were');
  assert.equal(m.allowedRows(ids, false), inc, 'increasing rows serve either caller');
});
