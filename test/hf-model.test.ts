import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor2D } from '@tensorflow/tfjs';
import { countHeadParams, countPeftParams } from '../search/param-count.js';
import type { SelectedBackend, Tf } from '../workers/backend.js';
import { selectBackend } from '../workers/backend.js';
import { InvalidTrialError } from '../workers/errors.js';
import type { BaseModel } from '../workers/model/base-model.js';
import { getBaseModel } from '../workers/model/base-model.js';
import { inferenceContext } from '../workers/model/forward-context.js';
import { SequenceClassificationHead } from '../workers/model/head.js';
import { parseHfConfig } from '../workers/model/hf-config.js';
import { loadHfModelDir } from '../workers/model/hf-model.js';
import { bertPreTokenize, bertWords } from '../workers/model/hf-tokenizer.js';
import { floatToHalf, halfToFloat, parseSafetensors, writeSafetensors } from '../workers/model/safetensors.js';
import { hfDirEntry, registerBaseModel } from '../workers/models/catalog.js';
import { trainTrial } from '../workers/train/train-trial.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hf');

interface Reference {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids?: number[][];
  last_hidden_state: number[][][];
  pooler_output?: number[][];
  logits: number[][];
}
const reference = JSON.parse(readFileSync(path.join(FIXTURES, 'reference-outputs.json'), 'utf8')) as Record<'bert' | 'roberta', Reference>;

let backend: SelectedBackend;
let tf: Tf;
let scratch: string;

