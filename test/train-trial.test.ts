import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scalar, Tensor } from '@tensorflow/tfjs';
import { countBaseParams, countHeadParams, countPeftParams } from '../search/param-count.js';
import type { IntermediateReport, PeftConfig, TrainingConfig } from '../search/types.js';
import type { SelectedBackend } from '../workers/backend.js';
import { selectBackend } from '../workers/backend.js';
import type { Dataset } from '../workers/data/index.js';
import { knownDatasets, loadDataset, stripMailHeaders, takeSubset } from '../workers/data/index.js';
import { DATASET_INFO } from '../workers/data/catalog.js';
import { InvalidTrialError, TrialAbortedError } from '../workers/errors.js';
import type { TrialJobData } from '../workers/job-types.js';
import { BASE_MODELS } from '../workers/models/catalog.js';
import { getBaseModel } from '../workers/model/base-model.js';
import { namedWeights } from '../workers/model/weights.js';
import { AdamW, linearSchedule } from '../workers/train/adamw.js';
import { DEFAULT_OPTIMIZER_SETTINGS, optimizerSettings, trainTrial } from '../workers/train/train-trial.js';

const SHAPE = BASE_MODELS['tiny-random']!.shape;

const LORA: PeftConfig = {
  lora: { rank: 4, alpha: 8, dropout: 0.1, targets: ['query', 'value', 'ffnOut'], layers: [0, 1] },
};

const TINY: TrainingConfig = {
  steps: 10,
  batchSize: 8,
  learningRate: 5e-3,
  evalEvery: 4,
  maxSeqLength: 32,
  trainExamples: 64,
  devExamples: 48,
  seed: 11,
  dataSeed: 11,
};

function job(overrides: { peft?: PeftConfig; training?: Partial<TrainingConfig>; task?: Partial<TrialJobData['task']> } = {}): TrialJobData {
  return {
    studyId: 'study-test',
    trialNumber: 3,
    task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy', ...overrides.task },
    peft: overrides.peft ?? LORA,
    training: { ...TINY, ...overrides.training },
  };
}

let backend: SelectedBackend;
let dataset: Dataset;

beforeAll(async () => {
  backend = await selectBackend({ prefer: 'wasm', log: () => {} });
  dataset = await loadDataset('spam-assassin');
  // Build the cached base model up front so tensor counts below exclude it.
  getBaseModel(backend.tf, 'tiny-random');
}, 60_000);

function snapshotBaseWeights(): Map<string, Float32Array> {
  const weights = getBaseModel(backend.tf, 'tiny-random').encoder.weights;
  return new Map([...namedWeights(weights)].map(([name, tensor]) => [name, tensor.dataSync() as Float32Array]));
}

describe('spam-assassin dataset', () => {
  it('has a fixed 80/20 split of all 6046 messages with ham/spam labels', () => {
    expect(dataset.labels).toEqual(['ham', 'spam']);
    expect(dataset.train.length + dataset.dev.length).toBe(6046);
    expect(dataset.dev.length).toBe(Math.round(6046 * 0.2));
    const spam = [...dataset.train, ...dataset.dev].filter((e) => e.label === 1).length;
    expect(spam).toBe(500 + 1396);
    // Bodies only: no message starts with the mbox "From " line or a Received header.
    expect(dataset.train.some((e) => /^(From |Received:)/.test(e.text))).toBe(false);
  });

  it('is cached per process and gives deterministic subsets', async () => {
    expect(await loadDataset('spam-assassin')).toBe(dataset);
    const a = takeSubset(dataset.train, 20, 5);
    expect(takeSubset(dataset.train, 20, 5)).toEqual(a);
    expect(takeSubset(dataset.train, 20, 6)).not.toEqual(a);
    expect(a).toHaveLength(20);
  });

  it('strips headers up to the first blank line', () => {
    expect(stripMailHeaders('Subject: hi\r\nTo: x\r\n\r\nbody\n\nmore')).toBe('body\n\nmore');
    expect(stripMailHeaders('no headers here')).toBe('no headers here');
  });

  it('agrees with the dataset catalog the scheduler and API validate against', () => {
    expect(knownDatasets().sort()).toEqual(Object.keys(DATASET_INFO).sort());
    expect(dataset.labels).toEqual(DATASET_INFO['spam-assassin']!.labels);
  });

  it('names an unknown dataset and lists the known ones', async () => {
    await expect(loadDataset('imdb')).rejects.toThrow(/Unknown dataset "imdb"; known datasets: spam-assassin/);
  });
});

