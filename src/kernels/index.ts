/**
 * Picks the kernels: the WASM SIMD build where the runtime supports it, else the plain
 * TypeScript reference. NITAMONO_KERNELS=reference in the environment forces the reference
 * (for tests, and for platforms where the WASM build misbehaves).
 */
import { NitamonoError } from '../errors.js';
import { createReferenceKernels } from './reference.js';
import type { Kernels } from './types.js';
import { createWasmKernels, wasmSimdSupported } from './wasm.js';

export { createReferenceKernels } from './reference.js';
export * from './types.js';
export { createWasmKernels, kernelsModule, wasmSimdSupported } from './wasm.js';

export type KernelPreference = 'auto' | 'wasm' | 'reference';

function forcedReference(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.NITAMONO_KERNELS?.trim().toLowerCase() === 'reference';
}

/**
 * Kernels over `memory`. 'auto' takes WASM SIMD when available, 'wasm' insists on it (throws
 * UNSUPPORTED otherwise), 'reference' takes the TypeScript kernels. NITAMONO_KERNELS=reference
 * overrides every preference.
 */
export function createKernels(memory: WebAssembly.Memory, prefer: KernelPreference = 'auto'): Kernels {
  if (prefer === 'reference' || forcedReference()) return createReferenceKernels(memory);
  if (wasmSimdSupported()) return createWasmKernels(memory);
  if (prefer === 'wasm') {
    throw new NitamonoError('UNSUPPORTED', 'WASM SIMD kernels are not available on this platform (or build/kernels.wasm is missing)');
  }
  return createReferenceKernels(memory);
}

/** Which kernel builds this process can use (the reference is always available). */
export function kernelsAvailable(): { wasm: boolean } {
  return { wasm: wasmSimdSupported() };
}
