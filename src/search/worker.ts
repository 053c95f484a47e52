/** Worker thread body for ./pool.ts: attaches shared arenas and runs scan loops on them. */
import { parentPort } from 'node:worker_threads';
import { NitamonoError } from '../errors.js';
import { createKernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import type { Task } from './pool.js';
import { flatSearchRange, ivfSearchRange } from './scan.js';

const kernelsByArena = new Map<number, Kernels>();

type Message = { id: number; arenaId: number; memory: WebAssembly.Memory; task: Task } | { forget: number };

parentPort!.on('message', (msg: Message) => {
  if ('forget' in msg) {
    kernelsByArena.delete(msg.forget);
    return;
  }
  const m = msg;
  try {
    let K = kernelsByArena.get(m.arenaId);
    if (!K) {
      K = createKernels(m.memory);
      kernelsByArena.set(m.arenaId, K);
    }
    const t = m.task;
    const result =
      t.op === 'flat'
        ? flatSearchRange(K, t.layout, t.block, t.q0, t.q1, t.batched)
        : ivfSearchRange(K, t.layout, t.block, t.q0, t.q1, t.nprobe, t.probeD, t.probeI, t.scratch ?? 0);
    parentPort!.postMessage({ id: m.id, result });
  } catch (err) {
    // the code travels too, so the caller gets the same NitamonoError (a 4xx, not a 500)
    parentPort!.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err), ...(err instanceof NitamonoError ? { code: err.code } : {}) });
  }
});
