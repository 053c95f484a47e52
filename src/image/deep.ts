/**
 * Deep (CNN) image features from the MobileNetV2 weights that nsfwjs 4.3.0 ships inside its npm
 * package (base64 bundles under node_modules/nsfwjs/dist/models/): nothing is downloaded, ever.
 * The models run on @tensorflow/tfjs with the WebAssembly backend, whose .wasm binaries are read
 * from node_modules/@tensorflow/tfjs-backend-wasm/dist/ on disk.
 *
 *  - 'mobilenetv2-pooled': nsfwjs's MobileNetV2 (a LayersModel), output of layer `flatten_1` —
 *    the 1280-d global-average-pooled features in front of the NSFW classifier head.
 *  - 'mobilenetv2-mid': nsfwjs's MobileNetV2Mid (a GraphModel; MobileNetV2 width 1.4), node
 *    `…/feature_vector/SpatialSqueeze` — 1792-d (the global average of `Conv_1/Relu6`).
 *  - 'mobilenetv2-mid-gap3': the same graph and forward pass, three nodes each globally
 *    average-pooled and L2-normalised, then concatenated — `expanded_conv_14/add` (224) +
 *    `expanded_conv_15/add` (224) + `Conv_1/Relu6` (1792) = 2240-d. Earlier nodes keep more of
 *    the shapes and textures that tell clip art and product photos apart; normalising each block
 *    first stops the 1792 channels of `Conv_1` from drowning the other two.
 *
 * Input preprocessing is nsfwjs's: RGB stretched to 224×224, divided by 255. Outputs are
 * L2-normalised, so cosine similarity is a dot product.
 *
 * tfjs is imported lazily (in `DeepEmbedder.create`), so importing this module for
 * `deepDim` / `DEFAULT_DEEP_MODEL` costs nothing.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { invalid, NitamonoError } from '../errors.js';
import { l2Normalize } from '../vectors/matrix.js';

export type DeepModel = 'mobilenetv2-pooled' | 'mobilenetv2-mid' | 'mobilenetv2-mid-gap3';

export const DEEP_MODELS: readonly DeepModel[] = ['mobilenetv2-pooled', 'mobilenetv2-mid', 'mobilenetv2-mid-gap3'];

/**
 * The embedding new collections get: the one that retrieves better, measured by
 * bench/deep-model-compare.mjs — leave-one-out cosine retrieval over Fashion-MNIST (100 images ×
 * 10 classes) and the demo set (303 clip-art images, 8 folders), P@1 / P@10 / mAP:
 *
 *   | embedding                      | Fashion-MNIST test    | Fashion-MNIST train   | demo set              |
 *   | colour histogram (12-d)        | 0.259 / 0.256 / 0.194 | 0.261 / 0.266 / 0.199 | 0.812 / 0.707 / 0.508 |
 *   | mobilenetv2-pooled (1280-d)    | 0.660 / 0.542 / 0.333 | 0.659 / 0.560 / 0.341 | 0.917 / 0.822 / 0.665 |
 *   | mobilenetv2-mid (1792-d)       | 0.738 / 0.626 / 0.389 | 0.717 / 0.624 / 0.395 | 0.921 / 0.814 / 0.660 |
 *   | mobilenetv2-mid-gap3 (2240-d)  | 0.778 / 0.659 / 0.422 | 0.738 / 0.658 / 0.429 | 0.934 / 0.844 / 0.705 |
 *
 * 'mobilenetv2-mid-gap3' wins on every measure at the same CPU time per image as
 * 'mobilenetv2-mid' (one forward pass: 39.6 vs 41.4 ms per 224×224 image, fastest of 15 runs on
 * one core); signed square
 * root and PCA-whitening were measured too and not adopted (BENCHMARKS.md, "Default deep features
 * (pooling)"). 'mobilenetv2-pooled' costs about ⅔ of that CPU for less quality. Collections keep
 * the model they were made with (LEGACY_DEEP_MODEL for the oldest).
 */
export const DEFAULT_DEEP_MODEL: DeepModel = 'mobilenetv2-mid-gap3';

/** Side of the square RGB input the CNN takes. */
export const DEEP_INPUT_SIZE = 224;

