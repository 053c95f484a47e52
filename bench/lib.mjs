/** What several bench scripts share: options, generated images, a `nitamono serve` child, percentiles. */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export const MAIN = join(fileURLToPath(new URL('..', import.meta.url)), 'dist/src/cli/main.js');

/** The value of `--name` on the command line, or `def`. */
export function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

/** The p-th percentile of an ascending array (nearest rank). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Raw RGB of a size×size image: four noisy quadrants around a random base colour. */
export function quadrantRgb(rand, size) {
  const base = [rand() * 255, rand() * 255, rand() * 255];
  const quads = Array.from({ length: 4 }, () => base.map((c) => c + (rand() - 0.5) * 140));
  const buf = Buffer.alloc(size * size * 3);
  const h = size >> 1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const q = quads[(y < h ? 0 : 2) + (x < h ? 0 : 1)];
      for (let c = 0; c < 3; c++) buf[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(q[c] + (rand() - 0.5) * 40)));
    }
  }
  return buf;
}

/** The PNG of quadrantRgb. */
export function quadrantPng(rand, size) {
  return sharp(quadrantRgb(rand, size), { raw: { width: size, height: size, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
}

/** `nitamono serve` on `collection` (port 0) as a child process; resolves with its URL once it listens. */
export function startServe(collection, extra = []) {
  const child = spawn(process.execPath, [MAIN, 'serve', '--collection', collection, '--port', '0', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /at (http:\/\/\S+?)\/?\n/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
}

/** The tests' event-loop probe (test/ticking.ts, built with them). */
export { whileTicking } from '../dist/test/ticking.js';

/** The bundled demo images, `<category>-<file stem>` and path each, in name order. */
export function demoImages() {
  const dir = fileURLToPath(new URL('../demo/images', import.meta.url));
  return readdirSync(dir)
    .sort()
    .flatMap((cat) =>
      readdirSync(join(dir, cat))
        .sort()
        .map((f) => ({ name: `${cat}-${f.replace(/\.[^.]+$/, '')}`, file: join(dir, cat, f) })),
    );
}
