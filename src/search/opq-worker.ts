/** Worker thread body of OPQMatrix.trainOnWorker (./opq.ts): the same train(), here. */
import { parentPort } from 'node:worker_threads';
import { errorReply } from '../util/worker-pool.js';
import { OPQMatrix, type OPQWorkerJob } from './opq.js';

parentPort!.on('message', async (job: OPQWorkerJob & { id: number }) => {
  try {
    const opq = new OPQMatrix(job.d, job.m, job.options);
    const result = await opq.train(job.x, job.n, job.threads !== undefined ? { threads: job.threads } : {});
    const matrix = opq.getMatrix()!;
    parentPort!.postMessage({ id: job.id, result: { ...result, matrix } }, [matrix.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage(errorReply(job.id, err));
  }
});