// Trials take about a second each on wasm; the margin is for busy CI machines.
describe('trainTrial', { timeout: 30_000 }, () => {
  it('returns a complete result for a tiny LoRA trial', async () => {
    const seen: IntermediateReport[][] = [];
    const result = await trainTrial(job(), { backend, onReport: (reports) => void seen.push(reports), workerName: 'w-test' });

    expect(result.reports.map((r) => r.step)).toEqual([4, 8, 10]);
    expect(result.reports).toHaveLength(Math.ceil(TINY.steps / TINY.evalEvery));
    expect(seen.map((reports) => reports.length)).toEqual([1, 2, 3]);
    expect(seen[2]).toEqual(result.reports);
    for (const { value } of result.reports) expect(value).toBeGreaterThanOrEqual(0);
    expect(result.metric).toBe(Math.max(...result.reports.map((r) => r.value)));
    expect(result.metrics.accuracy).toBe(result.metric);
    expect(result.metrics.f1).toBeGreaterThanOrEqual(0);
    expect(result.metrics.f1).toBeLessThanOrEqual(1);
    expect(result.metric).toBeLessThanOrEqual(1);
    expect(result.majorityBaseline).toBeGreaterThan(0.5);
    expect(result.majorityBaseline).toBeLessThanOrEqual(1);

    expect(result.trainableParams).toBe(countPeftParams(LORA, SHAPE) + countHeadParams(SHAPE, 2));
    expect(result.trainableParams).toBe(2 * (4 * (64 + 64) * 2 + 4 * (256 + 64)) + 64 * 2 + 2);
    expect(result.baseParams).toBe(countBaseParams(SHAPE));
    expect(result.backend).toBe('wasm');
    expect(result.worker).toBe('w-test');
    expect(result.trainSeconds).toBeGreaterThan(0);
  });

  it('trains only the LoRA factors and the head, and leaves the base weights untouched', async () => {
    const before = snapshotBaseWeights();
    const capture = async (learningRate: number): Promise<Map<string, Float32Array>> => {
      const captured = new Map<string, Float32Array>();
      await trainTrial(job({ training: { learningRate } }), {
        backend,
        onTrainedWeights: (weights: ReadonlyMap<string, Tensor>) => {
          for (const [name, tensor] of weights) captured.set(name, tensor.dataSync() as Float32Array);
        },
      });
      return captured;
    };
    const trained = await capture(5e-3);

    const expectedNames = ['classifier.kernel', 'classifier.bias'];
    for (const layer of [0, 1]) {
      for (const path of ['attention.self.query', 'attention.self.value', 'output.dense']) {
        expectedNames.push(`encoder.layer.${layer}.${path}.lora_A.kernel`, `encoder.layer.${layer}.${path}.lora_B.kernel`);
      }
    }
    expect([...trained.keys()].sort()).toEqual(expectedNames.sort());
    // B starts at zero and the head bias at zero: both must have moved.
    for (const [name, values] of trained) {
      if (name.endsWith('lora_B.kernel') || name === 'classifier.bias') {
        expect(values.some((v) => v !== 0), name).toBe(true);
      }
    }
    // A starts from the same seeded values whatever the learning rate, so A trained if it differs.
    const slower = await capture(1e-3);
    const aName = 'encoder.layer.0.attention.self.query.lora_A.kernel';
    expect(Array.from(slower.get(aName)!)).not.toEqual(Array.from(trained.get(aName)!));

    const after = snapshotBaseWeights();
    expect([...after.keys()]).toEqual([...before.keys()]);
    // Byte comparison: a deep equality over the 500k-entry embedding table takes seconds.
    const sameBytes = (a: Float32Array, b: Float32Array): boolean =>
      Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    for (const [name, values] of before) expect(sameBytes(after.get(name)!, values), name).toBe(true);
  });

  it('is deterministic for a seed and frees every tensor it creates', async () => {
    const tf = backend.tf;
    const tensorsBefore = tf.memory().numTensors;
    const first = await trainTrial(job(), { backend });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const second = await trainTrial(job(), { backend });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(second.reports).toEqual(first.reports);
    expect(second.metrics).toEqual(first.metrics);
  });

  it('reduces the training loss when fitting a handful of examples', async () => {
    const losses: number[] = [];
    await trainTrial(
      job({
        peft: { lora: { rank: 4, alpha: 8, dropout: 0, targets: ['query', 'value'], layers: [0, 1] } },
        training: { steps: 30, batchSize: 16, trainExamples: 16, devExamples: 16, learningRate: 2e-2, evalEvery: 30, seed: 7 },
      }),
      { backend, onLoss: (_step, loss) => void losses.push(loss) },
    );
    expect(losses).toHaveLength(30);
    for (const loss of losses) expect(Number.isFinite(loss)).toBe(true);
    // Cross-entropy of two balanced-ish classes starts near ln 2.
    expect(losses[0]).toBeGreaterThan(0.5);
    expect(losses[0]).toBeLessThan(0.9);
    const lastFive = losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
    expect(lastFive).toBeLessThan(0.5 * losses[0]!);
  });

  it('scores by F1 when the task says so, with a matching majority baseline', async () => {
    const result = await trainTrial(job({ task: { metric: 'f1' }, training: { steps: 4, evalEvery: 2 } }), { backend });
    expect(result.reports).toHaveLength(2);
    expect(result.metric).toBe(result.metrics.f1);
    // Ham is the majority class, and always predicting ham finds no spam.
    expect(result.majorityBaseline).toBe(0);
  });

  it('trains the head alone when the configuration has no PEFT module', async () => {
    const result = await trainTrial(job({ peft: {}, training: { steps: 2, evalEvery: 2 } }), { backend });
    expect(result.trainableParams).toBe(countHeadParams(SHAPE, 2));
  });

  it('stops with TrialAbortedError when aborted, and still frees its tensors', async () => {
    const tf = backend.tf;
    const tensorsBefore = tf.memory().numTensors;
    const controller = new AbortController();
    let reports = 0;
    const run = trainTrial(job({ training: { steps: 40, evalEvery: 2 } }), {
      backend,
      signal: controller.signal,
      onReport: () => {
        reports++;
        controller.abort(new Error('study cancelled'));
      },
    });
    await expect(run).rejects.toThrow(TrialAbortedError);
    await expect(run).rejects.toThrow(/study-test#3 aborted: study cancelled/);
    expect(reports).toBe(1);
    expect(tf.memory().numTensors).toBe(tensorsBefore);

    const already = AbortSignal.abort();
    await expect(trainTrial(job(), { backend, signal: already })).rejects.toThrow(TrialAbortedError);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('rejects unknown models and datasets and impossible configurations by name', async () => {
    await expect(trainTrial(job({ task: { baseModel: 'bert-huge' } }), { backend })).rejects.toThrow(
      /Unknown base model "bert-huge"; known base models: tiny-random/,
    );
    await expect(trainTrial(job({ task: { dataset: 'imdb' } }), { backend })).rejects.toThrow(InvalidTrialError);
    const badLayer: PeftConfig = { lora: { ...LORA.lora!, layers: [0, 2] } };
    await expect(trainTrial(job({ peft: badLayer }), { backend })).rejects.toThrow(/layer 2 is outside 0\.\.1/);
    await expect(trainTrial(job({ training: { maxSeqLength: 512 } }), { backend })).rejects.toThrow(/maxSeqLength/);
    await expect(trainTrial(job({ peft: { promptTuning: { length: 10 } }, training: { maxSeqLength: 120 } }), { backend })).rejects.toThrow(
      /maxSeqLength must be at most 118 .*10 positions go to the prompt/,
    );
    // A prefix takes positions too: Hugging Face numbers the real tokens after it.
    await expect(trainTrial(job({ peft: { prefix: { length: 20, layers: [0, 1], reparamSize: 0 } }, training: { maxSeqLength: 120 } }), { backend })).rejects.toThrow(
      /maxSeqLength must be at most 108 .*20 positions go to the prefix/,
    );
    await expect(trainTrial(job({ task: { metric: 'pearson' } }), { backend })).rejects.toThrow(/Metric "pearson" does not apply/);
    await expect(trainTrial(job({ training: { steps: 0 } }), { backend })).rejects.toThrow(/Invalid training configuration: steps: Too small: expected number to be >=1/);
  });
});

describe('AdamW', () => {
  it('matches a hand-computed step: decoupled decay, bias correction and global-norm clipping', () => {
    const tf = backend.tf;
    const w = tf.variable(tf.tensor2d([[1, -2]]));
    const b = tf.variable(tf.tensor1d([0.5]));
    const optimizer = new AdamW(tf, [w, b], { weightDecay: 0.1, maxGradNorm: 1 });
    // loss = 3 w0 + 4 w1 + 0 b: gradient (3, 4, 0), norm 5, clipped to norm 1 -> (0.6, 0.8, 0).
    optimizer.minimize(() => tf.sum(tf.mul(w, tf.tensor2d([[3, 4]]))).add(tf.mul(b, 0).sum()) as Scalar, 0.01, false);
    // First Adam step: m/(1-b1) = g, v/(1-b2) = g^2, so the update is g/(|g| + eps) = sign(g).
    const expectedW = [1 * (1 - 0.01 * 0.1) - 0.01, -2 * (1 - 0.01 * 0.1) - 0.01];
    const got = w.dataSync();
    expect(got[0]).toBeCloseTo(expectedW[0]!, 6);
    expect(got[1]).toBeCloseTo(expectedW[1]!, 6);
    // Vectors do not decay, and a zero gradient leaves them where they are.
    expect(b.dataSync()[0]).toBeCloseTo(0.5, 7);
    optimizer.dispose();
    tf.dispose([w, b]);
  });

  it('follows the linear warm-up and decay schedule', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => linearSchedule(i, 10, 2))).toEqual([0, 0.5, 1, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8]);
    expect(linearSchedule(0, 4, 0)).toBe(1);
  });

  it('reads optimiser settings from the training configuration, rejecting bad ones by name', () => {
    expect(optimizerSettings(TINY)).toEqual(DEFAULT_OPTIMIZER_SETTINGS);
    expect(optimizerSettings({ ...TINY, weightDecay: 0, earlyStoppingPatience: 3 } as TrainingConfig).earlyStoppingPatience).toBe(3);
    expect(() => optimizerSettings({ ...TINY, warmupRatio: 1.5 } as TrainingConfig)).toThrow(/Invalid training configuration: warmupRatio: Too big: expected number to be <1/);
    expect(() => optimizerSettings({ ...TINY, earlyStoppingPatience: -1 } as TrainingConfig)).toThrow(/earlyStoppingPatience/);
  });
});

