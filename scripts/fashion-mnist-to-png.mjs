#!/usr/bin/env node
// Materialises Fashion-MNIST (Debian package dataset-fashion-mnist, installed under
// /usr/share/datasets/fashion-mnist/) as a labelled image folder:
//
//   OUT/<class-name>/<index>.png      28×28 8-bit greyscale PNGs
//
// where <index> is the image's index in the chosen split (zero-padded to 5 digits), and the class
// names are T-shirt_top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle_boot.
//
// Usage:
//   node scripts/fashion-mnist-to-png.mjs --out DIR [--split train|test] [--limit N] [--total N]
//                                          [--src DIR]
//
//   --split  train (60000 images) or test (10000, the default)
//   --limit  at most N images PER CLASS (the first N of each class in file order), so
//            --limit 100 gives a balanced 1000-image set
//   --total  at most N images IN TOTAL (the first N in file order; classes then are not balanced)
//   --src    folder with the *-idx3-ubyte.gz / *-idx1-ubyte.gz files
//            (default /usr/share/datasets/fashion-mnist, or $FASHION_MNIST_DIR)
//
// If the package is missing: apt-get install dataset-fashion-mnist
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';

export const CLASS_NAMES = ['T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle_boot'];

function parseArgs(argv) {
  const o = { split: 'test', limit: Infinity, total: Infinity, src: process.env.FASHION_MNIST_DIR || '/usr/share/datasets/fashion-mnist' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--out') o.out = v();
    else if (a === '--split') o.split = v();
    else if (a === '--limit') o.limit = Number(v());
    else if (a === '--total') o.total = Number(v());
    else if (a === '--src') o.src = v();
    else if (a === '-h' || a === '--help') o.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/** Reads an IDX file (gzipped): returns { dims, data } with data as a Uint8Array view. */
export function readIdx(path) {
  const buf = gunzipSync(readFileSync(path));
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08) throw new Error(`${path}: not an unsigned-byte IDX file`);
  const nd = buf[3];
  const dims = [];
  for (let k = 0; k < nd; k++) dims.push(buf.readUInt32BE(4 + 4 * k));
  const off = 4 + 4 * nd;
  const size = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== off + size) throw new Error(`${path}: expected ${off + size} bytes, got ${buf.length}`);
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + off, size) };
}

/** Loads a split: { images: Uint8Array (n×28×28), labels: Uint8Array, n, rows, cols }. */
export function loadFashionMnist(src, split) {
  const prefix = split === 'train' ? 'train' : 't10k';
  const imgPath = join(src, `${prefix}-images-idx3-ubyte.gz`);
  const lblPath = join(src, `${prefix}-labels-idx1-ubyte.gz`);
  for (const p of [imgPath, lblPath]) {
    if (!existsSync(p)) throw new Error(`${p} not found (apt-get install dataset-fashion-mnist, or pass --src)`);
  }
  const img = readIdx(imgPath);
  const lbl = readIdx(lblPath);
  if (img.dims.length !== 3 || lbl.dims.length !== 1 || img.dims[0] !== lbl.dims[0]) throw new Error('image/label files do not match');
  return { images: img.data, labels: lbl.data, n: img.dims[0], rows: img.dims[1], cols: img.dims[2] };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.help || !o.out) {
    console.log('usage: node scripts/fashion-mnist-to-png.mjs --out DIR [--split train|test] [--limit N per class] [--total N] [--src DIR]');
    process.exit(o.help ? 0 : 2);
  }
  if (o.split !== 'train' && o.split !== 'test') throw new Error(`--split must be train or test, got ${o.split}`);
  for (const k of ['limit', 'total']) {
    if (!(o[k] === Infinity || (Number.isInteger(o[k]) && o[k] > 0))) throw new Error(`--${k} must be a positive integer`);
  }
  const ds = loadFashionMnist(o.src, o.split);
  for (const name of CLASS_NAMES) mkdirSync(join(o.out, name), { recursive: true });
  const perClass = new Array(CLASS_NAMES.length).fill(0);
  const px = ds.rows * ds.cols;
  const digits = Math.max(5, String(ds.n - 1).length);
  let written = 0;
  const pending = [];
  for (let i = 0; i < ds.n && written < o.total; i++) {
    const c = ds.labels[i];
    if (c >= CLASS_NAMES.length) throw new Error(`label ${c} at ${i} out of range`);
    if (perClass[c] >= o.limit) continue;
    perClass[c]++;
    written++;
    const file = join(o.out, CLASS_NAMES[c], `${String(i).padStart(digits, '0')}.png`);
    const pixels = Buffer.from(ds.images.subarray(i * px, (i + 1) * px));
    pending.push(
      sharp(pixels, { raw: { width: ds.cols, height: ds.rows, channels: 1 } })
        .png()
        .toFile(file),
    );
    if (pending.length >= 64) await Promise.all(pending.splice(0));
    if (perClass.every((k) => k >= o.limit)) break;
  }
  await Promise.all(pending);
  console.log(`wrote ${written} PNGs (${ds.cols}×${ds.rows}) from the ${o.split} split to ${o.out}`);
  console.log(CLASS_NAMES.map((n, c) => `  ${n}: ${perClass[c]}`).join('\n'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    console.error(`fashion-mnist-to-png: ${err.message}`);
    process.exit(1);
  });
}
