/** Worker thread body for ./pool.ts: attaches shared arenas and runs scan loops on them. */
import { parentPort } from 'node:worker_threads';
import { createKernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import { errorReply } from '../util/worker-pool.js';
import { prepareRange } from './add-rows.js';
import type { Task } from './pool.js';
import { rotateRange } from './rotate.js';
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
    let result = 0;
    if (t.op === 'rotate') result = rotateRange(K, m.memory, t);
    else if (t.op === 'prepare') result = prepareRange(K, m.memory, t);
    else if (t.op === 'flat') for (const L of t.layouts) result += flatSearchRange(K, L, t.block, t.q0, t.q1, t.batched);
    else result = ivfSearchRange(K, t.coarse, t.parts, t.block, t.q0, t.q1, t.probes, t.ef, t.scratch, t.graphScratch, t.gather, t.reservoir);
    parentPort!.postMessage({ id: m.id, result });
  } catch (err) {
    parentPort!.postMessage(errorReply(m.id, err));
  }
});
