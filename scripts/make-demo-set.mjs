#!/usr/bin/env node
// Builds demo/images from Debian's openclipart-png (public domain clip art, see demo/README.md):
// 8 visually coherent categories, one folder each, up to PER_CATEGORY images per folder picked
// evenly from the sorted file list (deterministic), downscaled to fit 256×256 (never enlarged) and
// written as palette PNGs (alpha kept). Also writes demo/SOURCES.txt (image → original file).
//
//   sudo apt-get install openclipart-png
//   node scripts/make-demo-set.mjs [--source /usr/share/openclipart/png] [--out demo/images]
//
// Only regular files are taken (the package's symlinks point into other categories).
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const SOURCE = opt('--source', '/usr/share/openclipart/png');
const OUT = opt('--out', join(here, '..', 'demo', 'images'));
const PER_CATEGORY = Number(opt('--per-category', '40'));
const MAX_SIDE = 256;

/** category → source folders (relative to SOURCE), not recursive. */
const CATEGORIES = {
  flags: ['signs_and_symbols/flags/africa', 'signs_and_symbols/flags/america', 'signs_and_symbols/flags/asia', 'signs_and_symbols/flags/europe'],
  roadsigns: ['transportation/roadsigns'],
  smilies: ['people/smilies'],
  stickmen: ['people/stickmen'],
  jigsaw: ['shapes/jigsaw'],
  leds: ['signs_and_symbols/led'],
  clocks: ['signs_and_symbols/clocks'],
  fruit: ['food/fruit'],
};

if (!existsSync(SOURCE)) {
  console.error(`${SOURCE} not found: install Debian's openclipart-png (apt-get install openclipart-png)`);
  process.exit(2);
}

function pick(list, n) {
  if (list.length <= n) return list;
  const out = [];
  for (let i = 0; i < n; i++) out.push(list[Math.floor((i * list.length) / n)]);
  return out;
}

rmSync(OUT, { recursive: true, force: true });
const sources = [];
let total = 0;
let bytes = 0;
for (const [cat, dirs] of Object.entries(CATEGORIES)) {
  const files = [];
  for (const d of dirs) {
    const abs = join(SOURCE, d);
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const st = lstatSync(p);
      if (st.isFile() && name.toLowerCase().endsWith('.png')) files.push(p);
    }
  }
  const chosen = pick(files, PER_CATEGORY);
  mkdirSync(join(OUT, cat), { recursive: true });
  let n = 0;
  for (const src of chosen) {
    const name = basename(src).replace(/[^A-Za-z0-9._-]/g, '_');
    const dst = join(OUT, cat, name);
    try {
      const buf = await sharp(src, { limitInputPixels: 500_000_000 })
        .resize(MAX_SIDE, MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
        .png({ palette: true, quality: 90, compressionLevel: 9, effort: 10 })
        .toBuffer();
      writeFileSync(dst, buf);
      bytes += buf.length;
      sources.push(`${cat}/${name}\t${src.slice(SOURCE.length + 1)}`);
      n++;
    } catch (err) {
      console.error(`skipped ${src}: ${err.message}`);
    }
  }
  total += n;
  console.log(`${cat.padEnd(10)} ${n} images (of ${files.length})`);
}
writeFileSync(join(OUT, '..', 'SOURCES.txt'), `# demo/images file\toriginal file under ${SOURCE} (Debian openclipart-png)\n${sources.join('\n')}\n`);
console.log(`${total} images, ${(bytes / 1024 / 1024).toFixed(2)} MB in ${OUT}`);
