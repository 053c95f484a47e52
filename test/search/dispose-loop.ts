// Child process of arena-recycle.test.ts: builds, searches on the worker pool and disposes
// indexes in a loop, printing the RSS after each round as one JSON line at the end.
import { Arena } from '../../src/kernels/arena.js';
import { FlatIndex } from '../../src/search/flat.js';
import { IVFIndex } from '../../src/search/ivf.js';
import { uniformVectors } from '../../src/vectors/synthetic.js';

const [n, d, rounds] = process.argv.slice(2).map(Number) as [number, number, number];
const data = uniformVectors(n, d, 1);
const queries = data.subarray(0, 8 * d);
const rss: number[] = [];
for (let i = 0; i < rounds; i++) {
  // every third round an inverted file, so k-means' scratch arenas go round too
  const index = i % 3 === 2 ? new IVFIndex(d, { nlist: 8 }) : new FlatIndex(d);
  if (index instanceof IVFIndex) await index.train(data.subarray(0, 2000 * d), { iterations: 2, threads: 2 });
  index.add(data);
  await index.searchAsync(queries, 5, { threads: 2 });
  index.dispose();
  rss.push(process.memoryUsage().rss);
}
process.stdout.write(`${JSON.stringify({ rss, indexBytes: n * d * 4, spares: Arena.spares.count })}\n`);
process.exit(0);
