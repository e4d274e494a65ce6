import type { Tensor2D } from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EncoderShape, PeftConfig } from '../search/types.js';
import type { Tf } from '../workers/backend.js';
import { selectBackend } from '../workers/backend.js';
import { BertEncoder } from '../workers/model/encoder.js';
import { inferenceContext } from '../workers/model/forward-context.js';
import type { EncoderWeights } from '../workers/model/weights.js';
import { createRandomWeights, disposeWeights } from '../workers/model/weights.js';
import { BASE_MODELS } from '../workers/models/catalog.js';
import { buildPeftModules } from '../workers/peft/build.js';
import type { EncodedBatch } from '../workers/model/encoding.js';
import { EncodedSetCache } from '../workers/train/encoded-cache.js';

const shape: EncoderShape = { ...BASE_MODELS['tiny-random']!.shape, numLayers: 3 };

/** Modules that touch every hook of the last layer: LoRA on every projection, adapters, prefixes, (IA)3. */
const PEFT: PeftConfig = {
  lora: { rank: 4, alpha: 8, dropout: 0.1, targets: ['query', 'key', 'value', 'attentionOutput', 'ffnIn', 'ffnOut'], layers: [0, 1, 2] },
  serialAdapter: { placement: 'houlsby', size: 8, layers: [2], activation: 'relu' },
  parallelAdapter: { size: 8, layers: [2], activation: 'relu', scaling: 2 },
  prefix: { length: 3, layers: [1, 2], reparamSize: 16 },
  ia3: { layers: [2] },
};

describe.each(['wasm', 'cpu'] as const)('fast evaluation on %s', (backendName) => {
  let tf: Tf;
  let weights: EncoderWeights;
  beforeAll(async () => {
    tf = (await selectBackend({ prefer: backendName, log: () => {} })).tf;
    weights = createRandomWeights(tf, shape, 5);
  });
  afterAll(() => disposeWeights(weights));

  it('the last layer on first tokens only, and batches cut after the last real token, give the full pass\'s first-token states', () => {
    const encoder = new BertEncoder(tf, shape, weights);
    const modules = buildPeftModules(tf, PEFT, shape, 3);
    // Give the zero-initialised parts (LoRA B, adapter up) values, so that they matter.
    for (const module of modules) for (const v of module.variables.values()) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', v.size));
    const batch = 3;
    const full = 9;
    const lengths = [4, 6, 2];
    const ids = tf.tensor2d(Int32Array.from({ length: batch * full }, (_, i) => (i % full < lengths[Math.floor(i / full)]! ? 5 + ((i * 31) % 50) : 0)), [batch, full], 'int32');
    const mask = tf.tensor2d(Float32Array.from({ length: batch * full }, (_, i) => (i % full < lengths[Math.floor(i / full)]! ? 1 : 0)), [batch, full]);
    const ctx = inferenceContext();
    const first = (out: ReturnType<BertEncoder['encode']>): Float32Array => tf.tidy(() => encoder.firstToken(out)).dataSync() as Float32Array;
    const reference = tf.tidy(() => first(encoder.encode({ ids, mask }, modules, ctx)));
    const fast = tf.tidy(() => first(encoder.encode({ ids, mask }, modules, ctx, true)));
    const trimmedIds = tf.slice(ids, [0, 0], [batch, 6]) as Tensor2D;
    const trimmedMask = tf.slice(mask, [0, 0], [batch, 6]) as Tensor2D;
    const trimmed = tf.tidy(() => first(encoder.encode({ ids: trimmedIds, mask: trimmedMask }, modules, ctx, true)));
    const scale = Math.max(...reference.map(Math.abs));
    expect(scale).toBeGreaterThan(0.1);
    for (const [what, values] of [['first token only', fast], ['trimmed', trimmed]] as const) {
      const error = Math.max(...values.map((v, i) => Math.abs(v - reference[i]!)));
      expect(error, what).toBeLessThan(1e-5 * scale);
    }
    tf.dispose([ids, mask, trimmedIds, trimmedMask]);
    for (const module of modules) module.dispose();
    encoder.dispose();
  });
});

describe('the tokenised-set cache', () => {
  const set = (tokens: number, fill: number): EncodedBatch => ({
    count: 1,
    seqLength: tokens,
    ids: new Int32Array(tokens).fill(fill),
    mask: new Float32Array(tokens),
    typeIds: new Int32Array(tokens),
  });

  it('returns the cached set for the same source, tokenizer and detail, and stays within its bytes, oldest out first', () => {
    const cache = new EncodedSetCache(3 * 12 * 10);
    const source = [{}];
    const tokenizer = {};
    let encodings = 0;
    const get = (detail: string, src: object = source): EncodedBatch => cache.get({ source: src, tokenizer, detail }, () => set(10, ++encodings));
    const a = get('a');
    expect(get('a')).toBe(a);
    expect(encodings).toBe(1);
    expect(get('a', [{}])).not.toBe(a); // another dataset object: another set
    get('b');
    get('a'); // a is now the most recently used
    get('c'); // over the bound: the oldest (the other dataset's set) goes
    expect(cache.stats()).toEqual({ sets: 3, bytes: 360 });
    expect(get('a')).toBe(a);
    expect(encodings).toBe(4);
    // A set larger than the whole cache is returned, not kept.
    const huge = cache.get({ source, tokenizer, detail: 'huge' }, () => set(100, 0));
    expect(huge.ids.length).toBe(100);
    expect(cache.stats().bytes).toBe(360);
  });
});
