/** The image commands end to end: index, search, eval, info, demo; exit codes; kill -9 and Ctrl-C. */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { loadIndex } from '../../src/search/load.js';
import { CLI, catalogCount, noise, removeDir, runCli, solid, tempDir } from '../collection/helpers.js';

const DEMO = fileURLToPath(new URL('../../../demo/images', import.meta.url));

describe('nitamono index / search / info', () => {
  let root: string;
  let col: string;
  before(async () => {
    root = await tempDir();
    col = `${root}-col`;
    await solid(join(root, 'red', 'a.png'), [255, 0, 0]);
    await solid(join(root, 'red', 'b.png'), [240, 10, 0]);
    await solid(join(root, 'blue', 'c.png'), [0, 0, 255]);
    await solid(join(root, 'blue', 'd.jpg'), [0, 20, 230]);
  });
  after(async () => {
    await removeDir(root);
    await removeDir(col);
  });

  test('a folder that does not exist: exit 2 and a clear message', async () => {
    const r = await runCli(['index', join(root, 'no-such-folder'), '--collection', col]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /does not exist/);
    assert.equal(existsSync(col), false, 'no collection is created');
  });

  test('an empty folder: exit 0, an empty collection and a message', async () => {
    const empty = await tempDir();
    try {
      const r = await runCli(['index', empty, '--collection', join(empty, '.nitamono')]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /empty/);
      const j = await runCli(['index', empty, '--collection', join(empty, '.nitamono'), '--json']);
      assert.equal(JSON.parse(j.stdout).images, 0);
      const s = await runCli(['search', join(root, 'red', 'a.png'), '--collection', join(empty, '.nitamono'), '--json']);
      assert.equal(s.code, 0, s.stderr);
      assert.deepEqual(JSON.parse(s.stdout).results, []);
    } finally {
      await removeDir(empty);
    }
  });

  test('index --json, then search and info', async () => {
    const r = await runCli(['index', root, '--collection', col, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    for (const key of ['indexed', 'unchanged', 'removed', 'skipped', 'took_ms']) assert.ok(key in j, key);
    assert.equal(j.indexed, 4);
    assert.deepEqual(j.skipped, []);

    const s = await runCli(['search', join(root, 'red', 'a.png'), '--collection', col, '-k', '2', '--json']);
    assert.equal(s.code, 0, s.stderr);
    const sj = JSON.parse(s.stdout);
    for (const key of ['query', 'features', 'method', 'k', 'took_ms', 'distances_computed', 'results']) assert.ok(key in sj, key);
    assert.equal(sj.method, 'exact');
    assert.equal(sj.features, 'color');
    assert.equal(sj.distances_computed, 4);
    assert.equal(sj.results.length, 2);
    assert.deepEqual(new Set(sj.results.map((x: { path: string }) => x.path.split('/').slice(-2).join('/'))), new Set(['red/a.png', 'red/b.png']));
    for (const x of sj.results) assert.equal(typeof x.distance, 'number');

    const ivf = await runCli(['search', join(root, 'blue', 'c.png'), '--collection', col, '--nprobe', '1']);
    assert.equal(ivf.code, 0, ivf.stderr);
    assert.match(ivf.stdout, /ivf nprobe=1 of nlist=2/);
    assert.match(ivf.stdout, /distances computed/);
    assert.match(ivf.stdout, /N·D/);

    const human = await runCli(['search', join(root, 'blue', 'c.png'), '--collection', col, '--exact', '-k', '3']);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /exact/);
    assert.match(human.stdout, /blue\/d\.jpg/);

    const info = await runCli(['info', '--collection', col, '--json']);
    assert.equal(info.code, 0, info.stderr);
    const ij = JSON.parse(info.stdout);
    assert.equal(ij.images, 4);
    assert.equal(ij.skipped, 0);
    assert.ok(ij.disk_bytes > 0);
    const infoText = await runCli(['info', '--collection', col]);
    assert.match(infoText.stdout, /color\s+12-d\s+flat, 4 vectors/);
    // the page size index memory asks for, and the kernel's huge-page mode that decides it
    assert.match(infoText.stdout, /pages: {4}(2 MiB|4 KiB) .*\)/);
    assert.match(ij.pages, /^(2 MiB|4 KiB) /);
  });

  test('bad usage and bad queries exit 2 with the reason', async () => {
    const bad = join(root, '..', `${root.split('/').pop()}-bad.jpg`);
    await writeFile(bad, 'definitely not a jpeg');
    try {
      const r = await runCli(['search', bad, '--collection', col]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /not a supported image|text/);
    } finally {
      await removeDir(bad);
    }
    const missing = await runCli(['search', join(root, 'nope.png'), '--collection', col]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no such file/);
    const both = await runCli(['search', join(root, 'red', 'a.png'), '--collection', col, '--exact', '--nprobe', '2']);
    assert.equal(both.code, 2);
    const nocol = await runCli(['search', join(root, 'red', 'a.png'), '--collection', join(root, 'none')]);
    assert.equal(nocol.code, 2);
    assert.match(nocol.stderr, /no collection/);
    const badFeat = await runCli(['index', root, '--collection', col, '--features', 'sift']);
    assert.equal(badFeat.code, 2);
    const otherRoot = await runCli(['index', DEMO, '--collection', col]);
    assert.equal(otherRoot.code, 2);
    assert.match(otherRoot.stderr, /indexes/);
  });
});

