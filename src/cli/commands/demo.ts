/**
 * `nitamono demo`: indexes the bundled clip-art (8 folders) and searches with each folder's most
 * typical image, then shows how to go on with one's own pictures.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { Collection, type FeatureKind } from '../../collection/index.js';
import { NitamonoError } from '../../errors.js';
import { groupMedoids } from '../../eval/medoid.js';
import { cliCommand, displayPath, fmtInt, fmtMs, shellWord, writeJson } from '../format.js';
import { progressFor } from '../progress-bar.js';
import { printing } from '../run.js';

interface DemoCliOptions {
  collection?: string;
  deep?: boolean;
  json?: boolean;
}

interface FolderQuery {
  folder: string;
  id: number;
  relpath: string;
}

/** The bundled demo images: <package>/demo/images. */
export function demoImagesDir(): string {
  return fileURLToPath(new URL('../../../../demo/images', import.meta.url));
}

/** Every searchable image's path by id. */
async function relpathsById(c: Collection): Promise<Map<number, string>> {
  return new Map((await c.searchableImages()).map((im) => [im.id, im.relpath]));
}

/**
 * Per top-level folder, its medoid under the richest feature kind, so the demo shows what search
 * does rather than a folder's oddest picture. Folders in name order.
 */
async function folderQueries(c: Collection): Promise<FolderQuery[]> {
  const kind = c.features.includes('deep') ? 'deep' : c.features[0]!;
  const { ids, vectors, dim } = await c.vectors(kind);
  const relpaths = await relpathsById(c);
  // Rows in path order (code-unit order): equally typical images resolve to the first path.
  const rows = [...ids.keys()]
    .filter((i) => relpaths.get(ids[i]!)?.includes('/'))
    .sort((a, b) => {
      const pa = relpaths.get(ids[a]!)!,
        pb = relpaths.get(ids[b]!)!;
      return pa < pb ? -1 : pa > pb ? 1 : 0;
    });
  if (rows.length === 0) return [];
  const folders: string[] = [];
  const folderIndex = new Map<string, number>();
  const groups = new Int32Array(rows.length);
  const picked = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => {
    const folder = relpaths.get(ids[row]!)!.split('/')[0]!;
    if (!folderIndex.has(folder)) folderIndex.set(folder, folders.push(folder) - 1);
    groups[i] = folderIndex.get(folder)!;
    picked.set(vectors.subarray(row * dim, (row + 1) * dim), i * dim);
  });
  const medoids = groupMedoids(picked, dim, groups, folders.length);
  return folders
    .map((folder, g) => {
      const id = ids[rows[medoids[g]!]!]!;
      return { folder, id, relpath: relpaths.get(id)! };
    })
    .sort((a, b) => a.folder.localeCompare(b.folder));
}

/**
 * The folder of the shell the demo was started from: `npm run demo` runs it in the package's
 * folder, and npm says where the user was in INIT_CWD.
 */
function shellDir(): string {
  return process.env.npm_lifecycle_event === 'demo' && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();
}

async function demoCommand(o: DemoCliOptions): Promise<void> {
  const images = demoImagesDir();
  if (!existsSync(images)) throw new NitamonoError('NOT_FOUND', `the demo images are missing (${images})`);
  const path = resolve(o.collection ?? join(tmpdir(), 'nitamono-demo'));
  const features: FeatureKind[] = o.deep === false ? ['color'] : ['color', 'deep'];
  const progress = progressFor(o.json);
  const say = (s: string) => {
    if (!o.json) process.stdout.write(`${s}\n`);
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
    for (const { folder, id, relpath } of await folderQueries(c)) {
      example ||= c.absolutePath(relpath);
      for (const kind of c.features) {
        const res = await c.search({ id }, { k: 5, features: kind, excludeSelf: true, method: 'exact' });
        const same = res.results.filter((h) => h.path.split('/')[0] === folder).length;
        searches.push({
          category: folder,
          query: relpath,
          features: kind,
          same_category: same,
          took_ms: res.took_ms,
          results: res.results.map((h) => ({ path: h.path, distance: h.distance })),
        });
        say(`── ${folder}: query ${relpath} · ${kind} features · ${same} of ${res.results.length} from the same folder · ${fmtMs(res.took_ms)}`);
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
  const dir = shellDir();
  const cli = cliCommand(dir);
  const colArg = `--collection ${shellWord(displayPath(path, dir))}`;
  say('');
  say('Distances are squared Euclidean distances between feature vectors (0 = identical features).');
  say('');
  say('Next:');
  say('  # search with any image file (exact search; add --nprobe 2 for the inverted file)');
  say(`  ${cli} search ${shellWord(displayPath(example, dir))} ${colArg}`);
  say('  # precision per folder, and IVF recall against exact search');
  say(`  ${cli} eval ${colArg}`);
  say('  # browse and search in a web page');
  say(`  ${cli} serve ${colArg}`);
  say('  # your own pictures (the collection goes to ./.nitamono), then search them');
  say(`  ${cli} index ~/Pictures`);
  say(`  ${cli} search ~/Pictures/some-photo.jpg`);
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('index the bundled demo images and run a few searches')
    .option('--collection <path>', 'where to keep the demo collection (default: <tmp>/nitamono-demo)')
    .option('--no-deep', 'colour features only (skips the MobileNetV2 features)')
    .option('--json', 'print the searches as JSON')
    .action(printing(demoCommand));
}