describe('trainTrial training loop', { timeout: 60_000 }, () => {
  let dataRoot: string;

  beforeAll(() => {
    dataRoot = mkdtempSync(path.join(tmpdir(), 'autopeft-train-'));
    const words = ['good', 'great', 'bad', 'awful', 'plain', 'movie', 'plot', 'actor'];
    const regression: string[] = ['text,label'];
    const pairs: string[] = ['text,other,label'];
    for (let i = 0; i < 120; i++) {
      const picked = Array.from({ length: 6 }, (_, j) => words[(i * 7 + j * 3 + (i % 5)) % words.length]!);
      const score = picked.filter((w) => w === 'good' || w === 'great').length - picked.filter((w) => w === 'bad' || w === 'awful').length;
      // Offset so that an untrained head (output near 0) starts with a clearly larger loss.
      regression.push(`${picked.join(' ')},${3 + score}`);
      const same = i % 2 === 0;
      pairs.push(`${picked.join(' ')},${same ? picked.join(' ') : picked.reverse().slice(1).join(' ')},${same ? 1 : 0}`);
    }
    writeFileSync(path.join(dataRoot, 'scores.csv'), regression.join('\n'));
    writeFileSync(path.join(dataRoot, 'pairs.csv'), pairs.join('\n'));
  });

  afterAll(() => rmSync(dataRoot, { recursive: true, force: true }));

  it('keeps the number of live tensors constant from step to step', async () => {
    const tf = backend.tf;
    const counts: number[] = [];
    await trainTrial(job({ training: { steps: 9, evalEvery: 3 } }), { backend, onLoss: () => void counts.push(tf.memory().numTensors) });
    expect(counts).toHaveLength(9);
    expect(new Set(counts).size).toBe(1);
  });

  it('stops early after `earlyStoppingPatience` evaluations without a new best', async () => {
    const training = { steps: 40, evalEvery: 2, learningRate: 1e-9, earlyStoppingPatience: 2 } as Partial<TrainingConfig>;
    const result = await trainTrial(job({ training }), { backend });
    // With a learning rate of 1e-9 the dev metric never improves after the first evaluation.
    expect(result.reports.map((r) => r.step)).toEqual([2, 4, 6]);
  });

  it('trains a regression head with mean squared error and scores it by correlation', async () => {
    const losses: number[] = [];
    const result = await trainTrial(
      job({
        task: { dataset: 'file:scores.csv?kind=regression', metric: 'pearson' },
        training: { steps: 40, batchSize: 16, trainExamples: 96, devExamples: 24, learningRate: 1e-2, evalEvery: 20, weightDecay: 0 } as Partial<TrainingConfig>,
      }),
      { backend, datasetContext: { dataRoot }, onLoss: (_s, loss) => void losses.push(loss) },
    );
    expect(result.trainableParams).toBe(countPeftParams(LORA, SHAPE, 'training') + SHAPE.hiddenSize + 1);
    expect(Object.keys(result.metrics).sort()).toEqual(['pearson', 'spearman']);
    expect(result.metric).toBeGreaterThan(0.3);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)));
  });

  it('encodes text pairs with two segments', async () => {
    const result = await trainTrial(
      job({ task: { dataset: 'file:pairs.csv?textPairField=other', metric: 'accuracy' }, training: { steps: 4, evalEvery: 4 } }),
      { backend, datasetContext: { dataRoot } },
    );
    expect(result.reports).toHaveLength(1);
    expect(result.metric).toBeGreaterThanOrEqual(0);
  });

  it('trains hybrids end to end, counting the prefix MLP while training', async () => {
    const peft: PeftConfig = {
      serialAdapter: { placement: 'pfeiffer', size: 4, layers: [0, 1], activation: 'relu' },
      parallelAdapter: { size: 8, layers: [0, 1], scaling: 4, activation: 'relu' },
      prefix: { length: 4, layers: [0, 1], reparamSize: 16 },
      bitfit: { layers: [1] },
      promptTuning: { length: 2 },
    };
    let storedSize = 0;
    const result = await trainTrial(job({ peft, training: { steps: 3, evalEvery: 3 } }), {
      backend,
      onTrainedWeights: (weights) => {
        for (const [name, t] of weights) if (!name.startsWith('classifier.')) storedSize += t.size;
      },
    });
    expect(result.trainableParams).toBe(countPeftParams(peft, SHAPE, 'training') + countHeadParams(SHAPE, 2));
    expect(storedSize).toBe(countPeftParams(peft, SHAPE, 'stored'));
    // What the scheduler compares with its closed form: the stored count, not what trained.
    expect(result.storedParams).toBe(countPeftParams(peft, SHAPE, 'stored') + countHeadParams(SHAPE, 2));
    expect(result.storedParams).toBeLessThan(result.trainableParams);
  });
});
