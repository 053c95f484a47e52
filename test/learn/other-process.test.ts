/**
 * Learned kinds changed by another process (issue #11): a running `serve` takes a re-learn made
 * by a second `nitamono learn` without a restart, and `nitamono index` says so when a learned
 * kind's model file cannot be read instead of skipping its index silently.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Collection } from '../../src/collection/collection.js';
import { catalogCount, indexedDeepCollection, removeDir, runCli, shape, tempDir } from '../collection/helpers.js';
import { serve } from '../server/serve-process.js';

const COLOURS = ['red', 'blue', 'green', 'orange', 'purple', 'black'];

interface SearchBody {
  features: string;
  dim: number;
  results: { id: number; path: string; distance: number }[];
}

async function apiSearch(url: string, body: object): Promise<SearchBody> {
  const res = await fetch(`${url}/api/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as SearchBody;
}

describe('learned kinds and other processes', { timeout: 180_000 }, () => {
  let dir: string;
  let root: string;
  let col: string;

  before(async () => {
    dir = await tempDir('nitamono-learn-procs-');
    root = join(dir, 'images');
    col = join(dir, 'col');
    await Promise.all(
      COLOURS.flatMap((c, i) => [
        shape(join(root, 'circles', `c${i}.png`), 'circle', c, i % 2 ? 'white' : 'lightgrey'),
        shape(join(root, 'squares', `s${i}.png`), 'square', c, i % 2 ? 'lightgrey' : 'white'),
      ]),
    );
    await indexedDeepCollection(col, root);
  });
  after(() => removeDir(dir));

  const learn = async (args: string[]) => {
    const r = await runCli(['learn', '--collection', col, '--name', 'shapes', '--epochs', '3', '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { version: number; model: string; dim: number };
  };

  test('a running serve searches with the model a second `learn` wrote, without a restart', async () => {
    await learn(['--dim', '16', '--seed', '1']);
    const s = await serve(col, []);
    try {
      const c = await Collection.open(col);
      const id = (await c.getImageByPath('circles/c2.png'))!.id;
      await c.close();
      const first = await apiSearch(s.url, { id, k: 5, features: 'shapes' });
      assert.equal(first.dim, 16);

      const again = await learn(['--dim', '24', '--seed', '2']);
      assert.equal(again.version, 2);
      const second = await apiSearch(s.url, { id, k: 5, features: 'shapes' });
      assert.equal(second.dim, 24, 'the server still used the first model');
      // the same answer a fresh process gives with the new model
      const cli = await runCli(['search', join(root, 'circles', 'c2.png'), '--collection', col, '--features', 'shapes', '-k', '5', '--json']);
      assert.equal(cli.code, 0, cli.stderr);
      const fresh = JSON.parse(cli.stdout) as SearchBody;
      assert.equal(fresh.dim, 24);
      assert.deepEqual(
        second.results.map((r) => [r.id, r.distance]),
        fresh.results.map((r) => [r.id, r.distance]),
      );
      assert.doesNotMatch(s.err(), /error/i);
    } finally {
      s.child.kill('SIGTERM');
      assert.equal(await s.exit, 0);
    }
  });

  test('index names a learned kind whose model file is unreadable, in its output and JSON, exits 3 when asked for it, and changes nothing stored', async () => {
    const model = join(col, readdirSync(col).find((f) => /^learned-shapes\..*model$/.test(f))!);
    const bytes = readFileSync(model);
    bytes[bytes.length - 40]! ^= 0xff;
    await writeFile(model, bytes);
    const stored = () => ({
      model: readFileSync(model),
      files: readdirSync(col)
        .filter((f) => f.startsWith('shapes.'))
        .sort()
        .map((f) => [f, readFileSync(join(col, f))]),
    });
    const before = stored();
    assert.ok(before.files.length > 0, 'the kind has index files to keep');
    await shape(join(root, 'circles', 'c-late.png'), 'circle', 'pink');
    const images = catalogCount(col);

    const json = await runCli(['index', root, '--collection', col, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const rep = JSON.parse(json.stdout) as {
      indexed: number;
      index: Record<string, unknown>;
      warnings: { kind: string; file: string; code: string; reason: string; asked: boolean }[];
    };
    assert.equal(rep.indexed, 1);
    assert.ok(rep.index['deep'] && !rep.index['shapes']);
    assert.equal(rep.warnings.length, 1);
    const w = rep.warnings[0]!;
    assert.equal(w.kind, 'shapes');
    assert.equal(w.code, 'BAD_FILE');
    assert.equal(w.asked, false);
    assert.match(w.file, /learned-shapes\.v2\.model$/);
    assert.match(w.reason, /checksum|corrupt/i);

    const text = await runCli(['index', root, '--collection', col]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Warning: the learned features "shapes" were not indexed: \S*learned-shapes\.v2\.model cannot be used \(.*(checksum|corrupt)/i);

    const asked = await runCli(['index', root, '--collection', col, '--features', 'deep,shapes', '--json']);
    assert.equal(asked.code, 3, asked.stderr);
    assert.equal((JSON.parse(asked.stdout) as typeof rep).warnings[0]!.asked, true);
    const unknown = await runCli(['index', root, '--collection', col, '--features', 'deep,nosuch']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no learned features named "nosuch" \(it has shapes\)/);

    assert.equal(catalogCount(col), images + 1);
    assert.deepEqual(stored(), before, "the model file and the kind's index files are untouched");
  });
});
