#!/usr/bin/env node
// Charts of big-index.mjs runs (their --json lines): recall against one-query q/s and against
// the RAM of the index, one series per index kind, one point per nprobe of its sweep (a kind
// without an inverted file, Flat or PQ{m}, is one point: its whole scan).
//
//   node bench/big-index-chart.mjs --tag synthetic2m bench/out/big-ivfflat.json bench/out/big-ivfsq8.json …
//
// Writes docs/recall-qps-<tag>.svg and docs/recall-memory-<tag>.svg.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { colorOf, svgRecallMemory, svgRecallQps } from './charts.mjs';

const { values: o, positionals: files } = parseArgs({ options: { tag: { type: 'string', default: 'big' } }, allowPositionals: true });
if (files.length === 0) throw new Error('give the JSON lines of big-index.mjs --json runs');
const runs = files.map((f) => {
  const line = readFileSync(f, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`${f}: no JSON line`);
  return JSON.parse(line);
});
const { n, dim } = runs[0];
if (runs.some((r) => r.n !== n || r.dim !== dim)) throw new Error('the runs are not of one data set (n and dim differ)');
const raw = n * dim * 4;
/** The palette's names for the kinds ('IVF1414,SQ8' → 'nitamono IVF-SQ8', 'PQ224' → 'nitamono PQ'). */
const kindName = (index) => {
  const [first, second] = index.split(',');
  if (first === 'Flat') return 'nitamono flat';
  if (!first.startsWith('IVF')) return `nitamono ${first.replace(/\d+$/, '')}`;
  return `nitamono IVF-${second.startsWith('PQ') ? 'PQ' : second}`;
};
const series = runs.map((r) => {
  const ivf = r.index.startsWith('IVF');
  const sweep = r.sweep ?? [{ nprobe: r.params.nprobe, qps_one: r.qps_one, recall_one: r.recall_one }];
  return {
    name: `nitamono ${r.index}`,
    color: colorOf(kindName(r.index)),
    // nprobe means nothing to a whole scan: a sweep of one repeats the same point
    points: (ivf ? sweep : sweep.slice(0, 1)).map((s) => ({
      recall: s.recall_one,
      qps: s.qps_one,
      mem: r.memory_bytes / raw,
      label: ivf ? `nprobe ${s.nprobe}` : 'scan',
    })),
  };
});
const title = `${n.toLocaleString('en-US')} × ${dim} synthetic`;
const docs = new URL('../docs/', import.meta.url);
writeFileSync(new URL(`recall-qps-${o.tag}.svg`, docs), svgRecallQps(`${title}: recall vs one-query q/s (1 thread)`, series, { recall: 0.99 }));
writeFileSync(new URL(`recall-memory-${o.tag}.svg`, docs), svgRecallMemory(`${title}: recall vs RAM of the index`, series, { recall: 0.99, ram: 0.2 }));
console.log(`wrote docs/recall-qps-${o.tag}.svg and docs/recall-memory-${o.tag}.svg from ${runs.length} runs`);