/** Bytes of one CNN input image (224×224 RGB). */
export const DEEP_INPUT_BYTES = DEEP_INPUT_SIZE * DEEP_INPUT_SIZE * 3;

/** Largest batch sent through the network at once (bounds memory: ~0.6 MB input per image). */
export const MAX_DEEP_BATCH = 16;

/**
 * What a collection whose collection.json says `deep_model: null` ("the default at the time")
 * was indexed with: the default before 'mobilenetv2-mid-gap3'. Such collections keep it, so
 * their stored vectors and new queries stay in one space.
 */
export const LEGACY_DEEP_MODEL: DeepModel = 'mobilenetv2-mid';

const DIMS: Record<DeepModel, number> = { 'mobilenetv2-pooled': 1280, 'mobilenetv2-mid': 1792, 'mobilenetv2-mid-gap3': 2240 };

const MID_PREFIX = 'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/';
const MID_OUTPUT_NODE = `${MID_PREFIX}feature_vector/SpatialSqueeze`;

/** Nodes of the MobileNetV2-mid graph that 'mobilenetv2-mid-gap3' pools, in output order. */
export const GAP3_NODES: readonly string[] = [
  `${MID_PREFIX}MobilenetV2/expanded_conv_14/add`,
  `${MID_PREFIX}MobilenetV2/expanded_conv_15/add`,
  `${MID_PREFIX}MobilenetV2/Conv_1/Relu6`,
];

export function isDeepModel(x: unknown): x is DeepModel {
  return typeof x === 'string' && Object.hasOwn(DIMS, x);
}

/** Vector length of a deep model's embedding. */
export function deepDim(model: DeepModel): number {
  if (!isDeepModel(model)) throw invalid(`unknown deep model '${String(model)}' (expected ${DEEP_MODELS.join(' or ')})`);
  return DIMS[model];
}

type Tf = typeof TF;

let tfPromise: Promise<Tf> | undefined;

/** Directory holding tfjs-backend-wasm's .wasm files, on disk. */
export function wasmDir(): string {
  const require = createRequire(import.meta.url);
  // The package's "main" is dist/tf-backend-wasm.node.js; the .wasm files sit beside it.
  return `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`;
}

/**
 * Imports tfjs once per thread and selects the wasm backend, loading the .wasm binary from disk.
 * (The wasm backend is single-threaded in Node: parallelism comes from worker_threads.)
 */
export function loadTf(): Promise<Tf> {
  tfPromise ??= (async () => {
    const tf = await import('@tensorflow/tfjs');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(wasmDir());
    tf.enableProdMode();
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new NitamonoError('UNSUPPORTED', 'tfjs wasm backend failed to initialise');
    await tf.ready();
    return tf;
  })();
  tfPromise.catch(() => {
    tfPromise = undefined;
  });
  return tfPromise;
}

interface BundledModel {
  modelJson: () => Promise<{ default: TF.io.ModelJSON }>;
  weightBundles: Array<() => Promise<{ default: string }>>;
}

/** The bundled nsfwjs model definition (model JSON + base64 weight shards, all local modules). */
async function bundledModel(model: DeepModel): Promise<BundledModel> {
  if (model === 'mobilenetv2-pooled') return (await import('nsfwjs/models/mobilenet_v2')).MobileNetV2Model;
  // Both mid models are the same graph, read at different nodes.
  return (await import('nsfwjs/models/mobilenet_v2_mid')).MobileNetV2MidModel;
}

/**
 * Throws MODEL_UNAVAILABLE when the weights of `model` cannot be read, without building the
 * network: a collection is not switched to deep features that it could never compute.
 */
export async function checkDeepModelAvailable(model: DeepModel): Promise<void> {
  deepDim(model);
  await bundledHandler(model);
}