beforeAll(async () => {
  backend = await selectBackend({ prefer: 'wasm', log: () => {} });
  tf = backend.tf;
  scratch = mkdtempSync(path.join(tmpdir(), 'autopeft-hf-'));
  registerBaseModel('fixture-bert', hfDirEntry(path.join(FIXTURES, 'bert')));
  registerBaseModel('fixture-roberta', hfDirEntry(path.join(FIXTURES, 'roberta')));
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Hidden states and head output of the model on the reference inputs. */
function run(model: BaseModel, ref: Reference): { hidden: Float32Array; pooled?: Float32Array; logits: Float32Array } {
  const ids = tf.tensor2d(ref.input_ids.flat(), [ref.input_ids.length, ref.input_ids[0]!.length], 'int32') as Tensor2D;
  const mask = tf.tensor2d(ref.attention_mask.flat(), [ids.shape[0], ids.shape[1]]) as Tensor2D;
  const typeIds = ref.token_type_ids ? (tf.tensor2d(ref.token_type_ids.flat(), ids.shape, 'int32') as Tensor2D) : undefined;
  const outputs = ref.logits[0]!.length;
  const head = new SequenceClassificationHead(tf, model.headKind, model.shape.hiddenSize, outputs, 1, 0.1, model.checkpointHead);
  const ctx = inferenceContext();
  const [hidden, logits, pooled] = tf.tidy(() => {
    const out = model.encoder.encode({ ids, mask, typeIds }, [], ctx);
    const result = [out.hidden, head.forward(model.encoder, out, ctx)];
    if (model.encoder.weights.pooler) result.push(model.encoder.pool(model.encoder.firstToken(out)));
    return result;
  });
  const values = { hidden: hidden!.dataSync() as Float32Array, logits: logits!.dataSync() as Float32Array, pooled: pooled?.dataSync() as Float32Array | undefined };
  tf.dispose([ids, mask, ...(typeIds ? [typeIds] : []), hidden!, logits!, ...(pooled ? [pooled] : [])]);
  head.dispose();
  return values;
}

describe('Hugging Face checkpoints', () => {
  it('BERT (old gamma/beta names, float32, pair inputs): hidden states, pooler and logits match the reference within 1e-4', () => {
    const model = getBaseModel(tf, 'fixture-bert');
    expect(model.modelType).toBe('bert');
    expect(model.shape).toEqual({ vocabSize: 100, hiddenSize: 48, numLayers: 2, numHeads: 3, intermediateSize: 96, maxPositions: 64, typeVocabSize: 2, headKind: 'bert' });
    const out = run(model, reference.bert);
    expect(maxAbsDiff(out.hidden, reference.bert.last_hidden_state.flat(2))).toBeLessThan(1e-4);
    expect(maxAbsDiff(out.pooled!, reference.bert.pooler_output!.flat())).toBeLessThan(1e-4);
    expect(maxAbsDiff(out.logits, reference.bert.logits.flat())).toBeLessThan(1e-4);
  });

  it('RoBERTa (float16, padding-offset positions, no pooler): hidden states and logits match the reference within 1e-4', () => {
    const model = getBaseModel(tf, 'fixture-roberta');
    expect(model.modelType).toBe('roberta');
    expect(model.encoder.weights.pooler).toBeUndefined();
    expect(model.maxSequenceLength).toBe(64);
    const out = run(model, reference.roberta);
    expect(maxAbsDiff(out.hidden, reference.roberta.last_hidden_state.flat(2))).toBeLessThan(1e-4);
    expect(maxAbsDiff(out.logits, reference.roberta.logits.flat())).toBeLessThan(1e-4);
  });

  it('trains a trial on a RoBERTa directory with its two-layer head, counts matching the closed forms', async () => {
    const peft = { lora: { rank: 2, alpha: 4, dropout: 0, targets: ['query' as const, 'value' as const], layers: [0, 1] } };
    const result = await trainTrial(
      {
        studyId: 's',
        trialNumber: 1,
        task: { dataset: 'spam-assassin', baseModel: 'fixture-roberta', metric: 'accuracy' },
        peft,
        training: { steps: 2, batchSize: 4, learningRate: 1e-3, evalEvery: 2, maxSeqLength: 16, trainExamples: 8, devExamples: 8, seed: 1, dataSeed: 1 },
      },
      { backend },
    );
    expect(result.trainableParams).toBe(countPeftParams(peft, getBaseModel(tf, 'fixture-roberta').shape) + countHeadParams(getBaseModel(tf, 'fixture-roberta').shape, 2));
    // The closed form the scheduler uses knows the RoBERTa head from the model's config.json.
    expect(countHeadParams(getBaseModel(tf, 'fixture-roberta').shape, 2)).toBe(48 * 48 + 48 + 48 * 2 + 2);
    expect(result.trainableParams).toBe(2 * 2 * 2 * (48 + 48) + 48 * 48 + 48 + 48 * 2 + 2);
  });
});

describe('reference match on every backend', () => {
  afterAll(async () => {
    backend = await selectBackend({ prefer: 'wasm', log: () => {} });
    tf = backend.tf;
  });

  it.each([
    ['wasm without native kernels', { prefer: 'wasm', nativeKernels: false }],
    ['cpu', { prefer: 'cpu' }],
  ] as const)('%s', async (_name, options) => {
    backend = await selectBackend({ ...options, log: () => {} });
    tf = backend.tf;
    for (const name of ['bert', 'roberta'] as const) {
      const out = run(getBaseModel(tf, `fixture-${name}`), reference[name]);
      expect(maxAbsDiff(out.hidden, reference[name].last_hidden_state.flat(2))).toBeLessThan(1e-4);
      expect(maxAbsDiff(out.logits, reference[name].logits.flat())).toBeLessThan(1e-4);
    }
  });
});

describe('Hugging Face tokenizers', () => {
  it('WordPiece from vocab.txt: lower-casing, accents, word pieces, unknown words', () => {
    const { tokenizer } = getBaseModel(tf, 'fixture-bert');
    const vocab = readFileSync(path.join(FIXTURES, 'bert', 'vocab.txt'), 'utf8').split('\n');
    const id = (t: string): number => vocab.indexOf(t);
    const enc = tokenizer.encodeBatch(['The CAT sat on the mat.', 'Unaffable café, naïve ZEBRA!', 'qqq playing'], 12);
    const row = (r: number): number[] => Array.from(enc.ids.subarray(r * 12, (r + 1) * 12));
    expect(row(0)).toEqual(['[CLS]', 'the', 'cat', 'sat', 'on', 'the', 'mat', '.', '[SEP]', '[PAD]', '[PAD]', '[PAD]'].map(id));
    expect(row(1)).toEqual(['[CLS]', 'un', '##aff', '##able', 'cafe', ',', 'naive', 'ze', '##br', '##a', '!', '[SEP]'].map(id));
    expect(row(2).slice(0, 5)).toEqual(['[CLS]', '[UNK]', 'play', '##ing', '[SEP]'].map(id));
    expect(Array.from(enc.mask.subarray(0, 12))).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    expect(bertPreTokenize(' Hello\tworld\u0000,  \u4e2d\u6587 ', true, true)).toEqual(['hello', 'world', ',', '\u4e2d', '\u6587']);
  });

  it('WordPiece reads a long text only as far as the sequence needs, with the same ids as reading all of it', () => {
    const { tokenizer } = getBaseModel(tf, 'fixture-bert');
    const text = 'The CAT sat on the mat, naïve ZEBRA! '.repeat(2000);
    const head = text.slice(0, 400); // about 130 tokens: more than the sequence holds
    const long = tokenizer.encodeBatch([text], 32);
    expect(Array.from(long.ids)).toEqual(Array.from(tokenizer.encodeBatch([head], 32).ids));
    expect(long.ids[31]).toBe(tokenizer.encodeBatch(['x'], 3).ids[2]); // ends with [SEP]
    const words = bertWords(text, true, true);
    expect([words.next().value, words.next().value, words.next().value]).toEqual(['the', 'cat', 'sat']);
  });

  it('WordPiece pairs: [CLS] a [SEP] b [SEP], types 0 then 1, longest text truncated first', () => {
    const { tokenizer } = getBaseModel(tf, 'fixture-bert');
    const vocab = readFileSync(path.join(FIXTURES, 'bert', 'vocab.txt'), 'utf8').split('\n');
    const id = (t: string): number => vocab.indexOf(t);
    const enc = tokenizer.encodeBatch(['the cat sat on the mat', 'hello'], 9, ['hello world', undefined]);
    expect(Array.from(enc.ids.subarray(0, 9))).toEqual(['[CLS]', 'the', 'cat', 'sat', '[SEP]', 'hello', 'world', '[SEP]', '[PAD]'].map(id));
    expect(Array.from(enc.typeIds.subarray(0, 9))).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 0]);
    expect(Array.from(enc.ids.subarray(9, 12))).toEqual(['[CLS]', 'hello', '[SEP]'].map(id));
  });

  it('byte-level BPE from tokenizer.json: merges, the space symbol, <s> a </s></s> b </s>', () => {
    const { tokenizer } = getBaseModel(tf, 'fixture-roberta');
    // vocab: <s>0 <pad>1 </s>2 <unk>3 ... hello16 Ġworld21 ab24 Ġa25, '!' 12
    const enc = tokenizer.encodeBatch(['hello world!', 'hello'], 10, [undefined, 'ab a']);
    expect(Array.from(enc.ids.subarray(0, 10))).toEqual([0, 16, 21, 12, 2, 1, 1, 1, 1, 1]);
    expect(Array.from(enc.ids.subarray(10, 20))).toEqual([0, 16, 2, 2, 24, 25, 2, 1, 1, 1]);
    expect(Array.from(enc.typeIds)).toEqual(new Array<number>(20).fill(0));
    expect(tokenizer.padId).toBe(1);
    // Characters outside the vocabulary become <unk>.
    expect(Array.from(tokenizer.encodeBatch(['hq'], 4).ids)).toEqual([0, 4, 3, 2]);
  });
});

