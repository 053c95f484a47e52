/** `nitamono search <image>`: the most similar images of a collection to an image file or an indexed path. */
import type { Command } from 'commander';
import type { ImageFilter } from '../../catalog/filter.js';
import { ClusterSearch, type ClusterSearchResponse } from '../../cluster/client.js';
import { DEFAULT_DEADLINE_MS } from '../../cluster/coordinator.js';
import { Collection, DEFAULT_COLLECTION_PATH, DEFAULT_NPROBE, parseFeatureKind, type SearchResponse } from '../../collection/index.js';
import { invalid, NitamonoError } from '../../errors.js';
import { addFilterOptions, cliFilter, type FilterCliOptions } from '../filter-options.js';
import { displayPath, fmtInt, fmtMs, writeJson } from '../format.js';
import { clusterCollection, collectionPath, factorAtLeastOne, intAtLeast, shardToken, urlList } from '../options.js';
import { EXIT_SKIPPED, printing } from '../run.js';

interface SearchCliOptions extends FilterCliOptions {
  collection?: string;
  k: number;
  features?: string;
  exact?: boolean;
  nprobe?: number;
  refineFactor?: number;
  json?: boolean;
  catalog?: string;
  shards?: string[];
  deadlineMs?: number;
  shardToken?: string;
  local?: boolean;
}

function searchJson(c: Collection, query: string, r: SearchResponse, k: number) {
  return {
    query: r.query.path !== undefined ? displayPath(c.absolutePath(r.query.path)) : query,
    query_source: r.query.source,
    features: r.features,
    method: r.method,
    ...(r.nprobe !== undefined ? { nprobe: r.nprobe } : {}),
    ...(r.nlist !== undefined ? { nlist: r.nlist } : {}),
    ...(r.refine_factor !== undefined ? { refine_factor: r.refine_factor } : {}),
    ...(r.index !== undefined ? { index: r.index } : {}),
    k,
    took_ms: r.took_ms,
    extract_ms: r.extract_ms,
    distances_computed: r.distances_computed,
    n: r.n,
    dim: r.dim,
    exact_cost: r.n * r.dim,
    ...(r.filtered !== undefined ? { filtered: r.filtered } : {}),
    results: r.results.map((h) => ({ path: displayPath(h.absolute_path), distance: h.distance, id: h.id })),
  };
}

function methodText(r: SearchResponse): string {
  const compressed = r.index !== undefined && /SQ8|PQ/.test(r.index);
  if (r.method === 'ivf' && compressed)
    return `${r.index}${r.nprobe !== undefined ? ` nprobe=${r.nprobe} of nlist=${r.nlist ?? '?'}` : ''}${r.refine_factor !== undefined ? `, re-ranked ×${r.refine_factor} from the catalogue` : ''}`;
  if (r.method === 'ivf') return `ivf nprobe=${r.nprobe ?? '?'} of nlist=${r.nlist ?? '?'}`;
  if (r.index === 'Flat' && r.nlist !== undefined) return 'exact (the full vectors, read from the catalogue)';
  return r.nlist !== undefined ? `exact (all ${r.nlist} lists of the IVF index)` : 'exact (flat)';
}