describe('nitamono eval and demo on the bundled demo set', () => {
  let col: string;
  before(async () => {
    col = await tempDir('nitamono-eval-');
  });
  after(async () => removeDir(col));

  test('eval --json: precision in [0,1], recall 1 at nprobe = nlist, --compare adds kinds', async () => {
    const idx = await runCli(['index', DEMO, '--collection', col, '--json']);
    assert.equal(idx.code, 0, idx.stderr);
    assert.ok(JSON.parse(idx.stdout).images >= 300);
    const r = await runCli(['eval', '--collection', col, '--json', '--sample', '120', '--compare', 'pixels,color8']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.queries, 120);
    assert.equal(j.classes, 8);
    for (const kind of ['color', 'pixels', 'color8']) {
      const f = j.features[kind];
      assert.ok(f, kind);
      for (const key of ['precision_at_1', 'precision_at_10', 'map']) {
        assert.ok(f[key] >= 0 && f[key] <= 1, `${kind}.${key} = ${f[key]}`);
      }
      // 8 balanced classes: chance is 1/8; clip-art colour and pixels do much better.
      assert.ok(f.precision_at_1 > 0.4, `${kind} P@1 ${f.precision_at_1}`);
    }
    assert.equal(j.features.pixels.dim, 784);
    assert.equal(j.features.color8.dim, 24);
    assert.ok(Array.isArray(j.ivf) && j.ivf.length >= 2);
    for (const row of j.ivf) for (const key of ['nprobe', 'recall_at_1', 'recall_at_10', 'ms_per_query']) assert.ok(key in row, key);
    const last = j.ivf[j.ivf.length - 1];
    assert.equal(last.nprobe, last.nlist);
    assert.equal(last.nlist, Math.ceil(Math.sqrt(j.n)));
    assert.equal(last.recall_at_1, 1);
    assert.equal(last.recall_at_10, 1);
    assert.ok(j.ivf[0].recall_at_10 <= last.recall_at_10);

    const text = await runCli(['eval', '--collection', col, '--sample', '50', '--no-ivf']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /P@1/);
    const badLabels = await runCli(['eval', '--collection', col, '--labels', 'csv']);
    assert.equal(badLabels.code, 2);
  });

  test('demo (colour only) prints one search per category and how to continue', async () => {
    const r = await runCli(['demo', '--no-deep', '--collection', join(col, 'demo')]);
    assert.equal(r.code, 0, r.stderr);
    for (const cat of ['clocks', 'flags', 'fruit', 'jigsaw', 'leds', 'roadsigns', 'smilies', 'stickmen']) {
      assert.match(r.stdout, new RegExp(`── ${cat}: query`));
    }
    // the CLI as it was started (node and its script: no nitamono on PATH without npm link)
    assert.match(r.stdout, /\n {2}node \S*main\.js index ~\/Pictures\n/);
    assert.match(r.stdout, /\n {2}node \S*main\.js serve --collection /);
  });
});