/** An in-memory tfjs IOHandler over the bundled JSON and base64 shards: no fetch, no file URL. */
async function bundledHandler(model: DeepModel): Promise<TF.io.IOHandler> {
  const shards = new Map<string, string>();
  let json: TF.io.ModelJSON;
  try {
    const def = await bundledModel(model);
    json = (await def.modelJson()).default;
    for (let i = 0; i < def.weightBundles.length; i++) {
      shards.set(`group1-shard${i + 1}of${def.weightBundles.length}`, (await def.weightBundles[i]!()).default);
    }
  } catch (err) {
    // The weights ship inside the nsfwjs package: missing means a broken or partial install.
    throw new NitamonoError(
      'MODEL_UNAVAILABLE',
      `the weights of deep model ${model} cannot be loaded (${(err as Error).message}); reinstall nitamono (npm ci), or use colour features only`,
      {
        cause: err,
      },
    );
  }
  return {
    load: async () => {
      const weightSpecs: TF.io.WeightsManifestEntry[] = [];
      const parts: Buffer[] = [];
      for (const group of json.weightsManifest) {
        for (const p of group.paths) {
          const b64 = shards.get(p);
          if (b64 === undefined)
            throw new NitamonoError('MODEL_UNAVAILABLE', `the bundled weights of deep model ${model} lack shard ${p}; reinstall nitamono (npm ci)`);
          parts.push(Buffer.from(b64, 'base64'));
        }
        weightSpecs.push(...group.weights);
      }
      const all = Buffer.concat(parts);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        weightSpecs,
        weightData,
      } as TF.io.ModelArtifacts;
    },
  };
}

/** Fills `out` (n×224×224×3 float) with the batch's bytes / 255. */
function toFloatInput(batch: Uint8Array[], out: Float32Array): void {
  const inv = 1 / 255;
  let o = 0;
  for (const img of batch) {
    for (let i = 0; i < img.length; i++) out[o++] = img[i]! * inv;
  }
}

export interface DeepEmbedderOptions {
  /**
   * 'mobilenetv2-pooled' only: fold each BatchNormalization (and the ReLU6 after it) into the
   * convolution before it and run fused conv kernels — the same function to ~1e-5, about 2× faster
   * than tfjs-layers' op-by-op execution. Default true; false runs the LayersModel as loaded.
   */
  fuseBatchNorm?: boolean;
}

type FoldedStep =
  | {
      op: 'conv' | 'depthwise';
      in: string;
      out: string;
      filter: TF.Tensor4D;
      bias: TF.Tensor1D;
      act: 'linear' | 'relu6';
      strides: [number, number];
      pad: 'valid' | 'same';
    }
  | { op: 'pad'; in: string; out: string; pad: Array<[number, number]> }
  | { op: 'add'; ins: string[]; out: string }
  | { op: 'avgpool'; in: string; out: string; pool: [number, number]; strides: [number, number]; pad: 'valid' | 'same' }
  | { op: 'flatten'; in: string; out: string };

interface FoldedProgram {
  input: string;
  steps: FoldedStep[];
  dispose(): void;
}

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1])] : [Number(v), Number(v)]);

/**
 * Compiles a Keras MobileNetV2 LayersModel (up to `outputLayer`) into a list of fused tfjs ops,
 * folding BatchNormalization into the preceding (depthwise) convolution:
 *   W' = W · γ/√(σ²+ε) per output channel,  b' = (b − μ) · γ/√(σ²+ε) + β,
 * and a following ReLU(max 6) into the conv's activation. Throws on any layer type it does not
 * know, so a different model cannot be silently mis-run.
 */
