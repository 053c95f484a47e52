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
import { nativeAddon } from './native.js';

/** Bytes at the start of every arena left on small pages. */
export const SMALL_PAGES_HEAD = 2 << 20;

interface HugePagesAddon {
  adviseHugePages(memory: Uint8Array, from: number, to: number): number;
}

/** Why arenas stay on small pages here, or undefined when they are advised. */
function notWanted(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const kernels = env?.['NITAMONO_KERNELS']?.trim().toLowerCase();
  if (env?.['NITAMONO_HUGE_PAGES']?.trim() === '0') return 'NITAMONO_HUGE_PAGES=0';
  if (kernels === 'wasm' || kernels === 'reference') return `NITAMONO_KERNELS=${kernels}`;
  if (typeof (nativeAddon() as Partial<HugePagesAddon> | null)?.adviseHugePages !== 'function') return 'no native kernel';
  return undefined;
}

/**
 * Advises huge pages for `memory`'s bytes from SMALL_PAGES_HEAD up to `limit` (the most the
 * arena may grow to); returns the bytes advised (0 when not wanted, not available, or refused).
 */
export function adviseHugePages(memory: WebAssembly.Memory, limit: number): number {
  if (limit <= SMALL_PAGES_HEAD || notWanted() !== undefined) return 0;
  const addon = nativeAddon() as unknown as HugePagesAddon;
  return Math.max(0, addon.adviseHugePages(new Uint8Array(memory.buffer), SMALL_PAGES_HEAD, limit));
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
  const why = notWanted();
  if (mode === 'always') return '2 MiB where the kernel finds them (transparent huge pages: always)';
  if (mode === 'never' || why) return `4 KiB (${why ?? 'transparent huge pages: never'})`;
  return `2 MiB advised for indexes above 2 MiB (transparent huge pages: ${mode})`;
}
