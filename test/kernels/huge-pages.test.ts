// Arenas advised onto 2 MiB pages (src/kernels/huge-pages.ts, native/huge-pages.cc): the range
// advised, the switch that turns it off, the mark Linux keeps on the mapping, and an arena that
// grows into advised pages keeping what is written to it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Arena } from '../../src/kernels/arena.js';
import { adviseHugePages, SMALL_PAGES_HEAD } from '../../src/kernels/huge-pages.js';
import { nativeKernelInfo } from '../../src/kernels/index.js';

const MIB = 1 << 20;

/** Mappings of this process that carry the huge-page advice ("hg" in smaps' VmFlags). */
function advisedMappings(): number {
  return readFileSync('/proc/self/smaps', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('VmFlags:') && l.split(/\s+/).includes('hg')).length;
}

function memory(): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
}

test('adviseHugePages advises the whole 2 MiB pages above the small-page head, up to the limit', (t) => {
  if (!nativeKernelInfo().available) return t.skip('native kernel not built');
  const advised = adviseHugePages(memory(), 64 * MIB);
  assert.equal(advised % (2 * MIB), 0, `${advised} is not a whole number of 2 MiB pages`);
  // the memory's start need not be 2 MiB-aligned: one page is lost at most at each end
  assert.ok(advised >= 64 * MIB - SMALL_PAGES_HEAD - 4 * MIB && advised <= 64 * MIB - SMALL_PAGES_HEAD, `advised ${advised} bytes`);
  assert.equal(adviseHugePages(memory(), SMALL_PAGES_HEAD), 0, 'an arena within the head gets none');
});

test('NITAMONO_HUGE_PAGES=0 and NITAMONO_KERNELS=wasm leave arenas on small pages', (t) => {
  if (!nativeKernelInfo().available) return t.skip('native kernel not built');
  for (const [name, value] of [
    ['NITAMONO_HUGE_PAGES', '0'],
    ['NITAMONO_KERNELS', 'wasm'],
  ] as const) {
    const before = process.env[name];
    process.env[name] = value;
    try {
      assert.equal(adviseHugePages(memory(), 64 * MIB), 0, `${name}=${value}`);
    } finally {
      if (before === undefined) delete process.env[name];
      else process.env[name] = before;
    }
  }
});

test('a new arena’s mapping carries the advice, and rows written as it grows read back', (t) => {
  if (!nativeKernelInfo().available) return t.skip('native kernel not built');
  const before = advisedMappings();
  const arena = new Arena(MIB, 256 * MIB);
  assert.ok(advisedMappings() > before, 'no mapping gained the hg flag');
  // grow well past the head, through advised pages
  const n = (24 * MIB) / 4;
  const off = arena.alloc(n * 4);
  const view = arena.f32(off, n);
  for (let i = 0; i < n; i += 997) view[i] = i;
  for (let i = 0; i < n; i += 997) assert.equal(arena.f32(off, n)[i], i);
  arena.release(off);
  arena.recycle();
});
