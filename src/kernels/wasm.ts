/**
 * The WASM SIMD kernels (assembly/kernels.ts, compiled to build/kernels.wasm by
 * scripts/build-wasm.mjs). The module is compiled once per thread, synchronously, and can be
 * handed to worker threads (WebAssembly.Module is structured-cloneable) so they instantiate it
 * against the same shared memory without compiling again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NitamonoError } from '../errors.js';
import type { Kernels, MetricCode } from './types.js';

/** This file is compiled to dist/src/kernels/wasm.js; the wasm sits in build/ at the top. */
const WASM_PATH = fileURLToPath(new URL('../../../build/kernels.wasm', import.meta.url));

/** (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt): valid only with SIMD. */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

let compiled: WebAssembly.Module | undefined;
let supported: boolean | undefined;

interface KernelExports {
  scan_topk(metric: number, q: number, base: number, n: number, d: number, k: number, heapD: number, heapI: number, size: number, rowOffset: number): number;
  batch_topk(
    metric: number,
    Q: number,
    nq: number,
    qnorms: number,
    base: number,
    xnorms: number,
    n: number,
    d: number,
    k: number,
    heapsD: number,
    heapsI: number,
    sizes: number,
    rowOffset: number,
  ): void;
  norms(X: number, n: number, d: number, out: number): void;
  scan_topk_rows(metric: number, q: number, base: number, d: number, rows: number, n: number, k: number, heapD: number, heapI: number, size: number): number;
  scores_at(metric: number, q: number, base: number, d: number, rows: number, n: number, out: number): void;
  set_label_map(ptr: number): void;
  accumulate(X: number, n: number, d: number, assign: number, sums: number, counts: number): void;
  madd(n: number, a: number, alpha: number, b: number, out: number): void;
  pq_tables(metric: number, q: number, cb: number, m: number, dsub: number, ksub: number, out: number): void;
  pq_scan(lut: number, codes: number, n: number, m: number, bias: number, k: number, heapD: number, heapI: number, size: number, rowOffset: number): number;
  sq8_scan(
    metric: number,
    qp: number,
    sc: number,
    codes: number,
    n: number,
    d: number,
    bias: number,
    k: number,
    heapD: number,
    heapI: number,
    size: number,
    rowOffset: number,
  ): number;
  f16_scan(
    metric: number,
    q: number,
    codes: number,
    n: number,
    d: number,
    bias: number,
    k: number,
    heapD: number,
    heapI: number,
    size: number,
    rowOffset: number,
  ): number;
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
  const scan = x.scan_topk,
    batch = x.batch_topk,
    norms = x.norms,
    acc = x.accumulate,
    pqScan = x.pq_scan,
    sq8Scan = x.sq8_scan,
    f16Scan = x.f16_scan;

  return {
    name: 'wasm-simd',
    memory,
    scanTopK(
      metric: MetricCode,
      q: number,
      base: number,
      n: number,
      d: number,
      k: number,
      heapD: number,
      heapI: number,
      size: number,
      rowOffset: number,
    ): number {
      return scan(metric, q, base, n, d, k, heapD, heapI, size, rowOffset);
    },
    batchTopK(
      metric: MetricCode,
      Q: number,
      nq: number,
      qnorms: number,
      base: number,
      xnorms: number,
      n: number,
      d: number,
      k: number,
      heapsD: number,
      heapsI: number,
      sizes: number,
      rowOffset: number,
    ): void {
      batch(metric, Q, nq, qnorms, base, xnorms, n, d, k, heapsD, heapsI, sizes, rowOffset);
    },
    scanTopKRows(
      metric: MetricCode,
      q: number,
      base: number,
      d: number,
      rows: number,
      n: number,
      k: number,
      heapD: number,
      heapI: number,
      size: number,
    ): number {
      return x.scan_topk_rows(metric, q, base, d, rows, n, k, heapD, heapI, size);
    },
    scoresAt(metric: MetricCode, q: number, base: number, d: number, rows: number, n: number, out: number): void {
      x.scores_at(metric, q, base, d, rows, n, out);
    },
    setLabelMap(ptr: number): void {
      x.set_label_map(ptr);
    },
    norms(X: number, n: number, d: number, out: number): void {
      norms(X, n, d, out);
    },
    accumulate(X: number, n: number, d: number, assign: number, sums: number, counts: number): void {
      acc(X, n, d, assign, sums, counts);
    },
    madd(n: number, a: number, alpha: number, b: number, out: number): void {
      x.madd(n, a, alpha, b, out);
    },
    pqTables(metric: MetricCode, q: number, cb: number, m: number, dsub: number, ksub: number, out: number): void {
      x.pq_tables(metric, q, cb, m, dsub, ksub, out);
    },
    pqScan(lut: number, codes: number, n: number, m: number, bias: number, k: number, heapD: number, heapI: number, size: number, rowOffset: number): number {
      return pqScan(lut, codes, n, m, bias, k, heapD, heapI, size, rowOffset);
    },
    sq8Scan(
      metric: MetricCode,
      qp: number,
      sc: number,
      codes: number,
      n: number,
      d: number,
      bias: number,
      k: number,
      heapD: number,
      heapI: number,
      size: number,
      rowOffset: number,
    ): number {
      return sq8Scan(metric, qp, sc, codes, n, d, bias, k, heapD, heapI, size, rowOffset);
    },
    f16Scan(
      metric: MetricCode,
      q: number,
      codes: number,
      n: number,
      d: number,
      bias: number,
      k: number,
      heapD: number,
      heapI: number,
      size: number,
      rowOffset: number,
    ): number {
      return f16Scan(metric, q, codes, n, d, bias, k, heapD, heapI, size, rowOffset);
    },
  };
}