function foldedProgram(tf: Tf, model: TF.LayersModel, outputLayer: string): FoldedProgram {
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  const inputsOf = (l: TF.layers.Layer): string[] => (l.inboundNodes[0]?.inboundLayers ?? []).map((x) => x.name);
  const consumers = new Map<string, string[]>();
  for (const l of model.layers) {
    for (const i of inputsOf(l)) consumers.set(i, [...(consumers.get(i) ?? []), l.name]);
  }
  const only = (name: string, cls: string): TF.layers.Layer | undefined => {
    const c = consumers.get(name);
    if (c?.length !== 1) return undefined;
    const l = byName.get(c[0]!);
    return l?.getClassName() === cls ? l : undefined;
  };
  const owned: TF.Tensor[] = [];
  const keep = <T extends TF.Tensor>(t: T): T => {
    owned.push(t);
    return t;
  };
  const steps: FoldedStep[] = [];
  const skip = new Set<string>();
  let input: string | undefined;
  let done = false;
  for (const l of model.layers) {
    if (skip.has(l.name)) continue;
    const cls = l.getClassName();
    const cfg = l.getConfig() as Record<string, unknown>;
    const ins = inputsOf(l);
    if (cls === 'InputLayer') {
      input = l.name;
      continue;
    }
    if (cls === 'Conv2D' || cls === 'DepthwiseConv2D') {
      const w = l.getWeights();
      const kernel = w[0] as TF.Tensor4D;
      const ownBias = cfg['useBias'] ? (w[1] as TF.Tensor1D) : undefined;
      const outCh = cls === 'Conv2D' ? kernel.shape[3] : kernel.shape[2] * kernel.shape[3];
      let filter: TF.Tensor4D;
      let bias: TF.Tensor1D;
      let out = l.name;
      let act: 'linear' | 'relu6' = 'linear';
      if (cfg['activation'] !== undefined && cfg['activation'] !== 'linear') throw new Error(`fold: ${l.name} has activation ${String(cfg['activation'])}`);
      const bn = only(l.name, 'BatchNormalization');
      if (bn) {
        const bcfg = bn.getConfig() as Record<string, unknown>;
        if (bcfg['axis'] !== -1 && bcfg['axis'] !== 3) throw new Error(`fold: ${bn.name} normalises axis ${String(bcfg['axis'])}`);
        if (!bcfg['scale'] || !bcfg['center']) throw new Error(`fold: ${bn.name} lacks scale or centre`);
        const [gamma, beta, mean, variance] = bn.getWeights() as TF.Tensor1D[];
        const eps = Number(bcfg['epsilon']);
        const scale = tf.tidy(() => tf.div(gamma!, tf.sqrt(tf.add(variance!, eps))));
        filter = keep(
          tf.tidy(() => (cls === 'Conv2D' ? tf.mul(kernel, scale) : tf.mul(kernel, tf.reshape(scale, [kernel.shape[2], kernel.shape[3]])))) as TF.Tensor4D,
        );
        bias = keep(tf.tidy(() => tf.add(tf.mul(ownBias ? tf.sub(ownBias, mean!) : tf.neg(mean!), scale), beta!)) as TF.Tensor1D);
        scale.dispose();
        skip.add(bn.name);
        out = bn.name;
        const relu = only(bn.name, 'ReLU');
        if (relu && (relu.getConfig() as Record<string, unknown>)['maxValue'] === 6) {
          act = 'relu6';
          skip.add(relu.name);
          out = relu.name;
        }
      } else {
        filter = keep(tf.clone(kernel));
        bias = keep(ownBias ? tf.clone(ownBias) : tf.zeros([outCh]));
      }
      steps.push({
        op: cls === 'Conv2D' ? 'conv' : 'depthwise',
        in: ins[0]!,
        out,
        filter,
        bias,
        act,
        strides: pair(cfg['strides']),
        pad: cfg['padding'] as 'valid' | 'same',
      });
      if (out === outputLayer) done = true;
    } else if (cls === 'ZeroPadding2D') {
      const p = cfg['padding'] as Array<[number, number]>;
      steps.push({ op: 'pad', in: ins[0]!, out: l.name, pad: [[0, 0], p[0]!, p[1]!, [0, 0]] });
    } else if (cls === 'Add') {
      steps.push({ op: 'add', ins, out: l.name });
    } else if (cls === 'AveragePooling2D') {
      steps.push({
        op: 'avgpool',
        in: ins[0]!,
        out: l.name,
        pool: pair(cfg['poolSize']),
        strides: pair(cfg['strides']),
        pad: cfg['padding'] as 'valid' | 'same',
      });
    } else if (cls === 'Flatten') {
      steps.push({ op: 'flatten', in: ins[0]!, out: l.name });
    } else {
      throw new Error(`fold: unsupported layer ${l.name} (${cls})`);
    }
    if (l.name === outputLayer) done = true;
    if (done) break;
  }
  if (!done || input === undefined) throw new Error(`fold: output layer ${outputLayer} not reached`);
  return {
    input,
    steps,
    dispose: () => {
      for (const t of owned) t.dispose();
    },
  };
}

