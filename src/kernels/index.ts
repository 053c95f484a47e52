/**
 * Picks the kernels: the native addon's batch scan over the WASM SIMD build where the addon was
 * built (./native.ts), else WASM SIMD where the runtime supports it, else the plain TypeScript
 * reference. NITAMONO_KERNELS=native|wasm|reference in the environment forces one (for tests,
 * benchmarks, and platforms where a build misbehaves); it is read by worker threads too.
 */
import { NitamonoError } from '../errors.js';
import { createNativeKernels, nativeKernelInfo, nativeKernelsSupported } from './native.js';
import { createReferenceKernels } from './reference.js';
import type { Kernels } from './types.js';
import { createWasmKernels, wasmSimdSupported } from './wasm.js';

export { createNativeKernels, nativeAddon, nativeKernelInfo, nativeKernelsSupported, useNativeIsa } from './native.js';
export { createReferenceKernels } from './reference.js';
export * from './types.js';
export { createWasmKernels, kernelsModule, wasmSimdSupported } from './wasm.js';

export type KernelPreference = 'auto' | 'native' | 'wasm' | 'reference';

const PREFERENCES: readonly KernelPreference[] = ['auto', 'native', 'wasm', 'reference'];

/** NITAMONO_KERNELS, when set to one of the preferences. */
function forced(): KernelPreference | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const v = env?.NITAMONO_KERNELS?.trim().toLowerCase();
  if (!v) return undefined;
  if (!(PREFERENCES as readonly string[]).includes(v)) {
    throw new NitamonoError('INVALID_ARGUMENT', `NITAMONO_KERNELS must be one of ${PREFERENCES.join(', ')}; got ${JSON.stringify(v)}`);
  }
  return v as KernelPreference;
}

/** The native kernel is built and runs an AVX build: its portable build is slower than WASM SIMD (0.3× on 60k×784, bench/kernels-bench.mjs). */
function nativeFast(): boolean {
  const info = nativeKernelInfo();
  return info.available && info.isa !== 'scalar';
}

/** Native code may run here: the addon loads and NITAMONO_KERNELS does not ask for wasm or reference. */
export function nativeAllowed(): boolean {
  const f = forced();
  return f !== 'wasm' && f !== 'reference' && nativeKernelsSupported();
}

/**
 * Kernels over `memory`. 'auto' takes the native batch kernel when it is built and has AVX2 or AVX-512F to run, else WASM SIMD
 * when available, else the reference; 'native' and 'wasm' insist (UNSUPPORTED otherwise);
 * 'reference' takes the TypeScript kernels. NITAMONO_KERNELS overrides every preference.
 */
export function createKernels(memory: WebAssembly.Memory, prefer: KernelPreference = 'auto'): Kernels {
  const want = forced() ?? prefer;
  if (want === 'reference') return createReferenceKernels(memory);
  const wasm = wasmSimdSupported();
  if ((want === 'native' || (want === 'auto' && nativeFast())) && wasm && nativeKernelsSupported()) return createNativeKernels(memory);
  if (want === 'native') {
    const info = nativeKernelInfo();
    const why = !wasm ? 'the WASM SIMD kernels it builds on are not available' : info.available ? '' : `the addon is ${info.reason}`;
    throw new NitamonoError('UNSUPPORTED', `the native kernel is not available: ${why} (build it with \`npm run build:native\`)`);
  }
  if (wasm) return createWasmKernels(memory);
  if (want === 'wasm') {
    throw new NitamonoError('UNSUPPORTED', 'WASM SIMD kernels are not available on this platform (or build/kernels.wasm is missing)');
  }
  return createReferenceKernels(memory);
}

/** Which kernel builds this process can use (the reference is always available). */
export function kernelsAvailable(): { wasm: boolean; native: boolean } {
  return { wasm: wasmSimdSupported(), native: nativeKernelsSupported() };
}

/**
 * One line saying which kernels `createKernels()` picks here and why, for `nitamono info` and
 * benchmarks: e.g. "native avx512 (batch scans), WASM SIMD (the rest)".
 */
export function kernelsSummary(): string {
  let name: Kernels['name'];
  try {
    name = createKernels(new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })).name;
  } catch (e) {
    return `none usable: ${e instanceof Error ? e.message : String(e)}`;
  }
  const info = nativeKernelInfo();
  const src = forced() ? ' (NITAMONO_KERNELS)' : '';
  if (name === 'native' && info.available) return `native ${info.isa} (batch scans), WASM SIMD (the rest)${src}`;
  const native = !info.available
    ? `native kernel ${info.reason}`
    : info.isa === 'scalar'
      ? 'native kernel not used (no AVX2: its portable build is slower)'
      : 'native kernel not used';
  return `${name === 'wasm-simd' ? 'WASM SIMD' : 'TypeScript reference'}${src}; ${native}`;
}
