/** `nitamono search <image>`: the most similar images of a collection to an image file or an indexed path. */
import type { Command } from 'commander';
import { Collection, DEFAULT_COLLECTION_PATH, DEFAULT_NPROBE, parseFeatures, type SearchResponse } from '../../collection/index.js';
import { invalid } from '../../errors.js';
import { displayPath, fmtInt, fmtMs, writeJson } from '../format.js';
import { collectionPath, intAtLeast } from '../options.js';
import { printing } from '../run.js';

interface SearchCliOptions {
  collection?: string;
  k: number;
  features?: string;
  exact?: boolean;
  nprobe?: number;
  json?: boolean;
}

function searchJson(c: Collection, query: string, r: SearchResponse, k: number) {
  return {
    query: r.query.path !== undefined ? displayPath(c.absolutePath(r.query.path)) : query,
    query_source: r.query.source,
    features: r.features,
    method: r.method,
    ...(r.nprobe !== undefined ? { nprobe: r.nprobe } : {}),
    ...(r.nlist !== undefined ? { nlist: r.nlist } : {}),
    k,
    took_ms: r.took_ms,
    extract_ms: r.extract_ms,
    distances_computed: r.distances_computed,
    n: r.n,
    dim: r.dim,
    exact_cost: r.n * r.dim,
    results: r.results.map((h) => ({ path: displayPath(h.absolute_path), distance: h.distance, id: h.id })),
  };
}

function methodText(r: SearchResponse): string {
  if (r.method === 'ivf') return `ivf nprobe=${r.nprobe ?? '?'} of nlist=${r.nlist ?? '?'}`;
  return r.nlist !== undefined ? `exact (all ${r.nlist} lists of the IVF index)` : 'exact (flat)';
}

function printSearch(c: Collection, query: string, r: SearchResponse): void {
  const out: string[] = [];
  const q = r.query.path !== undefined ? displayPath(c.absolutePath(r.query.path)) : query;
  out.push(`Query: ${q} (${r.query.source === 'indexed' ? `indexed, id ${r.query.id}` : `features extracted in ${fmtMs(r.extract_ms)}`})`);
  out.push(
    `Method: ${methodText(r)} · ${r.features} features (${r.dim}-d) · took ${fmtMs(r.took_ms)} · distances computed ${fmtInt(r.distances_computed)} (exact: N = ${fmtInt(r.n)}; cost ${fmtInt(r.distances_computed * r.dim)} vs N·D = ${fmtInt(r.n * r.dim)})`,
  );
  if (r.results.length === 0) out.push('  (no images in the collection)');
  const w = String(r.results.length).length;
  r.results.forEach((h, i) => {
    out.push(`  ${String(i + 1).padStart(w)}. ${h.distance.toFixed(4).padStart(8)}  ${displayPath(h.absolute_path)}`);
  });
  for (const wmsg of r.warnings ?? []) out.push(`  note: ${wmsg}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

async function searchCommand(query: string, o: SearchCliOptions): Promise<void> {
  if (o.exact && o.nprobe !== undefined) throw invalid('--exact and --nprobe exclude each other');
  const features = o.features !== undefined ? parseFeatures(o.features) : undefined;
  if (features && features.length !== 1) throw invalid('--features for search is one of color or deep');
  const c = await Collection.open(collectionPath(o));
  try {
    const r = await c.search(
      { path: query },
      {
        k: o.k,
        ...(features ? { features: features[0]! } : {}),
        ...(o.exact ? { method: 'exact' as const } : {}),
        ...(o.nprobe !== undefined ? { method: 'ivf' as const, nprobe: o.nprobe } : {}),
      },
    );
    if (o.json) writeJson(searchJson(c, query, r, o.k));
    else printSearch(c, query, r);
  } finally {
    await c.close();
  }
}

export function registerSearchCommand(program: Command): void {
  program
    .command('search')
    .description('the images most similar to an image file (or an indexed path)')
    .argument('<image>', 'an image file, or a path already in the collection')
    .option('--collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH})`)
    .option('-k, --k <k>', 'number of results', intAtLeast('k'), 10)
    .option('--features <kind>', 'color or deep (default: deep if indexed, else color)')
    .option('--exact', 'exact search: every vector is compared (cost N·D)')
    .option('--nprobe <p>', `inverted-file search scanning the p nearest lists (default ${DEFAULT_NPROBE} on an IVF collection)`, intAtLeast('nprobe'))
    .option('--json', 'print the results as JSON')
    .action(printing(searchCommand));
}
