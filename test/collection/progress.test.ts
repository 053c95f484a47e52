/** Progress as events: progressFromCallback, alone and while a collection indexes. */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Collection } from '../../src/collection/collection.js';
import { type ProgressEvent, progressFromCallback, silentProgress } from '../../src/collection/progress.js';
import { removeDir, solid, tempDir } from './helpers.js';

test('one start, updates with the running count, one end; nothing after the end', () => {
  const events: ProgressEvent[] = [];
  const p = progressFromCallback((e) => events.push({ ...e }));
  assert.equal(p.enabled, true);
  const s = p.step('hashing', 0, 'files');
  s.setTotal(3);
  s.increment();
  s.increment(2);
  s.update(2);
  s.stop();
  s.increment();
  s.stop();
  assert.deepEqual(
    events.map((e) => [e.phase, e.done, e.total]),
    [
      ['start', 0, 0],
      ['update', 0, 3],
      ['update', 1, 3],
      ['update', 3, 3],
      ['update', 2, 3],
      ['end', 2, 3],
    ],
  );
  assert.ok(events.every((e) => e.step === 'hashing' && e.unit === 'files'));
  p.step('training', 1);
  assert.deepEqual(events.at(-1), { step: 'training', phase: 'start', done: 0, total: 1, unit: 'items' }, 'the default unit');
  assert.equal(silentProgress.enabled, false);
});

test('indexing a folder reports every step from start to end, counts reaching their totals', async (t) => {
  const root = await tempDir('nitamono-progress-');
  t.after(() => removeDir(root));
  for (let i = 0; i < 5; i++) await solid(join(root, `img-${i}.png`), [i * 50, 100, 200 - i * 40]);
  const events: ProgressEvent[] = [];
  const progress = progressFromCallback((e) => events.push({ ...e }));
  const c = await Collection.open(join(root, '.nitamono'), { create: true, root, features: ['color'], threads: 1, progress });
  try {
    const report = await c.update({ progress });
    assert.equal(report.images, 5);
  } finally {
    await c.close();
  }
  const steps = [...new Set(events.map((e) => e.step))];
  for (const step of ['scanning', 'hashing', 'features']) assert.ok(steps.includes(step), `${step} in ${steps.join(', ')}`);
  for (const step of steps) {
    const mine = events.filter((e) => e.step === step);
    assert.equal(mine[0]!.phase, 'start', step);
    assert.equal(mine.filter((e) => e.phase === 'start').length, mine.filter((e) => e.phase === 'end').length, `${step}: every start has an end`);
  }
  const features = events.filter((e) => e.step === 'features');
  const end = features.at(-1)!;
  assert.equal(end.phase, 'end');
  assert.equal(end.done, 5);
  assert.equal(end.total, 5);
  assert.equal(end.unit, 'images');
});
