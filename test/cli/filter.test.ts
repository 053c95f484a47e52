/** search --in / --name / --ids / --since / --max-size through the CLI, and the name index across re-indexes (rename, delete). */
import assert from 'node:assert/strict';
import { rename, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { removeDir, runCli, solid, tempDir } from '../collection/helpers.js';

describe('nitamono search with filters, and search --name', () => {
  let root: string;
  let col: string;
  before(async () => {
    root = await tempDir();
    col = `${root}-col`;
    await solid(join(root, 'beach', 'summerHoliday_01.png'), [250, 200, 120]);
    await solid(join(root, 'beach', 'summerHoliday_02.png'), [245, 205, 110]);
    await solid(join(root, 'forest', 'oak-tree.png'), [250, 198, 118]);
    await solid(join(root, 'forest', 'pine.png'), [20, 120, 30]);
    await solid(join(root, '海', '夏の海辺.png'), [30, 60, 200]);
    // an old file, for --until
    await utimes(join(root, 'forest', 'pine.png'), new Date('2001-02-03T12:00:00Z'), new Date('2001-02-03T12:00:00Z'));
    const r = await runCli(['index', root, '--collection', col, '--features', 'color']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await removeDir(root);
    await removeDir(col);
  });

  const search = async (...args: string[]) => {
    const r = await runCli(['search', ...args, '--collection', col, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const rel = (j: { results: { path: string }[] }) => j.results.map((h) => h.path.slice(root.length + 1)).sort();

  test('--in keeps the search inside the folder; the JSON keeps its shape and says how many passed', async () => {
    const q = join(root, 'beach', 'summerHoliday_01.png');
    const all = await search(q, '-k', '3');
    assert.ok(rel(all).includes('forest/oak-tree.png'), 'the near-identical colour elsewhere is found unfiltered');
    const j = await search(q, '--in', 'forest', '-k', '3');
    assert.deepEqual(rel(j), ['forest/oak-tree.png', 'forest/pine.png']);
    assert.equal(j.filtered, 2);
    for (const key of ['query', 'method', 'k', 'n', 'dim', 'results']) assert.ok(key in j, key);
    // an absolute folder inside the indexed one counts as relative to it
    const two = await search(q, '--in', join(root, 'forest'), '--in', '海', '-k', '5');
    assert.equal(two.filtered, 3);
    const named = await search(q, '--name', 'holiday', '-k', '5');
    assert.deepEqual(rel(named), ['beach/summerHoliday_01.png', 'beach/summerHoliday_02.png']);
    const old = await search(q, '--until', '2010-01-01', '--max-size', '1MB', '-k', '5');
    assert.deepEqual(rel(old), ['forest/pine.png']);
  });

  test('search --name alone lists images by name, ranked; odd words never fail', async () => {
    const j = await search('--name', 'summer');
    assert.equal(j.total, 2);
    assert.deepEqual(rel(j), ['beach/summerHoliday_01.png', 'beach/summerHoliday_02.png']);
    assert.deepEqual(rel(await search('--name', '海辺')), ['海/夏の海辺.png']);
    assert.deepEqual(rel(await search('--name', 'tree', '--in', 'beach')), []);
    for (const odd of ['"NEAR( -oak* a:b', '🌲']) await search('--name', odd);
    const text = await runCli(['search', '--name', 'oak', '--collection', col]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Name search: oak · 1 image match/);
    assert.match(text.stdout, /forest\/oak-tree\.png/);
  });

  test('bad filters: exit 2 with a message naming the option; no image and no --name is an error', async () => {
    for (const [args, re] of [
      [['--since', 'last week'], /--since/],
      [['--in', '../x'], /outside the collection/],
    ] as const) {
      const r = await runCli(['search', join(root, 'forest', 'pine.png'), ...args, '--collection', col]);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, re);
    }
    // cluster mode refuses filters rather than ignoring them (before connecting anywhere)
    const cluster = await runCli(['search', join(root, 'forest', 'pine.png'), '--in', 'forest', '--catalog', 'postgres://127.0.0.1:1/none']);
    assert.notEqual(cluster.code, 0);
    assert.match(cluster.stderr, /not supported in cluster mode/);
    const none = await runCli(['search', '--collection', col]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--name/);
  });

  test('the name index follows re-indexing: a renamed file is found by its new name only, a deleted one no more', async () => {
    await rename(join(root, 'forest', 'oak-tree.png'), join(root, 'forest', 'maple-tree.png'));
    await rm(join(root, 'forest', 'pine.png'));
    const r = await runCli(['index', root, '--collection', col]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(rel(await search('--name', 'oak')), []);
    assert.deepEqual(rel(await search('--name', 'maple')), ['forest/maple-tree.png']);
    assert.deepEqual(rel(await search('--name', 'pine')), []);
  });
});
