/**
 * `nitamono info`: what a collection holds — images, skipped files, features, index, memory and disk use.
 *
 * With `--catalog postgres://…` (cluster mode): the collection's settings, images by status,
 * generation, vectors per feature space, the shared quantizer, the shards of the registry and,
 * with `--queue redis://…`, the job queue's state (src/cluster/stats.ts). Exit 4 when the
 * queue's Redis does not answer (the rest is printed).
 */
import type { Command } from 'commander';
import { PostgresCatalogStore } from '../../catalog/postgres.js';
import { clusterQueueName } from '../../cluster/collection.js';
import { type ClusterStats, clusterStats } from '../../cluster/stats.js';
import { AUTO_FLAT_MAX, Collection, DEFAULT_COLLECTION_PATH } from '../../collection/index.js';
import { invalid } from '../../errors.js';
import { displayRedisUrl, ExtractionQueue } from '../../ingest/queue.js';
import { hugePagesSummary } from '../../kernels/huge-pages.js';
import { kernelsSummary } from '../../kernels/index.js';
import { displayPath, fmtBytes, fmtInt, fmtMs, writeJson } from '../format.js';
import { clusterCollection, collectionPath, DEFAULT_REDIS } from '../options.js';
import { EXIT_ENVIRONMENT, printing } from '../run.js';

interface InfoCliOptions {
  collection?: string;
  json?: boolean;
  catalog?: string;
  queue?: string;
  queueName?: string;
}

/** How long `info` waits for the queue's Redis. */
const QUEUE_CONNECT_MS = 3000;