function runFolded(tf: Tf, prog: FoldedProgram, x: TF.Tensor4D): TF.Tensor {
  return tf.tidy(() => {
    const env = new Map<string, TF.Tensor>([[prog.input, x]]);
    const get = (n: string): TF.Tensor4D => {
      const t = env.get(n);
      if (!t) throw new Error(`fold: missing tensor ${n}`);
      return t as TF.Tensor4D;
    };
    let last: TF.Tensor = x;
    for (const s of prog.steps) {
      switch (s.op) {
        case 'conv':
          last = tf.fused.conv2d({ x: get(s.in), filter: s.filter, strides: s.strides, pad: s.pad, bias: s.bias, activation: s.act });
          break;
        case 'depthwise':
          last = tf.fused.depthwiseConv2d({ x: get(s.in), filter: s.filter, strides: s.strides, pad: s.pad, bias: s.bias, activation: s.act });
          break;
        case 'pad':
          last = tf.pad(get(s.in), s.pad);
          break;
        case 'add':
          last = tf.add(get(s.ins[0]!), get(s.ins[1]!));
          break;
        case 'avgpool':
          last = tf.avgPool(get(s.in), s.pool, s.strides, s.pad);
          break;
        case 'flatten': {
          const t = get(s.in);
          last = tf.reshape(t, [t.shape[0], -1]);
          break;
        }
      }
      env.set(s.out, last);
    }
    return last;
  });
}

/**
 * 'mobilenetv2-mid-gap3' from one forward pass: GAP3_NODES fetched together, each averaged over
 * its spatial positions and L2-normalised, concatenated (embed normalises the whole row after).
 */
function gap3(tf: Tf, g: TF.GraphModel, x: TF.Tensor4D): TF.Tensor {
  return tf.tidy(() => {
    const outs = g.execute(x, [...GAP3_NODES]) as TF.Tensor4D[];
    const blocks = outs.map((o) => {
      const v = tf.mean(o, [1, 2]);
      // max(‖v‖, tiny): an all-zero block stays zero instead of becoming NaN.
      return tf.div(v, tf.maximum(tf.norm(v, 'euclidean', 1, true), 1e-12));
    });
    return tf.concat(blocks, 1);
  });
}

/**
 * One loaded CNN in this thread. Create one per worker thread; `embed` is synchronous work on the
 * calling thread (tfjs-wasm has no threads of its own here), so run it off the main thread.
 */
export class DeepEmbedder {
  readonly model: DeepModel;
  readonly dim: number;
  private readonly tf: Tf;
  private readonly run: (x: TF.Tensor4D) => TF.Tensor;
  private readonly owned: Array<{ dispose(): void }>;
  private graph: TF.GraphModel | undefined;
  private disposed = false;

  private constructor(model: DeepModel, tf: Tf, run: (x: TF.Tensor4D) => TF.Tensor, owned: Array<{ dispose(): void }>) {
    this.model = model;
    this.dim = DIMS[model];
    this.tf = tf;
    this.run = run;
    this.owned = owned;
  }

  /** Loads the bundled weights into a tfjs-wasm model (a few hundred ms) and warms it up. */
  static async create(model: DeepModel = DEFAULT_DEEP_MODEL, opts: DeepEmbedderOptions = {}): Promise<DeepEmbedder> {
    deepDim(model);
    let tf: Tf;
    try {
      tf = await loadTf();
    } catch (err) {
      if (err instanceof NitamonoError) throw err;
      throw new NitamonoError('UNSUPPORTED', `cannot start tfjs wasm backend: ${(err as Error).message}`, { cause: err });
    }
    const handler = await bundledHandler(model);
    let embedder: DeepEmbedder;
    if (model === 'mobilenetv2-pooled') {
      const full = await tf.loadLayersModel(handler);
      if (opts.fuseBatchNorm ?? true) {
        const prog = foldedProgram(tf, full, 'flatten_1');
        full.dispose();
        embedder = new DeepEmbedder(model, tf, (x) => runFolded(tf, prog, x), [prog]);
      } else {
        const sub = tf.model({ inputs: full.inputs, outputs: full.getLayer('flatten_1').output as TF.SymbolicTensor });
        embedder = new DeepEmbedder(model, tf, (x) => sub.predict(x) as TF.Tensor, [full]);
      }
    } else {
      const g = await tf.loadGraphModel(handler);
      const run = model === 'mobilenetv2-mid' ? (x: TF.Tensor4D) => g.execute(x, MID_OUTPUT_NODE) as TF.Tensor : (x: TF.Tensor4D) => gap3(tf, g, x);
      embedder = new DeepEmbedder(model, tf, run, [g]);
      embedder.graph = g;
    }
    // Warm-up: the first run allocates and initialises kernels.
    await embedder.embed([new Uint8Array(DEEP_INPUT_BYTES)]);
    return embedder;
  }

