#!/usr/bin/env node
/**
 * End-to-end indexing benchmark: `nitamono index` over N generated photo-like JPEGs, timed as a
 * child process from spawn to exit, then an incremental re-run with nothing changed.
 * Target: 10,000 images with colour features in under a minute on a 2-core machine.
 *
 *   npx tsc -p . && node bench/index-bench.mjs [--n 10000] [--features color] [--features deep]
 *        [--width 1000 --height 800] [--quality 85] [--jobs J] [--threads T] [--keep DIR]
 *        [--json FILE]
 *
 * --features   color, deep or both (as for `nitamono index`); repeat the option for several
 *              rows, each indexed into its own fresh collection.
 * --jobs       JPEG encodes in parallel while generating (default: the number of cores).
 * --threads    passed to `nitamono index --threads` (default: the command's own, all cores).
 * --keep DIR   build the collection in DIR (must be absent or empty; DIR/<features> when there
 *              are several --features) and keep it; otherwise a temporary one is deleted.
 * --json FILE  also write the machine description and results as JSON.
 *
 * Images: realistic-size JPEGs (quality 85, about 100 KB at 1000×800): a smooth random colour
 * field (a few random colours upscaled bicubically), 3–14 random translucent shapes (circles,
 * rotated rectangles, polygons, lines) and film-grain noise of varying strength, so they are
 * neither trivially compressible nor alike. Image i is the same on every run (seeded). They are
 * cached in bench/out/index-images-<w>x<h>/ (a manifest records how many are complete; a bigger
 * --n only generates the missing ones) and the first N are hard-linked into
 * bench/out/index-images-<w>x<h>-n<N>/ (in folders of 1,000) — the folder that is indexed,
 * removed again at the end unless --keep (the cache stays).
 *
 * What is measured: wall time from spawning `node dist/src/cli/main.js index <dir> --collection
 * <c> --features <f> --json` to its exit (process start, model loading, decoding, features,
 * SQLite, index build and save), the command's own took_ms, and the CPU time and peak memory of
 * the child (read from process.resourceUsage() in an exit hook loaded with --import: CPU time is
 * independent of other load on the machine, and cores ÷ (CPU s per image) bounds the throughput
 * on an idle machine). Before timing, every image is read once so the files are in the page
 * cache: this measures indexing, not the disk; a cold-cache run is not measured.
 * The run fails (exit 1, collection kept) unless the first run indexes all N images with none
 * skipped and the re-run finds all N unchanged.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { copyFile, link, mkdir, mkdtemp, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng } from 'nitamono';
import sharp from 'sharp';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist/src/cli/main.js');
const OUT = join(ROOT, 'bench/out');
/** Bump when the generator changes: cached images made by another version are regenerated. */
const GENERATOR_VERSION = 1;
const PER_FOLDER = 1000;

// ------------------------------------------------------------------ options

