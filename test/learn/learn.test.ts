/**
 * `nitamono learn` end to end on a small generated set (3 labelled folders of shapes and colours,
 * plus unlabelled images in the root), deep features extracted once: the split, the held-out
 * figures, the model file, search/eval with the learned kind, re-learning, later images, and
 * bad input.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Collection } from '../../src/collection/collection.js';
import { evaluateCollection, gather, retrievalQuality } from '../../src/collection/evaluate.js';
import { LEARNED_FILE_VERSION, loadLearnedModel } from '../../src/learn/model-file.js';
import { projectRows } from '../../src/learn/project.js';
import { expectError } from '../assert-error.js';
import { launchChromium } from '../browser.js';
import { indexedDeepCollection, removeDir, runCli, shape, solid, tempDir } from '../collection/helpers.js';
import { startServer } from '../server/fixture.js';

const COLOURS = ['red', 'blue', 'green', 'orange', 'purple', 'black', 'teal', 'brown', 'magenta', 'navy'];

/** Three kinds a frozen network tells apart only partly: circles, squares, and solid fills. */
async function makeImages(root: string): Promise<void> {
  const jobs: Promise<void>[] = [];
  COLOURS.forEach((c, i) => {
    jobs.push(shape(join(root, 'circles', `c${i}.png`), 'circle', c, i % 2 ? 'white' : 'lightgrey'));
    jobs.push(shape(join(root, 'squares', `s${i}.png`), 'square', c, i % 2 ? 'lightgrey' : 'white'));
    jobs.push(shape(join(root, 'nested/frames', `f${i}.png`), 'square', 'white', c));
  });
  jobs.push(solid(join(root, 'loose1.png'), [200, 30, 30]));
  jobs.push(shape(join(root, 'loose2.png'), 'circle', 'gold'));
  await Promise.all(jobs);
}

