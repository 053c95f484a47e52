#!/usr/bin/env node
// Builds the optional native kernel (native/*.cc) into build/nitamono-native.node with the
// system's C++ compiler and Node's own headers: run by `npm ci` (the install script) and by
// `npm run build`. It never fails the install: when no compiler or header is found, or the
// compiled addon does not load, it says so in one line and the WASM kernels are used instead.
// Each instruction set is its own file with its own flags (never -march=native: the addon
// picks AVX-512F, AVX2+FMA or the portable build on the CPU it runs on).
//   NITAMONO_BUILD_NATIVE=0 skips the build; CXX names the compiler; --force rebuilds.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { arch, homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'native');
const out = join(root, 'build', 'nitamono-native.node');
const say = (msg) => console.log(`native kernel: ${msg}`);
const x86 = arch() === 'x64' || arch() === 'ia32';

/** The translation units and their extra flags: one per instruction set, plus the N-API glue. */
const UNITS = [
  ['addon.cc', []],
  ['isa-scalar.cc', []],
  ['rows.cc', []],
  ['refine.cc', []],
  ['huge-pages.cc', []],
  ...(x86
    ? [
        ['isa-avx2.cc', ['-mavx2', '-mfma']],
        ['isa-avx512.cc', ['-mavx512f', '-mavx2', '-mfma']],
      ]
    : []),
];

function headerDir() {
  const version = process.versions.node;
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(dirname(process.execPath)), 'include', 'node'),
    process.config.variables.node_prefix && join(process.config.variables.node_prefix, 'include', 'node'),
    join(homedir(), '.cache', 'node-gyp', version, 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return candidates.find((d) => d && existsSync(join(d, 'node_api.h')));
}

function compiler() {
  for (const cxx of [process.env.CXX, 'c++', 'g++', 'clang++']) {
    if (!cxx) continue;
    try {
      execFileSync(cxx, ['--version'], { stdio: 'ignore' });
      return cxx;
    } catch {}
  }
  return undefined;
}

function upToDate() {
  if (!existsSync(out)) return false;
  const built = statSync(out).mtimeMs;
  const inputs = [fileURLToPath(import.meta.url), ...readdirSync(src).map((f) => join(src, f))];
  return inputs.every((f) => statSync(f).mtimeMs <= built);
}

async function build() {
  if (process.env.NITAMONO_BUILD_NATIVE === '0') return say('skipped (NITAMONO_BUILD_NATIVE=0); the WASM kernels will be used');
  if (process.platform === 'win32') return say('not built on Windows; the WASM kernels will be used');
  if (!process.argv.includes('--force') && upToDate()) return say(`up to date (${out})`);
  const include = headerDir();
  if (!include) return say("not built: Node's headers (node_api.h) were not found; the WASM kernels will be used");
  const cxx = compiler();
  if (!cxx) return say('not built: no C++ compiler (c++, g++, clang++ or $CXX); the WASM kernels will be used');
  const tmp = mkdtempSync(join(tmpdir(), 'nitamono-native-'));
  try {
    // -ffp-contract=off: the kernel fuses multiply-adds where it asks to, nowhere else, so every build rounds as written
    const common = ['-O3', '-fPIC', '-std=c++17', '-fno-exceptions', '-fno-rtti', '-fvisibility=hidden', '-ffp-contract=off', '-I', include];
    const run = promisify(execFile);
    const objects = await Promise.all(
      UNITS.map(async ([file, flags]) => {
        const obj = join(tmp, file.replace(/\.cc$/, '.o'));
        await run(cxx, [...common, ...flags, '-c', join(src, file), '-o', obj]);
        return obj;
      }),
    );
    const linked = join(tmp, 'nitamono-native.node');
    await run(cxx, ['-shared', '-o', linked, ...objects]);
    // load it in a fresh process before it replaces anything: a broken addon must not be picked up
    const isa = execFileSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(linked)}).isa())`], { encoding: 'utf8' });
    mkdirSync(dirname(out), { recursive: true });
    // copied next to it, then renamed: the temp folder may be on another file system
    copyFileSync(linked, `${out}.tmp`);
    renameSync(`${out}.tmp`, out);
    say(`built ${out} with ${cxx} (this CPU: ${isa})`);
  } catch (e) {
    rmSync(out, { force: true });
    const detail = (e.stderr || e.message || String(e)).toString().trim().split('\n').slice(0, 3).join(' | ');
    say(`not built (${detail}); the WASM kernels will be used`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await build().catch((e) => say(`not built (${e?.message ?? e}); the WASM kernels will be used`));
