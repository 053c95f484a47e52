/**
 * The image commands: index, search, eval, info, demo. They only parse options, call the
 * Collection library (src/collection) and print; exit codes follow run.ts (0 ok, 2 bad usage or
 * input, 3 some files skipped, 130 interrupted).
 */
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NitamonoError, invalid } from '../errors.js';
import { Collection } from '../collection/collection.js';
import { DEFAULT_NPROBE, type IndexReport, type SearchResponse } from '../collection/types.js';
import { AUTO_FLAT_MAX, DEFAULT_COLLECTION_PATH, parseFeatures, parseIndexChoice, type FeatureKind } from '../collection/config.js';
import { evaluateCollection, parseCompare, type EvalReport } from '../collection/evaluate.js';
import { createProgress, silentProgress } from '../collection/progress.js';

export const EXIT_SKIPPED = 3;
export const EXIT_INTERRUPTED = 130;

function int(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw invalid(`--${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

function intList(name: string) {
  return (v: string): number[] => v.split(',').map((s) => int(name)(s.trim()));
}

function collectionPath(o: { collection?: string }): string {
  return o.collection ?? process.env.NITAMONO_COLLECTION ?? DEFAULT_COLLECTION_PATH;
}

/** A path as the user can use it from the current folder. */
export function displayPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
}

const fmtInt = (n: number) => n.toLocaleString('en-US');
const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);

/** `nitamono … | head` closes stdout early: stop quietly instead of crashing on EPIPE. */
function quietOnClosedStdout(): void {
  if (process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

function writeJson(x: unknown): void {
  process.stdout.write(JSON.stringify(x, null, 2) + '\n');
}

function progressFor(json: boolean | undefined) {
  return json ? silentProgress : createProgress();
}

// ------------------------------------------------------------------ index

interface IndexCliOptions {
  collection?: string;
  features?: string;
  index?: string;
  nlist?: number;
  threads?: number;
  json?: boolean;
  retrySkipped?: boolean;
  batch?: number;
}

function indexJson(r: IndexReport) {
  return {
    root: r.root,
    collection: r.collection,
    indexed: r.indexed,
    changed: r.changed,
    reused: r.reused,
    unchanged: r.unchanged,
    removed: r.removed,
    skipped_new: r.skipped_new,
    skipped: r.skipped.map((s) => ({ path: displayPath(join(r.root, s.path)), code: s.code, reason: s.reason })),
    ignored: r.ignored,
    images: r.images,
    features: r.features,
    index: r.index,
    interrupted: r.interrupted,
    took_ms: r.took_ms,
  };
}

function printIndexReport(r: IndexReport): void {
  const out: string[] = [];
  const idx = Object.entries(r.index)
    .map(([k, v]) => `${k}: ${v.kind}${v.nlist ? ` nlist=${v.nlist}` : ''}`)
    .join(', ');
  out.push(`${r.interrupted ? 'Interrupted while indexing' : 'Indexed'} ${displayPath(r.root)} into ${displayPath(r.collection)} (${r.features.join(' + ')} features${idx ? `; ${idx}` : ''})`);
  if (r.images === 0 && r.skipped.length === 0 && r.indexed === 0 && r.removed === 0) {
    out.push(`  no images found in ${displayPath(r.root)}: the collection is empty (looked for jpg, jpeg, png, webp, gif, tif, tiff, avif, svg …)`);
  }
  out.push(`  new or changed: ${fmtInt(r.indexed)}${r.reused ? ` (${fmtInt(r.reused)} identical to an indexed file, vectors reused)` : ''}${r.changed ? `, of which ${fmtInt(r.changed)} changed` : ''}`);
  out.push(`  unchanged:      ${fmtInt(r.unchanged)}`);
  out.push(`  removed:        ${fmtInt(r.removed)}`);
  out.push(`  skipped:        ${fmtInt(r.skipped.length)}${r.skipped_new ? ` (${fmtInt(r.skipped_new)} new)` : ''}`);
  if (r.ignored) out.push(`  not images:     ${fmtInt(r.ignored)} (other extensions, ignored)`);
  out.push(`  searchable:     ${fmtInt(r.images)} images   took ${fmtMs(r.took_ms)}`);
  if (r.skipped.length > 0) {
    out.push('Skipped files:');
    for (const s of r.skipped) out.push(`  ${displayPath(join(r.root, s.path))}\t${s.code}\t${s.reason}`);
  }
  if (r.interrupted) out.push('Everything committed so far is kept; run the same command again to continue.');
  process.stdout.write(out.join('\n') + '\n');
}

async function indexCommand(dir: string, o: IndexCliOptions): Promise<void> {
  const root = resolve(dir);
  if (!existsSync(root)) throw invalid(`folder ${dir} does not exist`);
  if (!statSync(root).isDirectory()) throw invalid(`${dir} is not a folder`);
  const features = parseFeatures(o.features);
  const index = parseIndexChoice(o.index);
  const progress = progressFor(o.json);
  const c = await Collection.open(collectionPath(o), {
    create: true,
    root,
    ...(features ? { features } : {}),
    ...(index ? { index } : {}),
    ...(o.nlist ? { nlist: o.nlist } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
    progress,
  });
  const ac = new AbortController();
  let sigints = 0;
  let exitOnSignal = EXIT_INTERRUPTED;
  const onSigint = (sig: NodeJS.Signals) => {
    sigints++;
    exitOnSignal = sig === 'SIGTERM' ? 143 : EXIT_INTERRUPTED;
    if (sigints === 1) {
      process.stderr.write('\nnitamono: interrupted — finishing the current batch and saving (Ctrl-C again to quit at once)\n');
      ac.abort();
    } else {
      process.exit(exitOnSignal);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  let report: IndexReport;
  try {
    report = await c.update({
      ...(features ? { features } : {}),
      ...(index ? { index } : {}),
      ...(o.nlist ? { nlist: o.nlist } : {}),
      ...(o.threads ? { threads: o.threads } : {}),
      ...(o.batch ? { batchSize: o.batch } : {}),
      retrySkipped: Boolean(o.retrySkipped),
      progress,
      signal: ac.signal,
    });
  } finally {
    await c.close();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  if (o.json) writeJson(indexJson(report));
  else printIndexReport(report);
  process.exitCode = report.interrupted ? exitOnSignal : report.skipped.length > 0 ? EXIT_SKIPPED : 0;
}

// ------------------------------------------------------------------ search

interface SearchCliOptions {
  collection?: string;
  k: number;
  features?: string;
  exact?: boolean;
  nprobe?: number;
  json?: boolean;
}

export function searchJson(c: Collection, query: string, r: SearchResponse, k = r.results.length) {
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

export function printSearch(c: Collection, query: string, r: SearchResponse, opts: { header?: boolean } = {}): void {
  const out: string[] = [];
  if (opts.header !== false) {
    const q = r.query.path !== undefined ? displayPath(c.absolutePath(r.query.path)) : query;
    out.push(`Query: ${q} (${r.query.source === 'indexed' ? `indexed, id ${r.query.id}` : `features extracted in ${fmtMs(r.extract_ms)}`})`);
  }
  out.push(
    `Method: ${methodText(r)} · ${r.features} features (${r.dim}-d) · took ${fmtMs(r.took_ms)} · distances computed ${fmtInt(r.distances_computed)} (exact: N = ${fmtInt(r.n)}; cost ${fmtInt(r.distances_computed * r.dim)} vs N·D = ${fmtInt(r.n * r.dim)})`,
  );
  if (r.results.length === 0) out.push('  (no images in the collection)');
  const w = String(r.results.length).length;
  r.results.forEach((h, i) => {
    out.push(`  ${String(i + 1).padStart(w)}. ${h.distance.toFixed(4).padStart(8)}  ${displayPath(h.absolute_path)}`);
  });
  for (const wmsg of r.warnings ?? []) out.push(`  note: ${wmsg}`);
  process.stdout.write(out.join('\n') + '\n');
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

// ------------------------------------------------------------------ eval

interface EvalCliOptions {
  collection?: string;
  labels: string;
  json?: boolean;
  sample?: number;
  compare?: string | boolean;
  features?: string;
  nprobe?: number[];
  ivf: boolean;
  threads?: number;
}

function printEval(r: EvalReport): void {
  const out: string[] = [];
  out.push(`Evaluation of ${displayPath(r.collection)}: ${fmtInt(r.n)} images in ${r.classes} folders (labels = parent folder), ${fmtInt(r.queries)} leave-one-out queries`);
  out.push('');
  out.push('features        dim   P@1     P@10    mAP     exact ms/query');
  for (const [k, f] of Object.entries(r.features)) {
    out.push(
      `${(k + (f.source === 'computed' ? ' *' : '')).padEnd(14)} ${String(f.dim).padStart(5)}   ${f.precision_at_1.toFixed(3)}   ${f.precision_at_10.toFixed(3)}   ${f.map.toFixed(3)}   ${f.exact_ms_per_query.toFixed(3)}`,
    );
  }
  if (Object.values(r.features).some((f) => f.source === 'computed')) out.push('  * computed on the fly for comparison (--compare), not stored');
  if (r.ivf.length > 0) {
    out.push('');
    out.push('IVF vs exact (self excluded; ties count as found)');
    out.push('features  nlist  nprobe   R@1     10-R@10  ms/query  distances/query');
    for (const row of r.ivf) {
      out.push(
        `${row.features.padEnd(9)} ${String(row.nlist).padStart(5)}  ${String(row.nprobe).padStart(6)}   ${row.recall_at_1.toFixed(3)}   ${row.recall_at_10.toFixed(3)}    ${row.ms_per_query.toFixed(3).padStart(7)}  ${fmtInt(row.distances_per_query).padStart(9)}`,
      );
    }
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  out.push(`took ${fmtMs(r.took_ms)}`);
  process.stdout.write(out.join('\n') + '\n');
}

async function evalCommand(o: EvalCliOptions): Promise<void> {
  if (o.labels !== 'folders') throw invalid(`--labels supports only "folders" (each image's parent folder name), not "${o.labels}"`);
  const compare = parseCompare(o.compare);
  const features = parseFeatures(o.features);
  const c = await Collection.open(collectionPath(o));
  try {
    const report = await evaluateCollection(c, {
      ...(o.sample ? { sample: o.sample } : {}),
      ...(compare ? { compare } : {}),
      ...(features ? { features } : {}),
      ...(o.nprobe ? { nprobes: o.nprobe } : {}),
      ...(o.threads ? { threads: o.threads } : {}),
      skipIvf: !o.ivf,
      progress: progressFor(o.json),
    });
    if (o.json) writeJson(report);
    else printEval(report);
  } finally {
    await c.close();
  }
}

// ------------------------------------------------------------------ info

async function infoCommand(o: { collection?: string; json?: boolean }): Promise<void> {
  const c = await Collection.open(collectionPath(o));
  try {
    const s = await c.stats();
    if (o.json) {
      writeJson(s);
      return;
    }
    const out: string[] = [];
    out.push(`Collection ${displayPath(s.path)} — images of ${displayPath(s.root)}`);
    out.push(`  images:   ${fmtInt(s.images)} searchable, ${fmtInt(s.skipped)} skipped${s.excluded ? `, ${fmtInt(s.excluded)} excluded` : ''}`);
    out.push(`  index:    ${s.index_policy}${s.index_policy === 'auto' ? ` (flat below ${fmtInt(AUTO_FLAT_MAX)} images, else IVF nlist = ⌈√N⌉)` : ''}`);
    for (const f of s.features) {
      const i = f.index;
      let line = `  ${f.kind.padEnd(6)}  ${f.dim}-d`;
      if (i) {
        line += `  ${i.kind}${i.nlist ? ` nlist=${i.nlist}` : ''}, ${fmtInt(i.size)} vectors, ${fmtBytes(i.memory_bytes)} in memory, ${fmtBytes(i.file_bytes)} on disk`;
        if (i.list_sizes) line += `; list sizes min ${i.list_sizes.min} / mean ${i.list_sizes.mean} / max ${i.list_sizes.max}, ${i.list_sizes.empty} empty`;
      } else {
        line += '  (no index yet)';
      }
      out.push(line);
    }
    out.push(`  memory:   ${fmtBytes(s.memory_bytes)} (indexes)`);
    out.push(`  disk:     ${fmtBytes(s.disk_bytes)} (catalog, indexes)`);
    out.push(`  updated:  ${s.updated_at}`);
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await c.close();
  }
}

function fmtBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KiB`;
  if (b < 1024 ** 3) return `${(b / 1024 / 1024).toFixed(1)} MiB`;
  return `${(b / 1024 ** 3).toFixed(2)} GiB`;
}

// ------------------------------------------------------------------ demo

/** Per top-level folder, the image with the least summed distance to the others in its folder. */
async function demoQueries(c: Collection): Promise<Map<string, { id: number; relpath: string }>> {
  const kind = c.features.includes('deep') ? 'deep' : c.features[0]!;
  const { ids, vectors, dim } = await c.vectors(kind);
  const row = new Map<number, number>();
  ids.forEach((id, i) => row.set(id, i));
  const byFolder = new Map<string, Array<{ id: number; relpath: string }>>();
  for (const r of await c.searchableImages()) {
    if (!r.relpath.includes('/') || !row.has(r.id)) continue;
    const folder = r.relpath.split('/')[0]!;
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), { id: r.id, relpath: r.relpath }]);
  }
  const out = new Map<string, { id: number; relpath: string }>();
  for (const [folder, members] of byFolder) {
    let best = members[0]!, bestCost = Infinity;
    for (const a of members) {
      const va = row.get(a.id)! * dim;
      let cost = 0;
      for (const b of members) {
        const vb = row.get(b.id)! * dim;
        for (let j = 0; j < dim; j++) { const t = vectors[va + j]! - vectors[vb + j]!; cost += t * t; }
      }
      if (cost < bestCost || (cost === bestCost && a.relpath < best.relpath)) { best = a; bestCost = cost; }
    }
    out.set(folder, best);
  }
  return out;
}

/** The bundled demo images: <package>/demo/images. */
export function demoImagesDir(): string {
  return fileURLToPath(new URL('../../../demo/images', import.meta.url));
}

async function demoCommand(o: { collection?: string; deep?: boolean; json?: boolean }): Promise<void> {
  const images = demoImagesDir();
  if (!existsSync(images)) throw new NitamonoError('NOT_FOUND', `the demo images are missing (${images})`);
  const path = resolve(o.collection ?? join(tmpdir(), 'nitamono-demo'));
  const features: FeatureKind[] = o.deep === false ? ['color'] : ['color', 'deep'];
  const progress = progressFor(o.json);
  const say = (s: string) => {
    if (!o.json) process.stdout.write(s + '\n');
  };
  say(`nitamono demo: ${features.join(' + ')} features of ${displayPath(images)} (public-domain clip art from openclipart, 8 folders)`);
  if (features.includes('deep')) say('(the first run extracts MobileNetV2 features: about half a minute on 2 cores; --no-deep skips them)');
  const c = await Collection.open(path, { create: true, root: images, features, progress });
  const searches: unknown[] = [];
  let example = '';
  try {
    const report = await c.update({ features, progress });
    say(`Indexed ${fmtInt(report.images)} images in ${fmtMs(report.took_ms)} (${report.indexed} new, ${report.unchanged} unchanged) into ${displayPath(path)}`);
    say('');
    // One query per category: the folder's most typical image (its medoid under the richest
    // feature kind), so the demo shows what search does, not the oddest picture in a folder.
    const firstOf = await demoQueries(c);
    for (const [folder, r] of [...firstOf].sort((a, b) => a[0].localeCompare(b[0]))) {
      example ||= c.absolutePath(r.relpath);
      for (const kind of c.features) {
        const res = await c.search({ id: r.id }, { k: 5, features: kind, excludeSelf: true, method: 'exact' });
        const same = res.results.filter((h) => h.path.split('/')[0] === folder).length;
        searches.push({
          category: folder,
          query: r.relpath,
          features: kind,
          same_category: same,
          took_ms: res.took_ms,
          results: res.results.map((h) => ({ path: h.path, distance: h.distance })),
        });
        say(`── ${folder}: query ${r.relpath} · ${kind} features · ${same} of ${res.results.length} from the same folder · ${fmtMs(res.took_ms)}`);
        for (const [i, h] of res.results.entries()) say(`     ${i + 1}. ${h.distance.toFixed(4)}  ${h.path}`);
      }
    }
  } finally {
    await c.close();
  }
  if (o.json) {
    writeJson({ collection: path, root: images, features, searches });
    return;
  }
  const colArg = `--collection ${displayPath(path)}`;
  say('');
  say('Distances are squared Euclidean distances between feature vectors (0 = identical features).');
  say('');
  say('Next:');
  say('  # search with any image file (exact search; add --nprobe 2 for the inverted file)');
  say(`  nitamono search ${displayPath(example)} ${colArg}`);
  say('  # precision per folder, and IVF recall against exact search');
  say(`  nitamono eval ${colArg}`);
  say('  # browse and search in a web page');
  say(`  nitamono serve ${colArg}`);
  say('  # your own pictures (the collection goes to ./.nitamono), then search them');
  say('  nitamono index ~/Pictures');
  say('  nitamono search ~/Pictures/some-photo.jpg');
}

// ------------------------------------------------------------------ registration

export function registerImageCommands(program: Command): void {
  program
    .command('index')
    .description('index a folder of images (recursively): only new or changed files are processed, deleted files are dropped')
    .argument('<dir>', 'folder of images')
    .option('--collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH}, or $NITAMONO_COLLECTION)`)
    .option('--features <kinds>', 'color, deep or both (default: color for a new collection, else the collection\'s)')
    .option('--index <kind>', `flat, ivf or auto (flat below ${fmtInt(AUTO_FLAT_MAX)} images)`)
    .option('--nlist <n>', 'IVF lists (default ⌈√N⌉)', int('nlist'))
    .option('--threads <t>', 'worker threads for feature extraction and training (default: all cores)', int('threads'))
    .option('--retry-skipped', 'try again files that were skipped before, even if unchanged')
    .option('--batch <n>', 'images per SQLite transaction', int('batch'))
    .option('--json', 'print the summary as JSON')
    .action((dir: string, o: IndexCliOptions) => (quietOnClosedStdout(), indexCommand(dir, o)));

  program
    .command('search')
    .description('the images most similar to an image file (or an indexed path)')
    .argument('<image>', 'an image file, or a path already in the collection')
    .option('--collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH})`)
    .option('-k, --k <k>', 'number of results', int('k'), 10)
    .option('--features <kind>', 'color or deep (default: deep if indexed, else color)')
    .option('--exact', 'exact search: every vector is compared (cost N·D)')
    .option('--nprobe <p>', `inverted-file search scanning the p nearest lists (default ${DEFAULT_NPROBE} on an IVF collection)`, int('nprobe'))
    .option('--json', 'print the results as JSON')
    .action((query: string, o: SearchCliOptions) => (quietOnClosedStdout(), searchCommand(query, o)));

  program
    .command('eval')
    .description('precision@1/@10 and mAP with folder names as labels, and IVF recall vs exact search')
    .option('--collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH})`)
    .option('--labels <source>', 'where labels come from: folders (the parent folder name)', 'folders')
    .option('--sample <n>', 'number of query images (default all; 2,000 above 5,000 images)', int('sample'))
    .option('--features <kinds>', 'stored kinds to evaluate (default all)')
    .option('--compare [kinds]', 'also evaluate features computed on the fly: pixels, color4, color8 (default all three)')
    .option('--nprobe <list>', 'nprobe values for the IVF sweep (default 1,2,4,… up to nlist)', intList('nprobe'))
    .option('--no-ivf', 'skip the IVF faithfulness sweep')
    .option('--threads <t>', 'worker threads for the exact ranking (default: all cores)', int('threads'))
    .option('--json', 'print the report as JSON')
    .action((o: EvalCliOptions) => (quietOnClosedStdout(), evalCommand(o)));

  program
    .command('info')
    .description('what a collection holds: images, skipped files, features, index, memory and disk use')
    .option('--collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH})`)
    .option('--json', 'print as JSON')
    .action((o: { collection?: string; json?: boolean }) => (quietOnClosedStdout(), infoCommand(o)));

  program
    .command('demo')
    .description('index the bundled demo images and run a few searches')
    .option('--collection <path>', 'where to keep the demo collection (default: <tmp>/nitamono-demo)')
    .option('--no-deep', 'colour features only (skips the MobileNetV2 features)')
    .option('--json', 'print the searches as JSON')
    .action((o: { collection?: string; deep?: boolean; json?: boolean }) => (quietOnClosedStdout(), demoCommand(o)));
}