describe('corrupt or unusable checkpoints', () => {
  function copyModel(name: string): string {
    const dir = mkdtempSync(path.join(scratch, `${name}-`));
    for (const file of ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json', 'tokenizer.json']) {
      try {
        copyFileSync(path.join(FIXTURES, name, file), path.join(dir, file));
      } catch {
        // not every model has every file
      }
    }
    return dir;
  }

  function rewrite(dir: string, change: (tensors: { name: string; shape: number[]; data: Float32Array }[]) => void): void {
    const file = path.join(dir, 'model.safetensors');
    const parsed = parseSafetensors(readFileSync(file), file);
    const tensors = [...parsed.entries].map(([name, e]) => ({ name, shape: e.shape, data: parsed.read(name) }));
    change(tensors);
    writeFileSync(file, writeSafetensors(tensors, { format: 'pt' }));
  }

  it('names a missing tensor', () => {
    const dir = copyModel('bert');
    rewrite(dir, (tensors) => tensors.splice(tensors.findIndex((t) => t.name === 'bert.encoder.layer.1.attention.self.key.weight'), 1));
    expect(() => loadHfModelDir(tf, dir)).toThrow(InvalidTrialError);
    expect(() => loadHfModelDir(tf, dir)).toThrow(/tensor "bert\.encoder\.layer\.1\.attention\.self\.key\.weight" is missing/);
  });

  it('names a misshapen tensor with both shapes', () => {
    const dir = copyModel('roberta');
    rewrite(dir, (tensors) => {
      const t = tensors.find((x) => x.name === 'roberta.encoder.layer.0.intermediate.dense.weight')!;
      t.shape = [48, 96];
    });
    expect(() => loadHfModelDir(tf, dir)).toThrow(/tensor "roberta\.encoder\.layer\.0\.intermediate\.dense\.weight" has shape \[48, 96\], expected \[96, 48\]/);
  });

  it('names the tensor a truncated file cuts off', () => {
    const dir = copyModel('bert');
    const file = path.join(dir, 'model.safetensors');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 1000));
    expect(() => loadHfModelDir(tf, dir)).toThrow(/tensor "[^"]+" lies outside the file .* truncated/);
  });

  it('rejects a garbled header, an unsupported activation and a missing tokenizer by name', () => {
    const dir = copyModel('bert');
    writeFileSync(path.join(dir, 'model.safetensors'), Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 34, 120, 0, 0, 0, 0, 0]));
    expect(() => loadHfModelDir(tf, dir)).toThrow(/model\.safetensors: header is not valid JSON/);
    expect(() => parseHfConfig('{"model_type":"bert","hidden_act":"relu"}', 'config.json')).toThrow(/config\.json: hidden_act "relu" is not supported/);
    expect(() => parseHfConfig('{"model_type":"gpt2"}', 'config.json')).toThrow(/model_type must be "bert" or "roberta", got "gpt2"/);
    const noTokenizer = copyModel('bert');
    rmSync(path.join(noTokenizer, 'vocab.txt'));
    expect(() => loadHfModelDir(tf, noTokenizer)).toThrow(/has no tokenizer: expected tokenizer\.json, vocab\.txt/);
  });
});

