/**
 * The optional native kernel (native/*.cc, built into build/nitamono-native.node by
 * scripts/build-native.mjs at install and by `npm run build`; absent when no compiler was found).
 * It replaces the WASM build's blocked many-queries × many-rows scan (batchTopK: flat batch
 * search, the k-means assignment step), where WASM SIMD — 128-bit, no FMA — stops at about half of
 * what AVX2+FMA or AVX-512F do, and the scan of scattered rows (scanTopKRows: filtered search),
 * which prefetches rows ahead; every other kernel stays the WASM one. The addon picks its
 * instruction set at run time (AVX-512F, AVX2+FMA, else portable C++) and reads the same shared
 * memory through a Uint8Array view, with the same byte offsets.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Kernels } from './types.js';
import { createWasmKernels } from './wasm.js';

/** This file is compiled to dist/src/kernels/native.js; the addon sits in build/ at the top. */
export const NATIVE_PATH = fileURLToPath(new URL('../../../build/nitamono-native.node', import.meta.url));

interface NativeAddon {
  batchTopK(memory: Uint8Array, ...args: [...Parameters<Kernels['batchTopK']>, labelMap: number]): void;
  /** Absent from an addon built before it (then the WASM kernel serves). */
  scanTopKRows?(memory: Uint8Array, ...args: [...Parameters<Kernels['scanTopKRows']>, labelMap: number]): number;
  isa(): string;
  useIsa(name: string): string;
}

let addon: NativeAddon | null | undefined;
let loadError = '';

function load(): NativeAddon | null {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)(NATIVE_PATH) as NativeAddon;
    } catch (e) {
      addon = null;
      const msg = e instanceof Error ? e.message : String(e);
      loadError = (e as { code?: string }).code === 'MODULE_NOT_FOUND' ? 'not built (no C++ compiler at install?)' : `failed to load: ${msg.split('\n')[0]}`;
    }
  }
  return addon;
}

/** The addon's exports, for modules that bind their own functions (src/search/refine-map.ts), or null when it is not built. */
export function nativeAddon(): Readonly<Record<string, unknown>> | null {
  return load() as Readonly<Record<string, unknown>> | null;
}

/** Whether the native kernel is built and loads in this thread. */
export function nativeKernelsSupported(): boolean {
  return load() !== null;
}

/** The instruction set the native kernel runs ('avx512', 'avx2' or 'scalar'), or why it is not available. */
export function nativeKernelInfo(): { available: true; isa: string } | { available: false; reason: string } {
  const a = load();
  return a ? { available: true, isa: a.isa() } : { available: false, reason: loadError };
}

/**
 * Caps the native kernel's instruction set for the whole process, worker threads included
 * ('scalar', 'avx2', 'avx512'; never above what the CPU has); returns the one now in use. For tests
 * and measurements; NITAMONO_NATIVE_ISA does the same from the environment.
 */
export function useNativeIsa(name: 'scalar' | 'avx2' | 'avx512'): string {
  const a = load();
  if (!a) throw new Error(`native kernel ${loadError}`);
  return a.useIsa(name);
}

/** The WASM kernels over `memory` with batchTopK run by the native addon (callers check nativeKernelsSupported first). */
export function createNativeKernels(memory: WebAssembly.Memory, module?: WebAssembly.Module): Kernels {
  const a = load();
  if (!a) throw new Error(`native kernel ${loadError}`);
  const wasm = createWasmKernels(memory, module);
  let labelMap = 0;
  return {
    ...wasm,
    name: 'native',
    setLabelMap(ptr: number): void {
      labelMap = ptr;
      wasm.setLabelMap(ptr);
    },
    batchTopK(...args): void {
      // a fresh view each call: the memory may have grown since the last one
      a.batchTopK(new Uint8Array(memory.buffer), ...args, labelMap);
    },
    ...(a.scanTopKRows ? { scanTopKRows: nativeRows(a.scanTopKRows, memory, () => labelMap) } : {}),
  };
}

/**
 * The addon's scan of scattered rows (native/rows.cc: a filtered search's rows, prefetched ahead
 * of the one scored, which WASM cannot do); the same heap as the WASM kernel's, to the bit.
 */
function nativeRows(scan: NonNullable<NativeAddon['scanTopKRows']>, memory: WebAssembly.Memory, labelMap: () => number): Kernels['scanTopKRows'] {
  return (metric, q, base, d, rows, n, k, heapD, heapI, size) =>
    scan(new Uint8Array(memory.buffer), metric, q, base, d, rows, n, k, heapD, heapI, size, labelMap());
}
