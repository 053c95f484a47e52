#!/usr/bin/env node
/**
 * Issue #9's leak, measured: rounds of build a FlatIndex, search it on the worker pool, dispose
 * it, with RSS after each round, for this build and (side by side, same run) another build's
 * dist — e.g. the main checkout before arena recycling. Each build runs in its own process.
 *
 *   npm run build && flock /tmp/nitamono-bench.flock node bench/dispose-loop.mjs \
 *     [--n 9400] [--dim 1792] [--rounds 30] [--other /work/main/dist]
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};

if (process.argv[2] === '--child') {
  const dist = process.argv[3];
  const [n, d, rounds] = process.argv.slice(4).map(Number);
  const { FlatIndex } = await import(`${dist}/src/index.js`);
  const data = new Float32Array(n * d);
  let s = 1;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s / 2 ** 32;
  }
  const queries = data.subarray(0, 16 * d);
  const rss = [];
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    const index = new FlatIndex(d);
    index.add(data);
    await index.searchAsync(queries, 5, { threads: 2 });
    index.dispose();
    rss.push(process.memoryUsage().rss);
  }
  process.stdout.write(JSON.stringify({ rss, ms: performance.now() - t0 }));
  process.exit(0);
}

const n = Number(arg('n', '9400')),
  d = Number(arg('dim', '1792')),
  rounds = Number(arg('rounds', '30'));
const here = resolve(fileURLToPath(new URL('../dist', import.meta.url)));
const builds = [['this build', here]];
const other = arg('other', undefined);
if (other) builds.push([`other (${other})`, resolve(other)]);
const runs = builds.map(([name, dist]) => {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dist, String(n), String(d), String(rounds)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`);
  return { name, ...JSON.parse(r.stdout) };
});
const mb = (b) => Math.round(b / 1e6).toLocaleString('en');
console.log(`${rounds} rounds of FlatIndex ${n} × ${d} (${mb(n * d * 4)} MB): add, searchAsync of 16 queries on 2 threads, dispose\n`);
const shown = [1, 5, 10, 15, 20, 25, 30, 40, 50].filter((r) => r <= rounds);
if (!shown.includes(rounds)) shown.push(rounds);
console.log(`| build | ${shown.map((r) => `RSS after ${r}`).join(' | ')} | time |`);
console.log(`|---|${shown.map(() => '---:').join('|')}|---:|`);
for (const run of runs) console.log(`| ${run.name} | ${shown.map((r) => `${mb(run.rss[r - 1])} MB`).join(' | ')} | ${(run.ms / 1000).toFixed(1)} s |`);
if (runs.length === 2) {
  const last = (run) => run.rss[rounds - 1];
  console.log(
    `\nRSS after ${rounds} rounds, this build / other: ${(last(runs[0]) / last(runs[1])).toFixed(2)}×; time: ${(runs[0].ms / runs[1].ms).toFixed(2)}×`,
  );
}