describe('interruptions', () => {
  const N = 400;
  let root: string;
  let base: string;
  before(async () => {
    base = await tempDir('nitamono-kill-');
    root = join(base, 'images');
    await mkdir(root);
    // Many small distinct images, in a few folders.
    for (let i = 0; i < N; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => noise(join(root, `f${Math.floor((i + j) / 100)}`, `img-${i + j}.png`), i + j + 1, 96)));
    }
  });
  after(async () => removeDir(base));

  /** Starts `index`, waits until at least `rows` are committed, sends `signal`; returns the rows seen then and the exit. */
  async function interrupt(col: string, rows: number, signal: NodeJS.Signals) {
    const child = spawn(process.execPath, [CLI, 'index', root, '--collection', col, '--json', '--threads', '1', '--batch', '16'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NITAMONO_NO_PROGRESS: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('close', (code, sig) => res({ code, signal: sig })));
    let seen = 0;
    let done = false;
    void exited.then(() => (done = true));
    while (!done) {
      seen = catalogCount(col);
      if (seen >= rows) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    if (!done) child.kill(signal);
    const exit = await exited;
    return { seen, exit, stdout, stderr };
  }

  async function checkComplete(col: string): Promise<void> {
    const db = new Database(join(col, 'catalog.sqlite'), { readonly: true });
    try {
      const rows = db.prepare('SELECT id, relpath, status FROM images ORDER BY relpath').all() as { id: number; relpath: string; status: string }[];
      assert.equal(rows.length, N);
      assert.equal(new Set(rows.map((r) => r.relpath)).size, N, 'every image exactly once');
      assert.ok(rows.every((r) => r.status === 'ok'));
      const files: string[] = [];
      for (const d of await readdir(root)) for (const f of await readdir(join(root, d))) files.push(`${d}/${f}`);
      assert.deepEqual(
        rows.map((r) => r.relpath),
        files.sort(),
      );
      const idx = await loadIndex(join(col, 'color.index'));
      try {
        assert.deepEqual(
          [...idx.ids()].sort((a, b) => a - b),
          rows.map((r) => r.id).sort((a, b) => a - b),
          'index matches SQLite',
        );
      } finally {
        idx.dispose();
      }
    } finally {
      db.close();
    }
  }

  test('kill -9 mid-run, then re-run: every image indexed exactly once, index matches SQLite', async () => {
    const col = join(base, 'col-kill');
    const k = await interrupt(col, 48, 'SIGKILL');
    assert.equal(k.exit.signal, 'SIGKILL', `the run ended before it could be killed (${k.seen} rows): ${k.stderr}`);
    const committed = catalogCount(col);
    assert.ok(committed >= 48 && committed < N, `killed mid-run with ${committed} rows committed`);
    assert.equal(committed % 16, 0, 'whole batches only');
    const r = await runCli(['index', root, '--collection', col, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.unchanged, committed);
    assert.equal(j.indexed, N - committed);
    assert.equal(j.images, N);
    await checkComplete(col);
  });

  test('Ctrl-C: finishes the batch, saves, exits 130; a re-run completes', async () => {
    const col = join(base, 'col-int');
    const k = await interrupt(col, 32, 'SIGINT');
    assert.equal(k.exit.code, 130, `exit ${JSON.stringify(k.exit)} ${k.stderr}`);
    const j = JSON.parse(k.stdout);
    assert.equal(j.interrupted, true);
    const committed = catalogCount(col);
    assert.ok(committed < N);
    assert.equal(j.images, committed);
    // The index was saved with what was committed.
    const idx = await loadIndex(join(col, 'color.index'));
    assert.equal(idx.size, committed);
    idx.dispose();
    const r = await runCli(['index', root, '--collection', col, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).indexed, N - committed);
    await checkComplete(col);
  });
});