  /**
   * Embeds a batch of 224×224 RGB images (3 bytes/pixel each). Returns n×dim floats, row i the
   * L2-normalised embedding of batch[i]. Large batches run in chunks of MAX_DEEP_BATCH.
   */
  async embed(batch: Uint8Array[]): Promise<Float32Array> {
    if (this.disposed) throw new NitamonoError('INVALID_ARGUMENT', 'DeepEmbedder has been disposed');
    if (!Array.isArray(batch)) throw invalid('embed expects an array of 224×224 RGB buffers');
    batch.forEach((img, i) => {
      if (!(img instanceof Uint8Array) || img.length !== DEEP_INPUT_BYTES) {
        throw invalid(`embed: image ${i} must be a 224×224 RGB Uint8Array (${DEEP_INPUT_BYTES} bytes), got ${(img as Uint8Array)?.length ?? typeof img}`);
      }
    });
    const out = new Float32Array(batch.length * this.dim);
    const tf = this.tf;
    for (let start = 0; start < batch.length; start += MAX_DEEP_BATCH) {
      const chunk = batch.slice(start, start + MAX_DEEP_BATCH);
      const input = new Float32Array(chunk.length * DEEP_INPUT_BYTES);
      toFloatInput(chunk, input);
      const x = tf.tensor4d(input, [chunk.length, DEEP_INPUT_SIZE, DEEP_INPUT_SIZE, 3], 'float32');
      let y: TF.Tensor | undefined;
      try {
        y = this.run(x);
        const v = (await y.data()) as Float32Array;
        if (v.length !== chunk.length * this.dim) {
          throw new NitamonoError('INVALID_ARGUMENT', `model returned ${v.length} values for ${chunk.length} images, expected dim ${this.dim}`);
        }
        out.set(v, start * this.dim);
      } finally {
        x.dispose();
        y?.dispose();
      }
    }
    l2Normalize(out, this.dim, true);
    return out;
  }

  /**
   * The raw activations of one node of a MobileNetV2-mid graph for a batch (n×h×w×c, row-major),
   * each node run on its own: the reference the pooled models are checked against.
   */
  async nodeActivations(batch: Uint8Array[], node: string): Promise<{ data: Float32Array; shape: number[] }> {
    if (!this.graph) throw invalid(`${this.model} is not a graph model`);
    const input = new Float32Array(batch.length * DEEP_INPUT_BYTES);
    toFloatInput(batch, input);
    const x = this.tf.tensor4d(input, [batch.length, DEEP_INPUT_SIZE, DEEP_INPUT_SIZE, 3], 'float32');
    try {
      const y = this.graph.execute(x, node) as TF.Tensor;
      try {
        return { data: (await y.data()) as Float32Array, shape: y.shape };
      } finally {
        y.dispose();
      }
    } finally {
      x.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const m of this.owned) m.dispose();
  }
}

/** Where the bundled model files live (for documentation and tests). */
export function bundledModelDir(model: DeepModel): string {
  const require = createRequire(import.meta.url);
  // 'nsfwjs' resolves to …/nsfwjs/dist/cjs/index.js; the bundles are in …/nsfwjs/dist/models/.
  const dist = dirname(dirname(require.resolve('nsfwjs')));
  return join(dist, 'models', model === 'mobilenetv2-pooled' ? 'mobilenet_v2' : 'mobilenet_v2_mid');
}
