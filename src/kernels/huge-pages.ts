/**
 * Arenas on 2 MiB pages where Linux offers them (native/huge-pages.cc says why: a search that
 * reads rows scattered through an index pays a TLB miss per row on 4 KiB pages). Advised once,
 * when an arena's memory is made, for its whole address range above the first 2 MiB: an index
 * that small gains nothing, and the WASM module touches its first page at once.
 *
 * Needs the native addon and native code allowed (NITAMONO_KERNELS not wasm or reference);
 * NITAMONO_HUGE_PAGES=0 in the environment turns it off (measurements, or a machine where the
 * kernel's compaction for huge pages stalls).
 */
import { readFileSync } from 'node:fs';
import { nativeAllowed } from './index.js';
import { nativeAddon } from './native.js';

/** Bytes at the start of every arena left on small pages. */
export const SMALL_PAGES_HEAD = 2 << 20;

interface HugePagesAddon {
  adviseHugePages(memory: Uint8Array, from: number, to: number): number;
}

/** The addon's adviseHugePages when native code may run here and NITAMONO_HUGE_PAGES is not 0. */
function advisor(): HugePagesAddon['adviseHugePages'] | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  if (env?.['NITAMONO_HUGE_PAGES']?.trim() === '0' || !nativeAllowed()) return undefined;
  return (nativeAddon() as Partial<HugePagesAddon> | null)?.adviseHugePages;
}

/**
 * Advises huge pages for `memory`'s bytes from SMALL_PAGES_HEAD up to `limit` (the most the
 * arena may grow to); returns the bytes advised (0 when not wanted, not available, or refused).
 */
export function adviseHugePages(memory: WebAssembly.Memory, limit: number): number {
  const advise = limit > SMALL_PAGES_HEAD ? advisor() : undefined;
  return advise ? Math.max(0, advise(new Uint8Array(memory.buffer), SMALL_PAGES_HEAD, limit)) : 0;
}

/**
 * One line for `nitamono info`: whether index memory is advised onto huge pages, and the
 * kernel's transparent-huge-page mode, which decides whether the advice is followed.
 */
export function hugePagesSummary(): string {
  let mode = 'unknown';
  try {
    mode = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? mode;
  } catch {
    return '4 KiB (no transparent huge pages here)';
  }
  if (mode === 'always') return '2 MiB where the kernel finds them (transparent huge pages: always)';
  if (mode === 'never') return '4 KiB (transparent huge pages: never)';
  if (!advisor()) return '4 KiB (NITAMONO_HUGE_PAGES=0, NITAMONO_KERNELS=wasm|reference, or no native kernel)';
  return `2 MiB advised for indexes above 2 MiB (transparent huge pages: ${mode})`;
}
