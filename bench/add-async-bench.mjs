#!/usr/bin/env node
// Adding to inverted-file and coded indexes and the event loop (issues #8/#9): add() assigns
// lists and encodes on the calling thread; addAsync() does that on the worker pool and only
// copies and appends here. A 5 ms interval counts ticks during each call; "longest gap" is the
// longest the event loop waited. Both indexes are trained alike (the second is a save/load of
// the first); "same" says the two saved files are equal byte for byte after the adds.
//   npm run build && flock /tmp/nitamono-bench.flock node bench/add-async-bench.mjs [--dim 1792] [--n 16384] [--train 8192] [--nlist 256] [--m 56] [--threads 2] [--kinds IVF256,Flat;...]
// Synthetic clustered vectors (clusteredVectors, seeds 5 and 6); k-means 4 iterations.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusteredVectors, indexFactory, loadIndex } from 'nitamono';
import { arg, whileTicking } from './lib.mjs';

const D = Number(arg('dim', 1792));
const N = Number(arg('n', 16_384));
const T = Number(arg('train', 8192));
const NLIST = Number(arg('nlist', 256));
const M = Number(arg('m', 56));
const THREADS = Number(arg('threads', 2));
const KINDS = String(arg('kinds', `IVF${NLIST},Flat;IVF${NLIST},SQ8;IVF${NLIST},PQ${M}`)).split(';');

const train = clusteredVectors(T, D, { seed: 5, clusters: 64 }).data;
const add = clusteredVectors(N, D, { seed: 6, clusters: 64 }).data;
const file = (name) => join(tmpdir(), `nitamono-add-bench-${process.pid}-${name}.idx`);
const rows = [];
for (const factory of KINDS) {
  const here = indexFactory(D, factory);
  const tr = await whileTicking(() => here.train(train, { seed: 1, iterations: 4, threads: THREADS }));
  await here.save(file('trained'));
  const away = await loadIndex(file('trained'));
  // warm: the pool's workers and their kernel instances for this arena exist before the timed call
  await away.addAsync(add.subarray(0, D), [N + 1], { threads: THREADS });
  here.add(add.subarray(0, D), [N + 1]);
  const sync = await whileTicking(async () => here.add(add.subarray(D), undefined));
  const async_ = await whileTicking(() => away.addAsync(add.subarray(D), undefined, { threads: THREADS }));
  await here.save(file('a'));
  await away.save(file('b'));
  const same = readFileSync(file('a')).equals(readFileSync(file('b')));
  for (const f of ['trained', 'a', 'b']) rmSync(file(f), { force: true });
  here.dispose();
  away.dispose();
  const row = (what, r, extra = '') => rows.push(`| ${factory} | ${what} | ${(r.ms / 1000).toFixed(2)} | ${r.maxGap.toFixed(0)} | ${r.ticks} | ${extra} |`);
  row('train (sample assigned on the pool)', tr);
  row(`add ${N - 1} (calling thread)`, sync);
  row(`addAsync ${N - 1} (pool)`, async_, `gap ${(async_.maxGap / sync.maxGap).toFixed(3)}× add's; time ${(async_.ms / sync.ms).toFixed(2)}×; same: ${same}`);
}
console.log(`d ${D}, n ${N}, train ${T}, threads ${THREADS}`);
console.log('| index | call | seconds | longest loop gap (ms) | ticks | addAsync vs add |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
process.exit(0);
