/**
 * A tiny encoder (d 16, 3 layers) with inputs, output probes and a short training loop, shared
 * by the PEFT module tests and the per-method registry suite.
 */
import type { Scalar, Tensor, Tensor2D } from '@tensorflow/tfjs';
import { expect } from 'vitest';
import type { EncoderShape } from '../../search/types.js';
import type { Tf } from '../../workers/backend.js';
import type { EncoderInput } from '../../workers/model/encoder.js';
import { BertEncoder } from '../../workers/model/encoder.js';
import { inferenceContext } from '../../workers/model/forward-context.js';
import type { SequenceClassificationHead } from '../../workers/model/head.js';
import type { EncoderWeights, LinearWeights } from '../../workers/model/weights.js';
import { createRandomWeights, disposeWeights } from '../../workers/model/weights.js';
import type { PeftModule } from '../../workers/peft/peft-module.js';
import { AdamW } from '../../workers/train/adamw.js';
import { peftTrainingStep } from '../../workers/train/peft-step.js';

export const SHAPE: EncoderShape = { vocabSize: 50, hiddenSize: 16, numLayers: 3, numHeads: 2, intermediateSize: 32, maxPositions: 40, typeVocabSize: 2 };
export const BATCH = 4;
export const SEQ = 6;
const LABELS = [0, 1, 1, 0];

/** The largest absolute difference of two equally long arrays. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Copies of named tensors' values. */
export function snapshot(tensors: Iterable<[string, Tensor]>): Map<string, Float32Array> {
  return new Map([...tensors].map(([name, t]) => [name, t.dataSync() as Float32Array]));
}

/** The tiny encoder and what the tests do with it. */
export interface PeftBench {
  tf: Tf;
  weights: EncoderWeights;
  encoder: BertEncoder;
  makeInput(seed: number): EncoderInput;
  disposeInput(input: EncoderInput): void;
  /** Last hidden states of the text positions (prompt positions left out), as a flat array. */
  hiddenOf(enc: BertEncoder, modules: readonly PeftModule[], input: EncoderInput): Float32Array;
  /** A few AdamW steps fitting fixed labels, dropout off, with the modules' training hooks; returns the losses. */
  train(modules: readonly PeftModule[], head: SequenceClassificationHead, input: EncoderInput, steps: number): number[];
  dispose(): void;
}

/**
 * The bench on `tf`. Kernels are 8x BERT's initial scale: with N(0, 0.02^2) weights a tiny
 * model's outputs hardly depend on the input, and nothing (prompts especially) could show that it learns.
 */
export function createPeftBench(tf: Tf): PeftBench {
  const random = createRandomWeights(tf, SHAPE, 99);
  const scaled = (w: LinearWeights): LinearWeights => ({ kernel: tf.mul<Tensor2D>(w.kernel, 8), bias: w.bias });
  const weights: EncoderWeights = {
    ...random,
    layers: random.layers.map((l) => ({
      ...l,
      query: scaled(l.query),
      key: scaled(l.key),
      value: scaled(l.value),
      attentionOutput: scaled(l.attentionOutput),
      ffnIn: scaled(l.ffnIn),
      ffnOut: scaled(l.ffnOut),
    })),
  };
  for (const l of random.layers) tf.dispose([l.query.kernel, l.key.kernel, l.value.kernel, l.attentionOutput.kernel, l.ffnIn.kernel, l.ffnOut.kernel]);
  const encoder = new BertEncoder(tf, SHAPE, weights);

  const makeInput = (seed: number): EncoderInput => {
    const ids = new Int32Array(BATCH * SEQ);
    const mask = new Float32Array(BATCH * SEQ);
    const types = new Int32Array(BATCH * SEQ);
    for (let b = 0; b < BATCH; b++) {
      const length = SEQ - (b % 3);
      for (let s = 0; s < SEQ; s++) {
        const real = s < length;
        ids[b * SEQ + s] = real ? 3 + ((b * 7 + s * 13 + seed) % (SHAPE.vocabSize - 3)) : 0;
        mask[b * SEQ + s] = real ? 1 : 0;
        types[b * SEQ + s] = real && s >= 3 ? 1 : 0;
      }
    }
    return { ids: tf.tensor2d(ids, [BATCH, SEQ], 'int32'), mask: tf.tensor2d(mask, [BATCH, SEQ]), typeIds: tf.tensor2d(types, [BATCH, SEQ], 'int32') };
  };

  const hiddenOf = (enc: BertEncoder, modules: readonly PeftModule[], input: EncoderInput): Float32Array =>
    tf
      .tidy(() => {
        const out = enc.encode(input, modules, inferenceContext());
        const prompt = out.seqLength - SEQ;
        return tf.slice(tf.reshape(out.hidden, [BATCH, out.seqLength, -1]), [0, prompt, 0], [-1, SEQ, -1]);
      })
      .dataSync() as Float32Array;

  const train = (modules: readonly PeftModule[], head: SequenceClassificationHead, input: EncoderInput, steps: number): number[] => {
    const variables = [...modules.flatMap((m) => [...m.variables.values()]), ...head.variables.values()];
    const optimizer = new AdamW(tf, variables, { weightDecay: 0.01 });
    const targets = tf.tidy(() => tf.oneHot(tf.tensor1d(LABELS, 'int32'), 2));
    const losses: number[] = [];
    // Dropout off: a tiny random model's loss moves little, and dropout noise would hide it.
    const ctx = { training: true, dropout: <T,>(x: T): T => x };
    try {
      for (let step = 0; step < steps; step++) {
        const loss = peftTrainingStep(
          tf,
          optimizer,
          modules,
          () => tf.losses.softmaxCrossEntropy(targets, head.forward(encoder, encoder.encode(input, modules, ctx), ctx)) as Scalar,
          2e-2,
          { step: step + 1, totalSteps: steps },
          true,
        )!;
        losses.push(loss.dataSync()[0]!);
        loss.dispose();
      }
    } finally {
      optimizer.dispose();
      targets.dispose();
    }
    return losses;
  };

  return {
    tf,
    weights,
    encoder,
    makeInput,
    disposeInput: (input) => tf.dispose([input.ids, input.mask, input.typeIds!]),
    hiddenOf,
    train,
    dispose: () => {
      encoder.dispose();
      disposeWeights(weights);
    },
  };
}
