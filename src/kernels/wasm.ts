/**
 * The WASM SIMD kernels (assembly/kernels.ts, compiled to build/kernels.wasm by
 * scripts/build-wasm.mjs). The module is compiled once per thread, synchronously, and can be
 * handed to worker threads (WebAssembly.Module is structured-cloneable) so they instantiate it
 * against the same shared memory without compiling again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NitamonoError } from '../errors.js';
import type { Kernels } from './types.js';

/** This file is compiled to dist/src/kernels/wasm.js; the wasm sits in build/ at the top. */
const WASM_PATH = fileURLToPath(new URL('../../../build/kernels.wasm', import.meta.url));

/** (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt): valid only with SIMD. */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

let compiled: WebAssembly.Module | undefined;
let supported: boolean | undefined;

/** The module's exports: the Kernels functions under the kernels' own names, with the same arguments. */
interface KernelExports {
  scan_topk: Kernels['scanTopK'];
  batch_topk: Kernels['batchTopK'];
  norms: Kernels['norms'];
  scan_topk_rows: Kernels['scanTopKRows'];
  scores_at: Kernels['scoresAt'];
  set_label_map: Kernels['setLabelMap'];
  reservoir_begin: Kernels['reservoirBegin'];
  reservoir_end(heapD: number, heapI: number, k: number): number;
  accumulate: Kernels['accumulate'];
  madd: Kernels['madd'];
  pq_tables: Kernels['pqTables'];
  pq_scan: Kernels['pqScan'];
  pq4_quantize: Kernels['pq4Quantize'];
  pq4_scan: Kernels['pq4Scan'];
  sq8_scan: Kernels['sq8Scan'];
  f16_scan: Kernels['f16Scan'];
}

/** True when this runtime has WASM SIMD and shared memories and build/kernels.wasm exists and compiles. */
export function wasmSimdSupported(): boolean {
  if (supported === undefined) {
    try {
      supported = typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE) && existsSync(WASM_PATH) && kernelsModule() instanceof WebAssembly.Module;
    } catch {
      supported = false;
    }
  }
  return supported;
}

/** The compiled kernels module (compiled on first use, then cached). */
export function kernelsModule(): WebAssembly.Module {
  if (!compiled) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(readFileSync(WASM_PATH));
    } catch (e) {
      throw new NitamonoError('UNSUPPORTED', `WASM kernels not built (${WASM_PATH}); run \`npm run build:wasm\``, { cause: e });
    }
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

/**
 * Instantiates the kernels against `memory` (a shared memory with maximum 65536 pages, as
 * Arena makes). `module` defaults to this thread's compiled copy; a worker passes the one it
 * was sent.
 */
export function createWasmKernels(memory: WebAssembly.Memory, module?: WebAssembly.Module): Kernels {
  const mod = module ?? kernelsModule();
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {
    env: {
      memory,
      // asc only imports these when the source can trap or asks for randomness; the current
      // build needs just the memory, but supplying them keeps a rebuilt module loadable.
      abort: (_msg: number, _file: number, line: number, col: number): never => {
        throw new NitamonoError('UNSUPPORTED', `WASM kernel aborted at ${line}:${col}`);
      },
      seed: (): number => Date.now(),
      trace: (): void => {},
    },
  };
  // give the module exactly what it declares (extra imports are harmless, missing ones are not)
  const wanted: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const imp of WebAssembly.Module.imports(mod)) {
    const v = imports[imp.module]?.[imp.name];
    if (v === undefined) {
      throw new NitamonoError('UNSUPPORTED', `WASM kernels need an unknown import ${imp.module}.${imp.name}`);
    }
    wanted[imp.module] ??= {};
    wanted[imp.module]![imp.name] = v;
  }
  const x = new WebAssembly.Instance(mod, wanted).exports as unknown as KernelExports;
  // the exports are called as they are: a WASM function needs no receiver
  return {
    name: 'wasm-simd',
    memory,
    scanTopK: x.scan_topk,
    batchTopK: x.batch_topk,
    scanTopKRows: x.scan_topk_rows,
    scoresAt: x.scores_at,
    setLabelMap: x.set_label_map,
    reservoirBegin: x.reservoir_begin,
    reservoirEnd: (heapD, heapI, k) => x.reservoir_end(heapD, heapI, k),
    norms: x.norms,
    accumulate: x.accumulate,
    madd: x.madd,
    pqTables: x.pq_tables,
    pqScan: x.pq_scan,
    pq4Quantize: x.pq4_quantize,
    pq4Scan: x.pq4_scan,
    sq8Scan: x.sq8_scan,
    f16Scan: x.f16_scan,
  };
}