describe('safetensors', () => {
  it('round-trips F32, F16 and BF16 with metadata', () => {
    const data = new Float32Array([0, 1, -2.5, 65504, 1e-3, 3.140625]);
    const bytes = writeSafetensors(
      [
        { name: 'b', shape: [2, 3], data, dtype: 'F16' },
        { name: 'a', shape: [6], data },
        { name: 'c', shape: [3, 2], data, dtype: 'BF16' },
      ],
      { format: 'pt' },
    );
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const file = parseSafetensors(bytes, 'x');
    expect(file.metadata).toEqual({ format: 'pt' });
    expect([...file.entries.keys()]).toEqual(['a', 'b', 'c']);
    expect(file.entries.get('b')).toMatchObject({ dtype: 'F16', shape: [2, 3] });
    expect(Array.from(file.read('a'))).toEqual(Array.from(data));
    expect(maxAbsDiff(file.read('b'), data)).toBeLessThan(1e-3);
    // bfloat16 keeps 8 significant bits: relative error at most 2^-9.
    file.read('c').forEach((v, i) => expect(Math.abs(v - data[i]!)).toBeLessThanOrEqual(Math.abs(data[i]!) * 2 ** -9));
    expect(file.read('c')[5]).toBe(3.140625);
  });

  it('converts half floats exactly, including subnormals and rounding to even', () => {
    for (const bits of [0x0000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0xc000, 0x7bff, 0x7c00, 0xfc00]) {
      expect(floatToHalf(halfToFloat(bits))).toBe(bits);
    }
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // halfway between 1 and the next half: even
    expect(floatToHalf(1e6)).toBe(0x7c00);
  });
});
