/**
 * The training loop of a learned head, on a worker thread (started by ./train.ts): TensorFlow.js,
 * the wasm backend when it starts (about 2× the CPU backend's speed on this kind of dense
 * layer, measured), else the CPU backend. Minibatches in a seeded order, Adam, the CosFace loss
 * (normalised-softmax with an additive cosine margin: embeddings and class weights L2-normalised,
 * logits s·(cos θ − m) for the true class, s·cos θ for the others), and early stopping on the
 * validation images' mAP (validation images are training images held back from the gradient,
 * never the held-out ones the report is about).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type * as TF from '@tensorflow/tfjs';
import { loadTf } from '../image/deep.js';
import { rng } from '../util/random.js';
import type { TrainJob, TrainMessage } from './train.js';

type Tf = typeof TF;

async function tfBackend(): Promise<{ tf: Tf; backend: string }> {
  try {
    return { tf: await loadTf(), backend: 'wasm' };
  } catch {
    const tf = await import('@tensorflow/tfjs');
    await tf.setBackend('cpu');
    await tf.ready();
    return { tf, backend: 'cpu' };
  }
}

/** Seeded N(0, sd²) numbers (Box–Muller): tfjs initialisers are not seeded across backends alike. */
function gaussian(n: number, sd: number, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u)) * sd;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** Leave-one-out mAP of unit rows `e` (n×d) with labels, by cosine similarity. */
function looMap(e: Float32Array, n: number, d: number, labels: Int32Array): number {
  const counts = new Map<number, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const sims = new Float32Array(n);
  const order = new Int32Array(n - 1);
  let total = 0;
  let queries = 0;
  for (let q = 0; q < n; q++) {
    const rel = (counts.get(labels[q]!) ?? 1) - 1;
    if (rel === 0) continue;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += e[q * d + t]! * e[j * d + t]!;
      sims[j] = s;
    }
    let m = 0;
    for (let j = 0; j < n; j++) if (j !== q) order[m++] = j;
    order.sort((a, b) => sims[b]! - sims[a]! || a - b);
    let hits = 0;
    let ap = 0;
    for (let i = 0; i < m && hits < rel; i++) {
      if (labels[order[i]!] === labels[q]) {
        hits++;
        ap += hits / (i + 1);
      }
    }
    total += ap / rel;
    queries++;
  }
  return queries > 0 ? total / queries : 0;
}

async function train(job: TrainJob, post: (m: TrainMessage) => void): Promise<void> {
  const t0 = performance.now();
  const { tf, backend } = await tfBackend();
  const rand = rng(job.seed);
  const sizes = [job.d, ...job.hidden, job.outDim];
  const vars: { w: TF.Variable; b: TF.Variable; relu: boolean }[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const [a, b] = [sizes[i]!, sizes[i + 1]!];
    vars.push({
      w: tf.variable(tf.tensor2d(gaussian(a * b, Math.sqrt(2 / (a + b)), rand), [a, b])),
      b: tf.variable(tf.zeros([b])),
      relu: i + 2 < sizes.length,
    });
  }
  const classW = tf.variable(tf.tensor2d(gaussian(job.outDim * job.classes, 1, rand), [job.outDim, job.classes]));
  const embed = (x: TF.Tensor2D): TF.Tensor2D => {
    let h: TF.Tensor2D = x;
    for (const v of vars) {
      h = tf.add(tf.matMul(h, v.w), v.b);
      if (v.relu) h = tf.relu(h);
    }
    return tf.div(h, tf.add(tf.norm(h, 2, 1, true), 1e-12));
  };
  const optimizer = tf.train.adam(job.lr);
  const snapshot = () => vars.map((v) => ({ weights: Float32Array.from(v.w.dataSync()), bias: Float32Array.from(v.b.dataSync()) }));
  const valScore = (): number => {
    if (job.nVal < 2) return Number.NaN;
    const e = tf.tidy(() => embed(tf.tensor2d(job.xVal, [job.nVal, job.d])).dataSync() as Float32Array);
    return looMap(e, job.nVal, job.outDim, job.yVal);
  };

  const order = Int32Array.from({ length: job.n }, (_, i) => i);
  let best = snapshot();
  let bestScore = valScore();
  let bestEpoch = 0;
  let lastLoss = Number.NaN;
  let epoch = 0;
  let stale = 0;
  const bx = new Float32Array(job.batch * job.d);
  const by = new Int32Array(job.batch);
  for (epoch = 1; epoch <= job.epochs; epoch++) {
    for (let i = job.n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    let lossSum = 0;
    let batches = 0;
    for (let s = 0; s < job.n; s += job.batch) {
      const m = Math.min(job.batch, job.n - s);
      for (let r = 0; r < m; r++) {
        const src = order[s + r]!;
        bx.set(job.x.subarray(src * job.d, (src + 1) * job.d), r * job.d);
        by[r] = job.y[src]!;
      }
      const loss = tf.tidy(() => {
        const x = tf.tensor2d(bx.subarray(0, m * job.d), [m, job.d]);
        const onehot = tf.oneHot(tf.tensor1d(by.subarray(0, m), 'int32'), job.classes).toFloat();
        return optimizer.minimize(() => {
          const cos = tf.matMul(embed(x), tf.div(classW, tf.add(tf.norm(classW, 2, 0, true), 1e-12)));
          const logits = tf.mul(tf.sub(cos, tf.mul(onehot, job.margin)), job.scale);
          return tf.losses.softmaxCrossEntropy(onehot, logits) as TF.Scalar;
        }, true) as TF.Scalar;
      });
      lossSum += (await loss.data())[0]!;
      loss.dispose();
      batches++;
    }
    lastLoss = lossSum / Math.max(1, batches);
    const score = valScore();
    post({ type: 'epoch', epoch, loss: lastLoss, validation_map: Number.isNaN(score) ? null : score });
    if (Number.isNaN(score)) {
      best = snapshot();
      bestEpoch = epoch;
    } else if (score > bestScore + 1e-4 || bestEpoch === 0) {
      bestScore = score;
      best = snapshot();
      bestEpoch = epoch;
      stale = 0;
    } else if (++stale >= job.patience) break;
  }
  const layers = best.map((l, i) => ({ in: sizes[i]!, out: sizes[i + 1]!, relu: vars[i]!.relu, weights: l.weights, bias: l.bias }));
  post({
    type: 'done',
    layers,
    epochs_run: Math.min(epoch, job.epochs),
    best_epoch: bestEpoch,
    final_loss: lastLoss,
    validation_map: Number.isNaN(bestScore) ? null : bestScore,
    backend,
    took_ms: Math.round(performance.now() - t0),
  });
}

const port = parentPort!;
train(workerData as TrainJob, (m) =>
  port.postMessage(m, m.type === 'done' ? m.layers.flatMap((l) => [l.weights.buffer as ArrayBuffer, l.bias.buffer as ArrayBuffer]) : []),
).catch((err: unknown) => port.postMessage({ type: 'error', message: (err as Error).message ?? String(err) } satisfies TrainMessage));