function printClusterInfo(s: ClusterStats): void {
  const out: string[] = [];
  out.push(`Collection ${JSON.stringify(s.collection)} of ${s.catalog}${s.root ? ` — images of ${s.root}` : ''}`);
  if (!s.settings) out.push('  (nothing indexed yet: no settings; run "nitamono index <folder> --catalog …")');
  out.push(`  images:     ${fmtInt(s.images)} searchable, ${fmtInt(s.skipped)} skipped${s.excluded ? `, ${fmtInt(s.excluded)} excluded` : ''}`);
  out.push(`  generation: ${s.generation}`);
  if (s.settings) {
    const st = s.settings;
    out.push(
      `  settings:   ${st.features.join(' + ')} features, colour bins ${st.color_bins}, deep model ${st.deep_model}, index ${st.index}${st.nlist ? ` (nlist ${st.nlist})` : ''}`,
    );
  }
  for (const f of s.features) {
    const q = f.quantizer;
    out.push(
      `  ${f.kind.padEnd(6)} ${f.model}: ${fmtInt(f.vectors)} vectors${f.dim ? ` (${f.dim}-d)` : ''}; ` +
        (q
          ? `shared quantizer v${q.version}: nlist ${fmtInt(q.nlist)}, trained on ${fmtInt(q.trained_on)} of ${fmtInt(q.collection_size)} vectors at generation ${q.generation} (${q.created_at})`
          : 'no shared quantizer (shards search flat)'),
    );
    if (f.shards.length === 0) out.push('           shards: none registered (search --catalog searches the whole collection itself)');
    else {
      out.push(`           shards: ${f.coverage ? `${f.coverage.live} of ${f.coverage.shards} partitions live` : 'none live'}`);
      for (const sh of f.shards) {
        const state = !sh.live ? 'STALE' : sh.ready ? 'ready' : 'starting';
        out.push(
          `             ${`${sh.shard}/${sh.of}`.padEnd(5)} ${sh.url}  ${state}, generation ${sh.generation ?? '?'}, ${fmtInt(sh.size)} vectors, heartbeat ${fmtMs(sh.heartbeat_age_ms)} ago  (${sh.node})`,
        );
      }
    }
  }
  const q = s.queue;
  if (q && 'error' in q) out.push(`  queue:      ${q.name} at ${q.url}: ${q.error}`);
  else if (q) {
    out.push(
      `  queue:      ${q.name} at ${q.url}: ${fmtInt(q.waiting + q.prioritized)} waiting, ${fmtInt(q.active)} active, ${fmtInt(q.delayed)} delayed (retrying), ${fmtInt(q.failed)} failed, ${fmtInt(q.completed)} completed (kept); ${fmtInt(q.workers)} ${q.workers === 1 ? 'worker' : 'workers'} connected`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

/** `info --catalog`: a collection of cluster mode. */
async function clusterInfoCommand(o: InfoCliOptions): Promise<void> {
  const store = await PostgresCatalogStore.open(o.catalog!, { collection: clusterCollection(o), poolSize: 2, create: false });
  let queue: ExtractionQueue | undefined;
  try {
    let queueError: { name: string; url: string; error: string } | undefined;
    if (o.queue !== undefined) {
      const name = o.queueName ?? clusterQueueName(store.database, store.collection);
      const url = displayRedisUrl(o.queue);
      try {
        queue = await ExtractionQueue.open({ url: o.queue, queueName: name, connectTimeoutMs: QUEUE_CONNECT_MS });
      } catch (err) {
        queueError = { name, url, error: (err as Error).message };
      }
    }
    const s = await clusterStats(store, queue ? { queue } : {});
    if (queueError) s.queue = queueError;
    if (o.json) writeJson(s);
    else printClusterInfo(s);
    if (s.queue && 'error' in s.queue) {
      process.stderr.write(`nitamono: ${s.queue.error}\n`);
      process.exitCode = EXIT_ENVIRONMENT;
    }
  } finally {
    await queue?.close();
    await store.close();
  }
}

async function infoCommand(o: InfoCliOptions): Promise<void> {
  if (o.catalog !== undefined) return clusterInfoCommand(o);
  if (o.queue !== undefined || o.queueName !== undefined) throw invalid('--queue and --queue-name need --catalog (cluster mode)');
  const c = await Collection.open(collectionPath(o));
  try {
    const s = await c.stats();
    if (o.json) {
      writeJson({ ...s, kernels: kernelsSummary(), pages: hugePagesSummary() });
      return;
    }
    const out: string[] = [];
    out.push(`Collection ${displayPath(s.path)} — images of ${displayPath(s.root)}`);
    out.push(`  images:   ${fmtInt(s.images)} searchable, ${fmtInt(s.skipped)} skipped${s.excluded ? `, ${fmtInt(s.excluded)} excluded` : ''}`);
    const budget = s.memory_budget !== null ? fmtBytes(s.memory_budget) : 'half the available memory';
    out.push(
      `  index:    ${s.index_policy}${s.index_policy === 'auto' ? ` (flat below ${fmtInt(AUTO_FLAT_MAX)} images, then IVF, IVF-SQ8 or IVF-PQ + re-ranking within the memory budget: ${budget})` : ''}`,
    );
    if (s.target_recall !== null) out.push(`  tuning:   target 10-recall@10 ${s.target_recall}`);
    for (const f of s.features) {
      const i = f.index;
      let line = `  ${f.kind.padEnd(6)}  ${f.dim}-d`;
      if (f.problem) {
        out.push(`${line}  cannot be searched: ${f.problem}`);
        continue;
      }
      if (i) {
        line += `  ${i.kind}${i.nlist ? ` nlist=${i.nlist}` : ''}${i.kind !== 'flat' ? ` (${i.factory})` : ''}, ${fmtInt(i.size)} vectors, ${fmtBytes(i.memory_bytes)} in memory (${fmtBytes(i.bytes_per_image)} per image`;
        line += i.size > 0 && i.raw_bytes > 0 ? `, ${((100 * i.memory_bytes) / i.raw_bytes).toFixed(0)}% of float32)` : ')';
        if (i.refine_bytes > 0) line += `, ${fmtBytes(i.refine_bytes)} of full vectors re-ranked from the catalogue on disk`;
        line += `, ${fmtBytes(i.file_bytes)} index file`;
        if (i.codec) line += `; codes: ${i.codec}`;
        if (i.list_sizes) line += `; list sizes min ${i.list_sizes.min} / mean ${i.list_sizes.mean} / max ${i.list_sizes.max}, ${i.list_sizes.empty} empty`;
        out.push(line);
        if (f.learned)
          out.push(
            `          learned: v${f.learned.version}, labels from ${f.learned.labels}; on its ${fmtInt(f.learned.holdout_images)} held-out images P@10 ${f.learned.before.precision_at_10.toFixed(3)} → ${f.learned.after.precision_at_10.toFixed(3)}, mAP ${f.learned.before.map.toFixed(3)} → ${f.learned.after.map.toFixed(3)} (deep → ${f.kind})`,
          );
        if (i.reason) out.push(`          why: ${i.reason}${i.budget_bytes !== null ? ` (budget for ${f.kind}: ${fmtBytes(i.budget_bytes)})` : ''}`);
        const d = i.search_defaults;
        const set = [d.nprobe !== null ? `nprobe ${d.nprobe}` : '', d.refine_factor !== null ? `refine factor ${d.refine_factor}` : '']
          .filter(Boolean)
          .join(', ');
        const t = i.tuning;
        if (t)
          out.push(
            `          search: ${set}, tuned: 10-recall@10 ${t.recall}${t.reached ? '' : ` (target ${t.target_recall} not reached)`} on ${t.queries} queries`,
          );
        else if (set) out.push(`          search: ${set} (defaults; --target-recall tunes them)`);
      } else {
        out.push(`${line}  (no index yet)`);
      }
    }
    const refine = s.features.reduce((a, f) => a + (f.index?.refine_bytes ?? 0), 0);
    out.push(`  memory:   ${fmtBytes(s.memory_bytes)} (indexes)${refine > 0 ? `; ${fmtBytes(refine)} of vectors for re-ranking stay in the catalogue` : ''}`);
    out.push(`  disk:     ${fmtBytes(s.disk_bytes)} (catalog, indexes)`);
    out.push(`  updated:  ${s.updated_at}`);
    out.push(`  kernels:  ${kernelsSummary()}`);
    out.push(`  pages:    ${hugePagesSummary()}`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await c.close();
  }
}

export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description(
      'what a collection holds: images, skipped files, features, index, memory and disk use (with --catalog: settings, vectors, quantizer, shards, queue)',
    )
    .option('--collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH}); with --catalog, the collection's name (default "default")`)
    .option('--json', 'print as JSON')
    .option('--catalog <url>', 'cluster mode: the shared catalogue (postgres://…)')
    .option('--queue <url>', `cluster mode: also the job queue's state, from this Redis (e.g. ${DEFAULT_REDIS})`)
    .option('--queue-name <name>', "cluster mode: the queue's name (default: derived from the database and the collection, as index and worker do)")
    .action(printing(infoCommand));
}
