/**
 * The published package: `npm pack` of the built project, installed by hand into a temp folder and
 * used the way a user would — `import … from 'nitamono'` and the `nitamono` command.
 *
 * No registry: the tarball is extracted into <tmp>/node_modules/nitamono and the repository's
 * installed runtime packages are symlinked beside it. Packages the lockfile marks dev-only are left
 * out, so a library module importing a devDependency fails here as it would for a user.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from './collection/helpers.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The repository's node_modules entries a user of the package would have installed. */
function runtimePackages(): string[] {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const devOnly = (name: string) => lock.packages[`node_modules/${name}`]?.dev === true;
  const nm = join(REPO, 'node_modules');
  const out: string[] = [];
  for (const entry of readdirSync(nm)) {
    if (entry.startsWith('.') || entry === 'nitamono') continue;
    if (entry.startsWith('@')) {
      for (const sub of readdirSync(join(nm, entry))) if (!devOnly(`${entry}/${sub}`)) out.push(`${entry}/${sub}`);
    } else if (!devOnly(entry)) {
      out.push(entry);
    }
  }
  return out;
}

/** Installs the tarball as <dir>/node_modules/nitamono with the runtime packages beside it. */
function installOffline(tarball: string, dir: string): string {
  const nm = join(dir, 'node_modules');
  const pkg = join(nm, 'nitamono');
  mkdirSync(pkg, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1']);
  for (const name of runtimePackages()) {
    const link = join(nm, name);
    if (name.includes('/')) mkdirSync(join(link, '..'), { recursive: true });
    symlinkSync(realpathSync(join(REPO, 'node_modules', name)), link, 'dir');
  }
  return pkg;
}

/** What a user's script does: a folder of PNGs, a collection, a search, the server, the engine. */
const USER_SCRIPT = `
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Collection, FlatIndex, colorHistogram, createServer, kernelsAvailable, medoid, progressFromCallback } from 'nitamono';

const root = process.argv[2];
const colours = { 'red/a.png': [255, 0, 0], 'red/b.png': [235, 15, 5], 'blue/c.png': [0, 0, 255], 'blue/d.png': [10, 20, 230] };
for (const [rel, [r, g, b]] of Object.entries(colours)) {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  await sharp({ create: { width: 32, height: 32, channels: 3, background: { r, g, b } } }).png().toFile(join(root, rel));
}

const phases = [];
const c = await Collection.open(join(root, '.nitamono'), { create: true, root, features: ['color'], threads: 1 });
const report = await c.update({ progress: progressFromCallback((e) => phases.push(e.phase)) });
const found = await c.search({ path: join(root, 'red/a.png') }, { k: 2 });
const app = createServer({ collection: c });
const page = await app.inject({ url: '/' });
await app.close();
await c.close();

const flat = new FlatIndex(3);
flat.add(new Float32Array([0, 0, 0, 1, 1, 1, 5, 5, 5]));
const nearest = flat.search(new Float32Array([0.9, 1, 1.1]), 1);

console.log(JSON.stringify({
  images: report.images,
  results: found.results.map((h) => h.path),
  phases: [...new Set(phases)],
  page: { status: page.statusCode, type: page.headers['content-type'], html: page.body.includes('<html') },
  histogram: [...colorHistogram(new Uint8Array([255, 0, 0]), 1, 1)],
  nearest: nearest.labels[0],
  medoid: medoid(new Float32Array([0, 10, 11, 12, 30]), 1),
  wasm: kernelsAvailable().wasm,
}));
`;

test('npm pack: the tarball holds what runs and nothing from the tests; import and the command work offline', async (t) => {
  const dir = await tempDir('nitamono-pack-');
  t.after(() => removeDir(dir));
  const env = { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: REPO, env, encoding: 'utf8' }));
  const files: string[] = packed[0].files.map((f: { path: string }) => f.path);

  for (const needed of [
    'package.json',
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/cli/main.js',
    'dist/src/image/extract-worker.js',
    'dist/src/search/worker.js',
    'build/kernels.wasm',
    'src/server/web/index.html',
    'src/server/web/app.js',
    'demo/LICENSE',
  ]) {
    assert.ok(files.includes(needed), `${needed} is in the tarball`);
  }
  assert.ok(files.filter((f) => f.startsWith('demo/images/')).length >= 300, 'the demo images');
  assert.deepEqual(
    files.filter((f) => /^(dist\/)?test\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.endsWith('.map')),
    [],
    'no tests, TypeScript sources or source maps',
  );

  const pkg = installOffline(join(dir, packed[0].filename), dir);
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  for (const target of [manifest.exports['.'].types, manifest.exports['.'].default, manifest.types, manifest.bin.nitamono]) {
    assert.ok(existsSync(join(pkg, target)), `${target} exists in the installed package`);
  }

  writeFileSync(join(dir, 'use.mjs'), USER_SCRIPT);
  const images = join(dir, 'images');
  const out = JSON.parse(execFileSync(process.execPath, [join(dir, 'use.mjs'), images], { cwd: dir, encoding: 'utf8' }));
  assert.equal(out.images, 4);
  assert.deepEqual(new Set(out.results), new Set(['red/a.png', 'red/b.png']));
  assert.deepEqual(out.phases, ['start', 'update', 'end']);
  assert.deepEqual(out.page, { status: 200, type: 'text/html; charset=utf-8', html: true });
  assert.deepEqual(out.histogram, [0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0], 'one red pixel: R in the top bin, G and B in the bottom one');
  assert.equal(out.nearest, 1);
  assert.equal(out.medoid, 3);
  assert.equal(out.wasm, true, 'build/kernels.wasm is found from the installed package');

  const cli = join(pkg, manifest.bin.nitamono);
  const env2 = { ...process.env, NITAMONO_NO_PROGRESS: '1' };
  assert.equal(execFileSync(process.execPath, [cli, '--version'], { encoding: 'utf8' }).trim(), manifest.version);
  const info = JSON.parse(execFileSync(process.execPath, [cli, 'info', '--collection', join(images, '.nitamono'), '--json'], { env: env2, encoding: 'utf8' }));
  assert.equal(info.images, 4);
});