const argv = process.argv.slice(2);
const KNOWN = new Set(['n', 'features', 'width', 'height', 'quality', 'jobs', 'threads', 'keep', 'json']);
const opts = new Map();
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--help' || a === '-h') {
    const src = await readFile(fileURLToPath(import.meta.url), 'utf8');
    process.stdout.write(`${src.slice(src.indexOf('/**') + 4, src.indexOf('*/')).replace(/^ \* ?/gm, '')}\n`);
    process.exit(0);
  }
  const m = /^--([a-z]+)(?:=(.*))?$/.exec(a);
  if (!m || !KNOWN.has(m[1])) usage(`unknown argument '${a}'`);
  const v = m[2] ?? argv[++i];
  if (v === undefined) usage(`--${m[1]} needs a value`);
  opts.set(m[1], [...(opts.get(m[1]) ?? []), v]);
}
function usage(msg) {
  console.error(
    `index-bench: ${msg}\nusage: node bench/index-bench.mjs [--n 10000] [--features color|deep|both]… [--width 1000 --height 800] [--quality 85] [--jobs J] [--threads T] [--keep DIR] [--json FILE]`,
  );
  process.exit(2);
}
const last = (name) => opts.get(name)?.at(-1);
function intOpt(name, def, min = 1) {
  const v = last(name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer ≥ ${min}, got '${v}'`);
  return n;
}
const N = intOpt('n', 10000);
const W = intOpt('width', 1000, 16);
const H = intOpt('height', 800, 16);
const QUALITY = intOpt('quality', 85);
const JOBS = intOpt('jobs', availableParallelism());
const THREADS = last('threads') === undefined ? undefined : intOpt('threads', 1);
const KEEP = last('keep');
const JSON_OUT = last('json');
const FEATURES = (opts.get('features') ?? ['color']).map((f) => {
  const v = f.trim().toLowerCase();
  if (!['color', 'colour', 'deep', 'both'].includes(v)) usage(`--features must be color, deep or both, got '${f}'`);
  return v === 'colour' ? 'color' : v;
});
if (QUALITY > 100) usage('--quality must be ≤ 100');

if (KEEP !== undefined) {
  const k = resolve(KEEP);
  if (existsSync(k) && readdirSync(k).length > 0) usage(`--keep ${KEEP}: the folder must be absent or empty`);
}
if (!existsSync(MAIN)) {
  console.error(`index-bench: ${MAIN} is missing: build first (npx tsc -p .)`);
  process.exit(1);
}

// ------------------------------------------------------------------ image generation

const NOISE_SLACK = 8192;
let noiseTables;
/** Four tables of approximately Gaussian grain (centred on 0) of increasing strength, made once. */
function grain() {
  if (noiseTables) return noiseTables;
  const r = rng(0x5eed);
  noiseTables = [3, 4, 6, 8].map((sigma) => {
    const t = new Int8Array(W * H * 3 + NOISE_SLACK);
    for (let k = 0; k < t.length; k++) {
      const g = (r() + r() + r() - 1.5) * 2; // sum of three uniforms: mean 0, sd 1
      t[k] = Math.max(-127, Math.min(127, Math.round(g * sigma)));
    }
    return t;
  });
  return noiseTables;
}

const hex = (r) =>
  `#${[0, 0, 0]
    .map(() =>
      Math.floor(r() * 256)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
const int = (x) => Math.round(x);

/** Image i: smooth colour field + translucent shapes + grain, as a JPEG buffer. */
async function makeJpeg(i) {
  const r = rng(0x1a2b3c + i * 7919);
  // Smooth colour field: a 2–7 × 2–6 grid of random colours, upscaled bicubically.
  const sw = 2 + Math.floor(r() * 6);
  const sh = 2 + Math.floor(r() * 5);
  const field = Buffer.alloc(sw * sh * 3);
  for (let k = 0; k < field.length; k++) field[k] = Math.floor(r() * 256);
  // Shapes (SVG, rendered by librsvg inside sharp). Sizes scale with the image.
  const s = Math.min(W, H) / 800;
  let shapes = '';
  const count = 3 + Math.floor(r() * 12);
  for (let k = 0; k < count; k++) {
    const t = r();
    const x = r() * W;
    const y = r() * H;
    const fill = hex(r);
    const op = (0.4 + r() * 0.6).toFixed(2);
    if (t < 0.35) {
      shapes += `<circle cx="${int(x)}" cy="${int(y)}" r="${int((10 + r() * 200) * s)}" fill="${fill}" fill-opacity="${op}"/>`;
    } else if (t < 0.65) {
      shapes += `<rect x="${int(x)}" y="${int(y)}" width="${int((20 + r() * 400) * s)}" height="${int((20 + r() * 300) * s)}" fill="${fill}" fill-opacity="${op}" transform="rotate(${int(r() * 90 - 45)} ${int(x)} ${int(y)})"/>`;
    } else if (t < 0.85) {
      const pts = [];
      for (let q = 3 + Math.floor(r() * 4); q > 0; q--) pts.push(`${int(x + (r() - 0.5) * 400 * s)},${int(y + (r() - 0.5) * 400 * s)}`);
      shapes += `<polygon points="${pts.join(' ')}" fill="${fill}" fill-opacity="${op}"/>`;
    } else {
      shapes += `<line x1="${int(x)}" y1="${int(y)}" x2="${int(r() * W)}" y2="${int(r() * H)}" stroke="${fill}" stroke-width="${int(1 + r() * 12 * s)}" stroke-opacity="${op}"/>`;
    }
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${shapes}</svg>`;
  const px = await sharp(field, { raw: { width: sw, height: sh, channels: 3 } })
    .resize(W, H, { kernel: 'cubic' })
    .composite([{ input: Buffer.from(svg) }])
    .removeAlpha()
    .raw()
    .toBuffer();
  // Grain: one of four strengths, from a random offset in the table.
  const tables = grain();
  const noise = tables[Math.floor(r() * tables.length)];
  const off = Math.floor(r() * NOISE_SLACK);
  for (let k = 0; k < px.length; k++) {
    const v = px[k] + noise[off + k];
    px[k] = v < 0 ? 0 : Math.min(v, 255);
  }
  return sharp(px, { raw: { width: W, height: H, channels: 3 } })
    .jpeg({ quality: QUALITY })
    .toBuffer();
}

const cacheDir = join(OUT, `index-images-${W}x${H}`);
const manifestPath = join(cacheDir, 'manifest.json');
const cacheName = (i) => `${String(i).padStart(6, '0')}.jpg`;
const manifestKey = { generator: GENERATOR_VERSION, width: W, height: H, quality: QUALITY };

async function readManifest() {
  try {
    const m = JSON.parse(await readFile(manifestPath, 'utf8'));
    for (const [k, v] of Object.entries(manifestKey)) if (m[k] !== v) return { count: 0, stale: true };
    return { count: Number.isInteger(m.count) && m.count > 0 ? m.count : 0, stale: false };
  } catch {
    return { count: 0, stale: existsSync(cacheDir) };
  }
}

async function writeManifest(count) {
  const tmp = `${manifestPath}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ ...manifestKey, count, updated: new Date().toISOString() }, null, 2)}\n`);
  await rename(tmp, manifestPath);
}

/** Makes sure images 0..n-1 are in the cache; returns { generated, seconds }. */
async function ensureImages(n) {
  const m = await readManifest();
  if (m.stale) {
    console.error(`index-bench: ${cacheDir} was made with other settings or another generator: regenerating`);
    await rm(cacheDir, { recursive: true, force: true });
  }
  await mkdir(cacheDir, { recursive: true });
  let have = m.stale ? 0 : m.count;
  // Trust the manifest, but check the files it vouches for that this run uses.
  for (let i = 0; i < Math.min(have, n); i++) {
    let ok = false;
    try {
      ok = statSync(join(cacheDir, cacheName(i))).size > 0;
    } catch {}
    if (!ok) {
      console.error(`index-bench: cached image ${cacheName(i)} is missing: regenerating from there`);
      have = i;
      break;
    }
  }
  if (have >= n) return { generated: 0, seconds: 0 };
  const todo = n - have;
  console.error(`index-bench: generating ${todo.toLocaleString('en-US')} ${W}×${H} JPEGs into ${rel(cacheDir)} (${JOBS} in parallel; once, then cached)`);
  const t0 = performance.now();
  const done = new Uint8Array(n);
  let next = have;
  let prefix = have; // images 0..prefix-1 are all written
  let saving = Promise.resolve();
  let lastReport = t0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const dest = join(cacheDir, cacheName(i));
      const tmp = `${dest}.${process.pid}.tmp`;
      await writeFile(tmp, await makeJpeg(i));
      await rename(tmp, dest);
      done[i] = 1;
      const before = prefix;
      while (prefix < n && done[prefix]) prefix++;
      if (Math.floor(prefix / 250) > Math.floor(before / 250)) {
        const count = prefix;
        saving = saving.then(() => writeManifest(count));
      }
      const now = performance.now();
      if (now - lastReport > 10_000) {
        lastReport = now;
        const made = prefix - have;
        const rate = made / ((now - t0) / 1000);
        console.error(
          `  ${prefix.toLocaleString('en-US')} / ${n.toLocaleString('en-US')} (${rate.toFixed(1)} images/s, ~${Math.ceil((n - prefix) / rate)} s left)`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(JOBS, todo) }, worker));
  await saving;
  await writeManifest(n);
  return { generated: todo, seconds: (performance.now() - t0) / 1000 };
}

/** bench/out/index-images-<w>x<h>-n<N>/dNN/: hard links to the first n cached images, nothing else. */
async function prepareInputDir(n) {
  const dir = join(OUT, `index-images-${W}x${H}-n${n}`);
  const want = new Map();
  for (let i = 0; i < n; i++) want.set(join(dir, `d${String(Math.floor(i / PER_FOLDER)).padStart(2, '0')}`, cacheName(i)), join(cacheDir, cacheName(i)));
  // Remove whatever does not belong (left over from another generator or a crash).
  if (existsSync(dir)) {
    for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
      const p = join(e.parentPath ?? e.path, e.name);
      if (!e.isDirectory() && !want.has(p)) await rm(p, { force: true });
    }
  }
  let copied = 0;
  for (const [p, src] of want) {
    const s = statSync(src);
    let cur;
    try {
      cur = lstatSync(p);
    } catch {}
    if (cur && cur.ino === s.ino && cur.dev === s.dev) continue;
    if (cur?.isFile() && !cur.isSymbolicLink() && cur.size === s.size && cur.nlink === 1) continue; // a copy
    if (cur) await unlink(p);
    await mkdir(join(p, '..'), { recursive: true });
    try {
      await link(src, p);
    } catch {
      await copyFile(src, p);
      copied++;
    }
  }
  if (copied) console.error(`index-bench: hard links not possible here, copied ${copied} files`);
  return dir;
}

/** Reads every input file once so the timed runs find them in the page cache. */
async function warmPageCache(paths) {
  let bytes = 0;
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const b = await readFile(paths[next++]);
      bytes += b.length;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return bytes;
}

// ------------------------------------------------------------------ timing

/** The child's CPU time and peak memory, written to fd 3 when it exits. */
const EXIT_HOOK =
  'data:text/javascript,' +
  encodeURIComponent("import{writeSync}from'node:fs';process.on('exit',()=>{try{writeSync(3,JSON.stringify(process.resourceUsage()))}catch{}});");

function runIndex(dir, collection, features) {
  const args = ['--import', EXIT_HOOK, MAIN, 'index', dir, '--collection', collection, '--features', features, '--json'];
  if (THREADS !== undefined) args.push('--threads', String(THREADS));
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
      env: { ...process.env, NITAMONO_NO_PROGRESS: '1' },
    });
    let exitMs;
    let exit;
    let stdout = '';
    let usage = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stdio[3].setEncoding('utf8').on('data', (d) => (usage += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      exitMs = performance.now() - t0;
      exit = { code, signal };
    });
    child.on('close', () => {
      let json;
      try {
        json = JSON.parse(stdout);
      } catch {}
      let ru;
      try {
        ru = JSON.parse(usage);
      } catch {}
      resolvePromise({
        wall_s: exitMs / 1000,
        exit_code: exit.code,
        signal: exit.signal,
        json,
        stdout,
        cpu_s: ru ? (ru.userCPUTime + ru.systemCPUTime) / 1e6 : undefined,
        max_rss_mib: ru ? ru.maxRSS / 1024 : undefined,
        command: `node ${[MAIN, 'index', dir, '--collection', collection, '--features', features, '--json', ...(THREADS !== undefined ? ['--threads', String(THREADS)] : [])].map(rel).join(' ')}`,
      });
    });
  });
}

function dirBytes(dir) {
  let bytes = 0;
  let files = 0;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      bytes += statSync(join(e.parentPath ?? e.path, e.name)).size;
      files++;
    }
  }
  return { bytes, files };
}

function rel(p) {
  const r = p.startsWith(ROOT) ? p.slice(ROOT.length) : p;
  return r || '.';
}

// ------------------------------------------------------------------ main

const fmtInt = (n) => n.toLocaleString('en-US');
const fmtS = (s) => (s === undefined ? '–' : s < 10 ? s.toFixed(2) : s.toFixed(1));
let commit = 'unknown';
try {
  commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no', '--', 'src'], { encoding: 'utf8' }).trim();
  if (dirty) commit += ' (src has uncommitted changes)';
} catch {}
const machine = {
  cpu: cpus()[0]?.model?.trim() ?? 'unknown',
  cores: availableParallelism(),
  memory_gib: +(totalmem() / 1024 ** 3).toFixed(1),
  node: process.version,
  os: `${process.platform} ${release()}`,
  date: new Date().toISOString(),
  commit,
  load_at_start: loadavg().map((x) => +x.toFixed(2)),
};

console.log(`# nitamono index benchmark`);
console.log('');
console.log(`- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory_gib} GiB RAM, ${machine.os}`);
console.log(`- Node ${machine.node}, nitamono ${machine.commit}`);
console.log(`- date: ${machine.date}; load average at start ${machine.load_at_start.join(' / ')} (1 / 5 / 15 min)`);

const gen = await ensureImages(N);
const inputDir = await prepareInputDir(N);
const inputFiles = [...Array(N).keys()].map((i) => join(cacheDir, cacheName(i)));
const inputBytes = await warmPageCache(inputFiles);
console.log(
  `- input: ${fmtInt(N)} JPEGs ${W}×${H}, quality ${QUALITY}, mean ${(inputBytes / N / 1024).toFixed(0)} KiB, ${(inputBytes / 1024 ** 2).toFixed(0)} MiB in ${rel(inputDir)}` +
    (gen.generated ? ` (${fmtInt(gen.generated)} generated in ${gen.seconds.toFixed(0)} s)` : ' (cached)') +
    '; page cache warm',
);
console.log(
  `- timed: wall clock from spawn to exit of \`node dist/src/cli/main.js index <dir> --collection <new> --features <f> --json${THREADS ? ` --threads ${THREADS}` : ''}\`; took = the command's own took_ms`,
);
console.log('');

const tmpParent = KEEP === undefined ? await mkdtemp(join(tmpdir(), 'nitamono-index-bench-')) : resolve(KEEP);
const results = [];
const problems = [];
for (const [fi, features] of FEATURES.entries()) {
  const collection = FEATURES.length > 1 ? join(tmpParent, `${fi}-${features}`) : KEEP === undefined ? join(tmpParent, 'collection') : tmpParent;
  console.error(`index-bench: indexing ${fmtInt(N)} images, ${features} features …`);
  const first = await runIndex(inputDir, collection, features);
  const bad = [];
  const j = first.json;
  if (first.exit_code !== 0 || !j) bad.push(`exit code ${first.exit_code ?? first.signal}${j ? '' : ', no JSON on stdout'}`);
  if (j && (j.indexed !== N || j.images !== N || j.skipped?.length || j.interrupted)) {
    bad.push(`indexed ${j.indexed} of ${N}, searchable ${j.images}, skipped ${j.skipped?.length ?? '?'}${j.interrupted ? ', interrupted' : ''}`);
    for (const s of (j.skipped ?? []).slice(0, 5)) bad.push(`  skipped ${s.path}: ${s.code} ${s.reason}`);
  }
  let again;
  if (bad.length === 0) {
    console.error(`index-bench: re-running with nothing changed …`);
    again = await runIndex(inputDir, collection, features);
    const k = again.json;
    if (again.exit_code !== 0 || !k) bad.push(`re-run: exit code ${again.exit_code ?? again.signal}${k ? '' : ', no JSON on stdout'}`);
    else if (k.indexed !== 0 || k.unchanged !== N || k.removed !== 0 || k.images !== N) {
      bad.push(`re-run: expected all ${N} unchanged, got indexed ${k.indexed}, unchanged ${k.unchanged}, removed ${k.removed}, searchable ${k.images}`);
    }
  }
  const disk = existsSync(collection) ? dirBytes(collection) : { bytes: 0, files: 0 };
  const row = {
    features,
    images: N,
    wall_s: first.wall_s,
    took_s: j?.took_ms !== undefined ? j.took_ms / 1000 : undefined,
    images_per_s: N / first.wall_s,
    cpu_s: first.cpu_s,
    cpu_ms_per_image: first.cpu_s !== undefined ? (first.cpu_s * 1000) / N : undefined,
    max_rss_mib: first.max_rss_mib,
    rerun_wall_s: again?.wall_s,
    rerun_took_s: again?.json?.took_ms !== undefined ? again.json.took_ms / 1000 : undefined,
    collection_bytes: disk.bytes,
    collection_files: disk.files,
    index: j?.index,
    command: first.command,
  };
  row.failed = bad.length > 0;
  results.push(row);
  if (bad.length) {
    problems.push({ features, collection, bad, stdout: first.stdout });
    console.error(`index-bench: FAILED (${features}): ${bad.join('\n  ')}`);
  }
}

console.log('| features | images | wall s | took s | images/s | CPU s | CPU ms/image | peak RSS MiB | re-run wall s | re-run took s | collection bytes |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(
    `| ${r.features}${r.failed ? ' (FAILED)' : ''} | ${fmtInt(r.images)} | ${fmtS(r.wall_s)} | ${fmtS(r.took_s)} | ${r.images_per_s.toFixed(1)} | ${fmtS(r.cpu_s)} | ${r.cpu_ms_per_image?.toFixed(2) ?? '–'} | ${r.max_rss_mib?.toFixed(0) ?? '–'} | ${fmtS(r.rerun_wall_s)} | ${fmtS(r.rerun_took_s)} | ${fmtInt(r.collection_bytes)} (${(r.collection_bytes / 1024 ** 2).toFixed(1)} MiB) |`,
  );
}
console.log('');
for (const r of results) {
  const idx = r.index
    ? Object.entries(r.index)
        .map(([k, v]) => `${k} ${v.kind}${v.nlist ? ` nlist=${v.nlist}` : ''}`)
        .join(', ')
    : '?';
  const bound = r.cpu_ms_per_image
    ? ` idle-machine bound ≈ ${((machine.cores * 1000) / r.cpu_ms_per_image).toFixed(0)} images/s (cores ÷ CPU per image, if the run kept all cores busy).`
    : '';
  console.log(`- ${r.features}: index ${idx}.${bound}`);
  if (r.features === 'color' && !r.failed) {
    // Below 10,000: fixed costs (start-up, model, folder walk ≈ the re-run's wall time) plus the
    // rest scaled linearly. Only a rough guide: run --n 10000 to measure it.
    const fixed = r.rerun_wall_s !== undefined ? Math.min(r.rerun_wall_s, r.wall_s) : 0;
    const at10k = N === 10000 ? r.wall_s : fixed + ((r.wall_s - fixed) * 10000) / N;
    const verdict = at10k < 60 ? 'MET' : 'NOT MET';
    if (N < 1000) {
      console.log(`- target (10,000 images, colour, < 60 s): not judged from ${fmtInt(N)} images (fixed costs dominate); run --n 10000`);
      continue;
    }
    console.log(
      `- target (10,000 images, colour, < 60 s): ${N === 10000 ? `${verdict} — ${fmtS(r.wall_s)} s measured` : `${verdict} by extrapolation only — ≈ ${fmtS(at10k)} s (${fmtS(fixed)} s fixed + the rest × 10,000/${fmtInt(N)}); run --n 10000 to measure it`}`,
    );
  }
}

if (JSON_OUT) {
  await writeFile(
    resolve(JSON_OUT),
    `${JSON.stringify({ machine, input: { n: N, width: W, height: H, quality: QUALITY, bytes: inputBytes, dir: inputDir }, results, problems }, null, 2)}\n`,
  );
  console.log(`- results written to ${JSON_OUT}`);
}

if (problems.length) {
  console.error(`\nindex-bench: FAILED — not every image was indexed as expected:`);
  for (const p of problems) {
    console.error(`  ${p.features}: ${p.bad.join('\n    ')}`);
    console.error(`    collection kept for inspection: ${p.collection}`);
  }
  console.error(`  (if a cached image is damaged, delete ${rel(cacheDir)} to regenerate the images)`);
  process.exit(1);
}
if (KEEP === undefined) {
  await rm(tmpParent, { recursive: true, force: true });
  await rm(inputDir, { recursive: true, force: true }); // hard links only; the cache stays
} else {
  console.log(`- collection${results.length > 1 ? 's' : ''} kept in ${tmpParent} (images: ${rel(inputDir)}, hard links into the cache)`);
}