describe('learn', () => {
  let dir: string;
  let root: string;
  let col: string;

  before(async () => {
    dir = await tempDir('nitamono-learn-');
    root = join(dir, 'images');
    col = join(dir, 'col');
    await makeImages(root);
    await indexedDeepCollection(col, root);
  });
  after(() => removeDir(dir));

  test('CLI learn --json: held-out split stratified and disjoint from training, figures over held-out images only, then search --features learned', async () => {
    const r = await runCli(['learn', '--collection', col, '--holdout', '0.25', '--seed', '3', '--epochs', '8', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout);
    assert.equal(rep.name, 'learned');
    assert.equal(rep.dim, 128);
    assert.equal(rep.classes, 3);
    assert.deepEqual(rep.labels, ['circles', 'nested/frames', 'squares']);
    // 10 per label, 0.25 held out: round(2.5) = 3 each; the 2 root images are unlabelled
    assert.equal(rep.holdout_images, 9);
    assert.equal(rep.train_images, 21);
    assert.equal(rep.unlabelled_images, 2);
    assert.equal(rep.holdout_paths.length, 9);
    for (const label of rep.labels) assert.equal(rep.holdout_paths.filter((p: string) => p.startsWith(`${label}/`)).length, 3, label);
    for (const k of ['before', 'after']) for (const m of ['precision_at_10', 'map']) assert.ok(rep[k][m] >= 0 && rep[k][m] <= 1, `${k}.${m}`);

    const c = await Collection.open(col);
    try {
      const model = await c.learnedModel('learned');
      const held = new Set(model.meta.split.holdout.ids);
      assert.equal(held.size, 9);
      for (const id of model.meta.split.train.ids) assert.ok(!held.has(id), `training image ${id} is also held out`);
      assert.deepEqual([...model.meta.split.holdout.paths].sort(), [...rep.holdout_paths].sort());
      // The reported "after" is exactly the held-out images ranked among themselves: recomputed
      // here from the stored learned vectors of those images alone.
      const all = await c.vectors('learned');
      const rows = Int32Array.from(model.meta.split.holdout.ids, (id) => all.ids.indexOf(id));
      const v = gather(all.vectors, all.dim, rows);
      const q = await retrievalQuality(
        v,
        all.dim,
        Int32Array.from(model.meta.split.holdout.labels),
        Int32Array.from({ length: rows.length }, (_, i) => i),
      );
      assert.equal(q.precision_at_10, rep.after.precision_at_10);
      assert.equal(q.map, rep.after.map);

      // eval on the learned kind: held-out images only, labelled as such
      const ev = await evaluateCollection(c, { features: ['learned'], skipIvf: true });
      assert.equal(ev.features.learned!.source, 'held-out');
      assert.equal(ev.features.learned!.precision_at_10, rep.after.precision_at_10);
      assert.ok(ev.notes.some((n) => /held-out figures only/.test(n) && /21 training images are not evaluated/.test(n)));

      // unlabelled images are embedded and searchable
      const loose = await c.getImageByPath('loose2.png');
      assert.ok(loose && all.ids.includes(loose.id));
      const hit = await c.search({ path: join(root, 'loose2.png') }, { features: 'learned', k: 3 });
      assert.equal(hit.results[0]!.path, 'loose2.png');
      assert.equal(hit.dim, 128);
    } finally {
      await c.close();
    }

    const s = await runCli(['search', join(root, 'circles', 'c0.png'), '--collection', col, '--features', 'learned', '-k', '4', '--json']);
    assert.equal(s.code, 0, s.stderr);
    const sr = JSON.parse(s.stdout);
    assert.equal(sr.features, 'learned');
    assert.equal(sr.dim, 128);
    assert.equal(sr.results.length, 4);
    assert.match(sr.results[0].path, /circles\/c0\.png$/);
    // a query image from outside the collection: deep features extracted, then projected
    await shape(join(dir, 'query.png'), 'circle', 'crimson');
    const ext = await runCli(['search', join(dir, 'query.png'), '--collection', col, '--features', 'learned', '-k', '3', '--json']);
    assert.equal(ext.code, 0, ext.stderr);
    assert.equal(JSON.parse(ext.stdout).query_source, 'extracted');
  });

  test('the split is stratified and repeatable: same seed same split, another seed another', async () => {
    const c = await Collection.open(col);
    try {
      const a = await c.learn({ name: 'split-a', seed: 3, holdout: 0.25, epochs: 8 });
      const d = await c.learn({ name: 'split-c', seed: 8, epochs: 1 });
      // the same seed as the CLI run of the first test: the same split, and the same weights too
      // (one backend, seeded initialisation and order)
      const cli = (await c.learnedModel('learned')).meta;
      assert.deepEqual([...a.holdout_paths].sort(), [...cli.split.holdout.paths].sort());
      assert.equal(a.model.split('-').pop(), cli.model.split('-').pop());
      assert.notDeepEqual(a.holdout_paths, d.holdout_paths);
      for (const label of d.labels) assert.equal(d.holdout_paths.filter((p) => p.startsWith(`${label}/`)).length, 3, label);
    } finally {
      await c.close();
    }
  });

  test('model file: versioned header, round trip, re-learning replaces it atomically with a new version; a corrupt file is BAD_FILE', async () => {
    let c = await Collection.open(col);
    let file: string;
    try {
      const first = await c.learn({ name: 'shapes', seed: 1, epochs: 2 });
      const bytes = await readFile(first.file);
      assert.equal(bytes.subarray(0, 8).toString('latin1'), 'NITAMONO');
      assert.equal(bytes.readUInt32LE(8), LEARNED_FILE_VERSION);
      const m = await loadLearnedModel(first.file);
      assert.equal(m.meta.version, 1);
      assert.equal(m.meta.model, first.model);
      assert.equal(m.meta.input.kind, 'deep');
      assert.equal(m.meta.loss.name, 'cosface');
      assert.deepEqual(m.meta.after, first.after);
      // the stored vectors of the kind are the model applied to the deep vectors
      const id = (await c.getImageByPath('squares/s3.png'))!.id;
      const deep = (await c.storedVector(id, 'deep'))!;
      assert.deepEqual(await c.storedVector(id, 'shapes'), projectRows(m.layers, deep, 1));

      const second = await c.learn({ name: 'shapes', seed: 2, epochs: 2 });
      assert.equal(second.version, 2);
      assert.notEqual(second.model, first.model);
      const files = readdirSync(col).filter((f) => f.startsWith('learned-shapes'));
      assert.deepEqual(files, ['learned-shapes.v2.model']);
      const m2 = await loadLearnedModel(second.file);
      // searches now use the new version's vectors, never the old ones
      assert.deepEqual(await c.storedVector(id, 'shapes'), projectRows(m2.layers, deep, 1));
      const r = await c.search({ id }, { features: 'shapes', k: 1 });
      assert.equal(r.results[0]!.id, id);
      assert.equal(r.results[0]!.distance < 1e-5, true);
      file = second.file;
    } finally {
      await c.close();
    }
    const bytes = await readFile(file);
    bytes[bytes.length - 40]! ^= 0xff;
    await writeFile(file, bytes);
    c = await Collection.open(col);
    try {
      await assert.rejects(c.search({ path: 'squares/s3.png' }, { features: 'shapes' }), expectError('BAD_FILE', /learned-shapes\.v2\.model/));
      // the other kinds still work
      assert.ok((await c.search({ path: 'squares/s3.png' }, { features: 'learned' })).results.length > 0);
    } finally {
      await c.close();
    }
    const s = await runCli(['search', join(root, 'squares', 's3.png'), '--collection', col, '--features', 'shapes']);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /checksum|corrupt|BAD|learned-shapes/i);
  });

  test('images added after learning get learned vectors and are found with them', async () => {
    await shape(join(root, 'circles', 'c-new.png'), 'circle', 'pink', 'lightgrey');
    const c = await Collection.open(col);
    try {
      const rep = await c.update();
      assert.equal(rep.indexed, 1);
      assert.ok(rep.index.learned, 'the learned index is brought up to date by index');
      const id = (await c.getImageByPath('circles/c-new.png'))!.id;
      assert.ok((await c.vectors('learned')).ids.includes(id));
      const r = await c.search({ path: 'circles/c-new.png' }, { features: 'learned', k: 1 });
      assert.equal(r.results[0]!.id, id);
    } finally {
      await c.close();
    }
  });

  test('the API searches a learned kind, and the page lists it in its features switch (Chromium)', async () => {
    const c = await Collection.open(col);
    const srv = await startServer({ collection: c });
    try {
      const stats = (await (await fetch(`${srv.url}/api/stats`)).json()) as { features: { kind: string }[] };
      assert.ok(stats.features.some((f) => f.kind === 'learned'));
      const id = (await c.getImageByPath('squares/s5.png'))!.id;
      const res = await fetch(`${srv.url}/api/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, k: 3, features: 'learned' }),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { features: string; dim: number; results: { id: number }[] };
      assert.equal(body.features, 'learned');
      assert.equal(body.dim, 128);
      assert.equal(body.results[0]!.id, id);
      const bad = await fetch(`${srv.url}/api/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, features: 'nosuch' }),
      });
      assert.equal(bad.status, 400);

      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        await page.goto(`${srv.url}/?id=${id}&features=learned`);
        await page.waitForSelector('body[data-ready="true"]');
        const radio = page.locator('#features-group input[value="learned"]');
        assert.equal(await radio.count(), 1);
        assert.ok(await radio.isChecked(), 'the URL selects the learned kind');
        assert.match((await page.textContent('#features-group')) ?? '', /Learned: learned/);
        await page.waitForSelector('#grid .card .dist');
        assert.equal(await page.locator('#grid .pick').first().getAttribute('data-id'), String(id));
      } finally {
        await browser.close();
      }
    } finally {
      await srv.close();
      await c.close();
    }
  });

  test('bad input: clear errors, nothing stored', async () => {
    const files = readdirSync(col).sort();
    const c = await Collection.open(col);
    const before = JSON.stringify(c.config.learned);
    try {
      await assert.rejects(c.learn({ holdout: 0 }), expectError('INVALID_ARGUMENT', /holdout.*between 0 and 1/));
      await assert.rejects(c.learn({ holdout: 1.5 }), expectError('INVALID_ARGUMENT', /holdout/));
      await assert.rejects(c.learn({ name: 'deep' }), expectError('INVALID_ARGUMENT', /reserved/));
      await assert.rejects(c.learn({ name: 'Bad Name' }), expectError('INVALID_ARGUMENT', /lowercase/));
      const csv = join(dir, 'labels.csv');
      await writeFile(csv, 'path,label\ncircles/c0.png,round\nno/such.png,round\n');
      await assert.rejects(c.learn({ labels: csv }), expectError('INVALID_ARGUMENT', /not searchable images.*no\/such\.png/));
      await writeFile(csv, 'circles/c0.png,round\ncircles/c1.png\n');
      await assert.rejects(c.learn({ labels: csv }), expectError('INVALID_ARGUMENT', /line 2/));
      await writeFile(csv, 'circles/c0.png,round\ncircles/c1.png,round\n');
      await assert.rejects(c.learn({ labels: csv }), expectError('INVALID_ARGUMENT', /at least 2 labels/));
      await writeFile(csv, 'circles/c0.png,round\ncircles/c1.png,round\n"squares/s0.png",square\n');
      await assert.rejects(c.learn({ labels: csv }), expectError('INVALID_ARGUMENT', /at least 2 images.*square/));
      await assert.rejects(
        c.search({ path: 'circles/c0.png' }, { features: 'nosuch' }),
        expectError('INVALID_ARGUMENT', /no nosuch features.*nitamono learn --name nosuch/),
      );
      assert.equal(JSON.stringify(c.config.learned), before);
    } finally {
      await c.close();
    }
    assert.deepEqual(readdirSync(col).sort(), files);
    const r = await runCli(['learn', '--collection', col, '--holdout', '1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--holdout must be a fraction/);

    // a collection without deep features
    const colour = join(dir, 'colour-col');
    const cc = await Collection.open(colour, { create: true, root, features: ['color'], threads: 1 });
    try {
      await cc.update();
      await assert.rejects(cc.learn(), expectError('INVALID_ARGUMENT', /no deep features.*--features deep/));
    } finally {
      await cc.close();
    }
  });
});
