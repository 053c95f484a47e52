import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readIds, writeFvecs, writeNpy } from '../../src/vectors/io.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';

const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

test('ann-bench, ann-build and ann-search on .fvecs/.npy files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nitamono-ann-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const d = 8;
  const { data } = clusteredVectors(2100, d, { clusters: 30, seed: 4 });
  await writeFvecs(join(dir, 'base.fvecs'), data.subarray(0, 2000 * d), d);
  await writeNpy(join(dir, 'q.npy'), data.slice(2000 * d), [100, d]);

  const json = join(dir, 'r.json');
  const b = run(
    'ann-bench',
    '--base',
    join(dir, 'base.fvecs'),
    '--queries',
    join(dir, 'q.npy'),
    '--index',
    'ivf',
    '--nlist',
    '16',
    '--nprobe',
    '1,4,16,99',
    '--threads',
    '2',
    '--json',
    json,
  );
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /\| nprobe \| R@1 \| 10-R@10/);
  const report = JSON.parse(readFileSync(json, 'utf8'));
  for (const key of ['index', 'n', 'dim', 'nlist', 'train_s', 'add_s', 'index_bytes', 'rows']) assert.ok(key in report, key);
  assert.equal(report.n, 2000);
  assert.deepEqual(
    report.rows.map((r: { nprobe: number }) => r.nprobe),
    [1, 4, 16],
  );
  const last = report.rows[2];
  assert.equal(last.recall_at_10, 1);
  for (const key of ['nprobe', 'recall_at_1', 'recall_at_10', 'qps_single', 'qps_batch', 'distances_per_query']) assert.ok(key in last, key);

  const flat = run('ann-bench', '--base', join(dir, 'base.fvecs'), '--queries', join(dir, 'q.npy'), '--index', 'flat', '--json', json);
  assert.equal(flat.status, 0, flat.stderr);
  const fr = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(fr.rows.length, 1);
  assert.equal(fr.rows[0].nprobe, null);
  assert.equal(fr.rows[0].distances_per_query, 2000);

  const idx = join(dir, 'x.index');
  const build = run('ann-build', '--base', join(dir, 'base.fvecs'), '--out', idx, '--nlist', '10');
  assert.equal(build.status, 0, build.stderr);
  const s = run('ann-search', '--index', idx, '--queries', join(dir, 'q.npy'), '--k', '3', '--nprobe', '10', '--out', join(dir, 'ids.ivecs'));
  assert.equal(s.status, 0, s.stderr);
  const ids = await readIds(join(dir, 'ids.ivecs'));
  assert.equal(ids.n, 100);
  assert.equal(ids.dim, 3);

  const bad = run('ann-bench', '--base', join(dir, 'missing.fvecs'), '--queries', join(dir, 'q.npy'));
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /missing\.fvecs/);
  const badK = run('ann-search', '--index', idx, '--queries', join(dir, 'q.npy'), '--k', '0');
  assert.equal(badK.status, 2);
  assert.match(badK.stderr, /--k must be a positive integer/);
});