function printSearch(c: Collection, query: string, r: SearchResponse): void {
  const out: string[] = [];
  const q = r.query.path !== undefined ? displayPath(c.absolutePath(r.query.path)) : query;
  out.push(`Query: ${q} (${r.query.source === 'indexed' ? `indexed, id ${r.query.id}` : `features extracted in ${fmtMs(r.extract_ms)}`})`);
  out.push(
    `Method: ${methodText(r)} · ${r.features} features (${r.dim}-d) · took ${fmtMs(r.took_ms)} · distances computed ${fmtInt(r.distances_computed)} (exact: N = ${fmtInt(r.n)}; cost ${fmtInt(r.distances_computed * r.dim)} vs N·D = ${fmtInt(r.n * r.dim)})`,
  );
  if (r.filtered !== undefined) out.push(`Filter: ${fmtInt(r.filtered)} images pass it; searched inside them`);
  if (r.results.length === 0) out.push(r.filtered !== undefined ? '  (no images pass the filter)' : '  (no images in the collection)');
  const w = String(r.results.length).length;
  r.results.forEach((h, i) => {
    out.push(`  ${String(i + 1).padStart(w)}. ${h.distance.toFixed(4).padStart(8)}  ${displayPath(h.absolute_path)}`);
  });
  for (const wmsg of r.warnings ?? []) out.push(`  note: ${wmsg}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

/** `search --name WORDS` without an image: the images whose names match, best first (search by name). */
async function nameSearchCommand(o: SearchCliOptions, filter: ImageFilter): Promise<void> {
  const { name, ...rest } = filter;
  const c = await Collection.open(collectionPath(o));
  try {
    const r = await c.searchNames(name!, { limit: o.k, ...(Object.keys(rest).length ? { filter: rest } : {}) });
    if (o.json) {
      writeJson({ name: name!, query: r.query, total: r.total, k: o.k, results: r.results.map((h) => ({ path: displayPath(h.absolute_path), id: h.id })) });
      return;
    }
    const what = 'words' in r.query ? r.query.words.join(' ') : `'${r.query.literal}' (no letters or digits: matched as text)`;
    const out = [
      `Name search: ${what} · ${fmtInt(r.total)} image${r.total === 1 ? '' : 's'} match${r.total > r.results.length ? ` (the best ${r.results.length} shown; -k for more)` : ''}`,
    ];
    if (r.results.length === 0) out.push('  (no image names match)');
    const w = String(r.results.length).length;
    r.results.forEach((h, i) => {
      out.push(`  ${String(i + 1).padStart(w)}. ${displayPath(h.absolute_path)}`);
    });
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await c.close();
  }
}

function clusterJson(query: string, r: ClusterSearchResponse) {
  return {
    mode: r.mode,
    query: r.query.path ?? query,
    query_source: r.query.source,
    features: r.features,
    method: r.method,
    ...(r.nprobe !== undefined ? { nprobe: r.nprobe } : {}),
    ...(r.nlist !== undefined ? { nlist: r.nlist } : {}),
    k: r.k,
    took_ms: r.took_ms,
    extract_ms: r.extract_ms,
    distances_computed: r.distances_computed,
    n: r.n,
    dim: r.dim,
    coverage: r.coverage,
    generation: r.generation,
    shards: r.shards,
    results: r.results.map((h) => ({ path: h.absolute_path ?? h.path, relpath: h.path, distance: h.distance, id: h.id })),
    ...(r.warnings ? { warnings: r.warnings } : {}),
  };
}

function printClusterSearch(query: string, r: ClusterSearchResponse): void {
  const out: string[] = [];
  out.push(`Query: ${r.query.path ?? query} (${r.query.source === 'indexed' ? `indexed, id ${r.query.id}` : `features extracted in ${fmtMs(r.extract_ms)}`})`);
  const method =
    r.method === 'ivf' ? `ivf nprobe=${r.nprobe ?? '?'} of nlist=${r.nlist ?? '?'}` : r.nlist !== undefined ? `exact (all ${r.nlist} lists)` : 'exact (flat)';
  out.push(
    `Method: ${method} · ${r.features} features (${r.dim}-d) · took ${fmtMs(r.took_ms)} · distances computed ${fmtInt(r.distances_computed)} (N = ${fmtInt(r.n)}${r.mode === 'local' ? '' : ' in the shards that answered'})`,
  );
  const gen = r.generation ? (r.generation.min === r.generation.max ? `${r.generation.min}` : `${r.generation.min}–${r.generation.max}`) : '?';
  if (r.mode === 'local') out.push(`Searched here: no shard is registered, so the whole collection was loaded from the catalogue · generation ${gen}`);
  else out.push(`Coverage: ${r.coverage.answered}/${r.coverage.shards} shards · generation ${gen}`);
  for (const s of r.shards) {
    const facts =
      s.status === 'ok'
        ? `${fmtMs(s.took_ms ?? 0)} (scan ${fmtMs(s.search_ms ?? 0)}), ${fmtInt(s.size ?? 0)} vectors, ${s.index}`
        : `${s.status}${s.error ? `: ${s.error}` : ''}`;
    out.push(`  shard ${s.shard}/${s.of}${s.url ? ` ${s.url}` : ''}: ${facts}`);
  }
  if (r.results.length === 0) out.push('  (no results)');
  const w = String(r.results.length).length;
  r.results.forEach((h, i) => {
    out.push(`  ${String(i + 1).padStart(w)}. ${h.distance.toFixed(4).padStart(8)}  ${h.absolute_path ? displayPath(h.absolute_path) : h.path}`);
  });
  for (const wmsg of r.warnings ?? []) out.push(`  note: ${wmsg}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

/** `search --catalog`: the query's features here, the shards' answers merged by the coordinator. Exit 3 when a shard did not answer. */
async function clusterSearchCommand(query: string, o: SearchCliOptions, features: string | undefined): Promise<void> {
  const token = shardToken(o);
  const cs = await ClusterSearch.open(o.catalog!, {
    collection: clusterCollection(o),
    ...(o.shards ? { shards: o.shards } : {}),
    ...(o.deadlineMs !== undefined ? { deadlineMs: o.deadlineMs } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(o.local === false ? { local: false } : {}),
  });
  try {
    const r = await cs.search(
      { path: query },
      {
        k: o.k,
        ...(features ? { features: features as 'color' | 'deep' } : {}),
        ...(o.exact ? { exact: true } : {}),
        ...(o.nprobe !== undefined ? { nprobe: o.nprobe } : {}),
      },
    );
    if (o.json) writeJson(clusterJson(query, r));
    else printClusterSearch(query, r);
    if (r.coverage.answered < r.coverage.shards) {
      process.stderr.write(`nitamono: partial results: ${r.coverage.answered} of ${r.coverage.shards} shards answered\n`);
      process.exitCode = EXIT_SKIPPED;
    }
  } finally {
    await cs.close();
  }
}

async function searchCommand(query: string | undefined, o: SearchCliOptions): Promise<void> {
  const filter = cliFilter(o);
  if (query === undefined) {
    if (filter?.name === undefined) throw invalid('search needs an image, or --name WORDS to search by name');
    if (o.catalog !== undefined)
      throw new NitamonoError('UNSUPPORTED', 'search by name is not supported in cluster mode (--catalog); search a collection folder');
    return nameSearchCommand(o, filter);
  }
  if (filter && o.catalog !== undefined)
    throw new NitamonoError(
      'UNSUPPORTED',
      'filtered search (--in, --name, --ids, --since, --until, --min-size, --max-size) is not supported in cluster mode (--catalog)',
    );
  if (o.exact && (o.nprobe !== undefined || o.refineFactor !== undefined)) throw invalid('--exact excludes --nprobe and --refine-factor');
  if (o.catalog !== undefined && o.refineFactor !== undefined)
    throw invalid('--refine-factor is for a collection folder: cluster shards hold flat or IVF indexes');
  const features = o.features !== undefined ? [parseFeatureKind(o.features)] : undefined;
  if (o.catalog !== undefined) return clusterSearchCommand(query, o, features?.[0]);
  if (o.shards || o.deadlineMs !== undefined || o.local === false) throw invalid('--shards, --deadline-ms and --no-local need --catalog (cluster mode)');
  const c = await Collection.open(collectionPath(o));
  try {
    const r = await c.search(
      { path: query },
      {
        k: o.k,
        ...(features ? { features: features[0]! } : {}),
        ...(o.exact ? { method: 'exact' as const } : {}),
        ...(o.nprobe !== undefined ? { method: 'ivf' as const, nprobe: o.nprobe } : {}),
        ...(o.refineFactor !== undefined ? { method: 'ivf' as const, refineFactor: o.refineFactor } : {}),
        ...(filter ? { filter } : {}),
      },
    );
    if (o.json) writeJson(searchJson(c, query, r, o.k));
    else printSearch(c, query, r);
  } finally {
    await c.close();
  }
}

export function registerSearchCommand(program: Command): void {
  const cmd = program
    .command('search')
    .description(
      'the images most similar to an image file (or an indexed path), optionally only among some (--in, --name, …); or, with --name alone, the images whose names match',
    )
    .argument('[image]', 'an image file, or a path already in the collection')
    .option('--collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH}); with --catalog, the collection's name (default "default")`)
    .option('-k, --k <k>', 'number of results', intAtLeast('k'), 10)
    .option('--features <kind>', 'color, deep or the name of learned features (default: deep if indexed, else color)')
    .option('--exact', 'exact search: every vector is compared (cost N·D)')
    .option(
      '--nprobe <p>',
      `inverted-file search scanning the p nearest lists (default: the value --target-recall tuned, else ${DEFAULT_NPROBE})`,
      intAtLeast('nprobe'),
    )
    .option(
      '--refine-factor <f>',
      'indexes re-ranked from the catalogue (…,RFlat): re-score the best f·k candidates exactly (default: tuned, else 4)',
      factorAtLeastOne('refine-factor'),
    )
    .option('--json', 'print the results as JSON')
    .option(
      '--catalog <url>',
      'cluster mode: the shared catalogue (postgres://…); the query goes to the shards of `nitamono shard` registered there, or, with none, this process searches the whole collection',
    )
    .option('--shards <urls>', "cluster mode: these shard URLs (comma-separated) instead of the catalogue's shard registry", urlList('shards'))
    .option('--no-local', 'cluster mode: when no shard is registered, fail (exit 4) instead of loading the whole collection into this process')
    .option(
      '--deadline-ms <ms>',
      `cluster mode: wait at most this long for the shards (default ${DEFAULT_DEADLINE_MS}); late ones lower the coverage`,
      intAtLeast('deadline-ms'),
    )
    .option('--shard-token <token>', "cluster mode: the shards' bearer token (default $NITAMONO_SHARD_TOKEN)");
  addFilterOptions(cmd).action(printing(searchCommand));
}
