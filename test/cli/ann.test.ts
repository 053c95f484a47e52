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

  // compressed indexes by Faiss factory string, re-ranked with the base file's rows read in place
  const pq = run(
    'ann-bench',
    '--base',
    join(dir, 'base.fvecs'),
    '--queries',
    join(dir, 'q.npy'),
    '--index',
    'IVF16,PQ4',
    '--nprobe',
    '16',
    '--refine-factor',
    '1,50',
    '--iterations',
    '5',
    '--json',
    json,
  );
  assert.equal(pq.status, 0, pq.stderr);
  assert.match(pq.stdout, /\| nprobe \| refine \| R@1 \| 10-R@10/);
  const pr = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(pr.index, 'IVF16,PQ4');
  assert.equal(pr.kind, 'ivf-pq');
  assert.equal(pr.refine_bytes, 2000 * d * 4);
  assert.ok(pr.memory_bytes > 0 && pr.memory_bytes === pr.index_bytes);
  assert.deepEqual(
    pr.rows.map((r: { nprobe: number; refine_factor: number }) => [r.nprobe, r.refine_factor]),
    [
      [16, 1],
      [16, 50],
    ],
  );
  // 500 candidates re-ranked exactly out of 2000: the true ten are among them
  assert.equal(pr.rows[1].recall_at_10, 1);
  const noRefine = run('ann-bench', '--base', join(dir, 'base.fvecs'), '--queries', join(dir, 'q.npy'), '--index', 'SQ8', '--json', json);
  assert.equal(noRefine.status, 0, noRefine.stderr);
  const nr = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(nr.refine_bytes, 0);
  assert.equal(nr.rows[0].refine_factor, null);
  assert.equal(nr.rows[0].nprobe, null);

  const sqIdx = join(dir, 'sq.index');
  const sqBuild = run('ann-build', '--base', join(dir, 'base.fvecs'), '--out', sqIdx, '--index', 'IVF10,SQ8,RFlat');
  assert.equal(sqBuild.status, 0, sqBuild.stderr);
  assert.match(sqBuild.stdout, /ivf-sq8 index \(IVF10,SQ8,RFlat\) of 2000 vectors.*MiB in RAM \+ .* MiB of refine vectors read from/);
  const sqSearch = run('ann-search', '--index', sqIdx, '--queries', join(dir, 'q.npy'), '--k', '3', '--nprobe', '10', '--refine-factor', '4', '--json');
  assert.equal(sqSearch.status, 0, sqSearch.stderr);
  assert.equal(JSON.parse(sqSearch.stdout).distances_computed, 100 * (10 + 2000 + 12));
  const flatRefine = run('ann-search', '--index', idx, '--queries', join(dir, 'q.npy'), '--refine-factor', '2');
  assert.equal(flatRefine.status, 2);
  assert.match(flatRefine.stderr, /--refine-factor re-ranks compressed indexes/);
  const badIndex = run('ann-bench', '--base', join(dir, 'base.fvecs'), '--queries', join(dir, 'q.npy'), '--index', 'IVF16,PQ3x5');
  assert.equal(badIndex.status, 2);
  assert.match(badIndex.stderr, /--index: index factory string 'IVF16,PQ3x5': nbits in 'PQ3x5' must be 8 .* or 4/);
  const badFactor = run('ann-bench', '--base', join(dir, 'base.fvecs'), '--queries', join(dir, 'q.npy'), '--index', 'ivf', '--refine-factor', '2');
  assert.equal(badFactor.status, 2);
  assert.match(badFactor.stderr, /refine factors apply to compressed indexes/);

  const bad = run('ann-bench', '--base', join(dir, 'missing.fvecs'), '--queries', join(dir, 'q.npy'));
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /missing\.fvecs/);
  const badK = run('ann-search', '--index', idx, '--queries', join(dir, 'q.npy'), '--k', '0');
  assert.equal(badK.status, 2);
  assert.match(badK.stderr, /--k must be a positive integer/);
});
