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
