/**
 * Training throughput per backend for fixed encoder shapes: full-parameter fine-tuning of the
 * layer stack against PEFT configurations (LoRA, adapters, prefix-tuning), forward + backward +
 * AdamW update per step. Prints a table of ms/step and tokens/s.
 *
 * Usage: `npx tsx workers/bench/bench-train-peft.ts [mode ...]`, modes `wasm` (plain wasm),
 * `wasm-native` (wasm with the native BLAS kernels of workers/native, when built) and `cpu`;
 * default: all three. Run it on an otherwise idle machine; the modes run one after another.
 */
import type { Scalar, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { EncoderShape, PeftConfig } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { selectBackend } from '../backend.js';
import type { EncoderInput } from '../model/encoder.js';
import { BertEncoder } from '../model/encoder.js';
import { trainingContext } from '../model/forward-context.js';
import { SequenceClassificationHead } from '../model/head.js';
import type { EncoderWeights, LayerNormWeights, LinearWeights } from '../model/weights.js';
import { createRandomWeights, disposeWeights } from '../model/weights.js';
import { buildPeftModules } from '../peft/build.js';
import { AdamW } from '../train/adamw.js';

const SHAPE: EncoderShape = { vocabSize: 4096, hiddenSize: 128, numLayers: 4, numHeads: 4, intermediateSize: 512, maxPositions: 128, typeVocabSize: 2 };
const BATCH = 16;
const SEQ = 64;
const all = [0, 1, 2, 3];

/** `full` trains every layer weight (embeddings stay frozen: tfjs-wasm has no gradient for gather). */
const CONFIGS: [string, PeftConfig | 'full'][] = [
  ['full layer stack', 'full'],
  ['head only', {}],
  ['LoRA r8 q,v', { lora: { rank: 8, alpha: 16, dropout: 0.1, targets: ['query', 'value'], layers: all } }],
  ['Pfeiffer adapter m8', { serialAdapter: { placement: 'pfeiffer', size: 8, layers: all, activation: 'relu' } }],
  ['parallel adapter m64', { parallelAdapter: { size: 64, layers: all, scaling: 4, activation: 'relu' } }],
  ['prefix p20 (MLP 128)', { prefix: { length: 20, layers: all, reparamSize: 128 } }],
  ['AutoPEFT point', { serialAdapter: { placement: 'pfeiffer', size: 16, layers: all, activation: 'relu' }, parallelAdapter: { size: 16, layers: all, scaling: 4, activation: 'relu' }, prefix: { length: 8, layers: all, reparamSize: 128 } }],
];

function batch(tf: Tf): EncoderInput {
  const ids = new Int32Array(BATCH * SEQ).map((_, i) => 3 + ((i * 2654435761) >>> 0) % (SHAPE.vocabSize - 3));
  return { ids: tf.tensor2d(ids, [BATCH, SEQ], 'int32'), mask: tf.ones([BATCH, SEQ]) as Tensor2D };
}

/** Mean ms of `timed` steps after `warmup` untimed ones, and the number of trained parameters. */
function measure(tf: Tf, weights: EncoderWeights, config: PeftConfig | 'full', warmup: number, timed: number): { ms: number; params: number } {
  let encoder: BertEncoder;
  let baseVariables: Variable[] = [];
  let trainWeights = weights;
  if (config === 'full') {
    const asVariable = <T extends Tensor2D | Tensor1D>(t: T): T => {
      const v = tf.variable(t.clone(), true);
      baseVariables.push(v);
      return v as unknown as T;
    };
    trainWeights = {
      ...weights,
      layers: weights.layers.map((l) => {
        const lin = (w: LinearWeights): LinearWeights => ({ kernel: asVariable(w.kernel), bias: asVariable(w.bias) });
        const ln = (w: LayerNormWeights): LayerNormWeights => ({ gamma: asVariable(w.gamma), beta: asVariable(w.beta) });
        return {
          query: lin(l.query), key: lin(l.key), value: lin(l.value), attentionOutput: lin(l.attentionOutput), attentionLayerNorm: ln(l.attentionLayerNorm),
          ffnIn: lin(l.ffnIn), ffnOut: lin(l.ffnOut), outputLayerNorm: ln(l.outputLayerNorm),
        };
      }),
    };
    encoder = new BertEncoder(tf, SHAPE, trainWeights, { frozenKernels: false });
  } else {
    encoder = new BertEncoder(tf, SHAPE, weights);
  }
  const modules = config === 'full' ? [] : buildPeftModules(tf, config, SHAPE, 1, { weights });
  const head = new SequenceClassificationHead(tf, 'bert', SHAPE.hiddenSize, 2, 1, 0.1);
  const variables = [...baseVariables, ...modules.flatMap((m) => [...m.variables.values()]), ...head.variables.values()];
  const optimizer = new AdamW(tf, variables, { weightDecay: 0.01 });
  const input = batch(tf);
  const targets = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % 2), 'int32'), 2));
  const step = (i: number): void => {
    const ctx = trainingContext(tf, i);
    const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(targets, head.forward(encoder, encoder.encode(input, modules, ctx), ctx)) as Scalar, 1e-4, true)!;
    loss.dataSync();
    loss.dispose();
  };
  for (let i = 0; i < warmup; i++) step(i);
  const start = performance.now();
  for (let i = 0; i < timed; i++) step(warmup + i);
  const ms = (performance.now() - start) / timed;
  const params = variables.reduce((sum, v) => sum + v.size, 0);
  optimizer.dispose();
  head.dispose();
  for (const m of modules) m.dispose();
  encoder.dispose();
  tf.dispose([input.ids, input.mask, targets, ...baseVariables]);
  baseVariables = [];
  return { ms, params };
}

const modes = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['wasm', 'wasm-native', 'cpu'];
console.log(`shape: d=${SHAPE.hiddenSize}, ${SHAPE.numLayers} layers, ${SHAPE.numHeads} heads, ff=${SHAPE.intermediateSize}; batch ${BATCH} x ${SEQ} tokens; AdamW; dropout 0.1`);
const rows: string[][] = [['backend', 'configuration', 'trained params', 'ms/step', 'tokens/s']];
for (const mode of modes) {
  const native = mode === 'wasm-native';
  const backend = await selectBackend({ prefer: native ? 'wasm' : mode, nativeKernels: native, log: () => {} });
  if (native && (backend.nativeKernels ?? []).length === 0) {
    console.log('wasm-native: no native kernels available (addon not built); skipped');
    continue;
  }
  const label = native ? 'wasm+native' : backend.name;
  const tf = backend.tf;
  const weights = createRandomWeights(tf, SHAPE, 7);
  const slow = backend.name === 'cpu';
  for (const [name, config] of CONFIGS) {
    const { ms, params } = measure(tf, weights, config, slow ? 1 : 2, slow ? 3 : 10);
    rows.push([label, name, String(params), ms.toFixed(1), ((BATCH * SEQ * 1000) / ms).toFixed(0)]);
  }
  disposeWeights(weights);
}
const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
