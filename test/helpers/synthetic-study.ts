/**
 * Synthetic studies for dashboard tests: a finished study record and its trials written into
 * the real Redis through StudyStore.saveTrial, exactly as the scheduler writes them (summary,
 * Pareto front and change log included). Nothing trains, so a 10,000-trial study takes seconds;
 * the study is never marked active, so a running scheduler leaves it alone.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { StudyStore } from '../../scheduler/store.js';
import type { StudyRecord, TrialRecord, TrialState } from '../../scheduler/types.js';
import { createRandom } from '../../search/random.js';
import type { LoraTarget } from '../../search/types.js';

/** The shape of the synthetic base model: 6 layers. */
const SHAPE = { vocabSize: 1000, hiddenSize: 64, numLayers: 6, numHeads: 4, intermediateSize: 128, maxPositions: 64, typeVocabSize: 2 };
const TARGET_SETS: LoraTarget[][] = [['query', 'value'], ['query', 'key', 'value', 'attentionOutput'], ['ffnIn', 'ffnOut']];
const LAYER_SETS = [[0, 1, 2, 3, 4, 5], [3, 4, 5], [1, 2, 3]];

/** Options of a synthetic study. */
export interface SyntheticOptions {
  trials: number;
  name?: string;
  seed?: number;
  /** Trials written as given (by number), replacing the generated ones. */
  overrides?: Record<number, Partial<TrialRecord>>;
}

/** One generated trial: LoRA of varied rank, targets and layers, a state drawn at random. */
function syntheticTrial(n: number, rand: () => number, created: number): TrialRecord {
  const roll = rand();
  const state: TrialState = roll < 0.7 ? 'complete' : roll < 0.85 ? 'pruned' : roll < 0.95 ? 'failed' : 'running';
  const rank = [2, 4, 8, 16][Math.floor(rand() * 4)]!;
  const targetsIndex = Math.floor(rand() * TARGET_SETS.length);
  const targets = TARGET_SETS[targetsIndex]!;
  const layers = LAYER_SETS[Math.floor(rand() * LAYER_SETS.length)]!;
  const learningRate = Number((1e-3 * (1 + rand() * 9)).toPrecision(6));
  const trainableParams = 130 + 2 * 64 * rank * targets.length * layers.length;
  const steps = [10, 20, 30, 40];
  const reportCount = state === 'complete' ? 4 : state === 'pruned' ? 2 : state === 'running' ? 1 + Math.floor(rand() * 3) : 0;
  const base = 0.5 + rand() * 0.4;
  const reports = steps.slice(0, reportCount).map((step, i) => ({ step, value: Number((base + i * 0.02 * rand()).toFixed(6)) }));
  const best = reports.reduce<number | undefined>((m, r) => (m === undefined || r.value > m ? r.value : m), undefined);
  const at = (s: number): string => new Date(created + n * 1000 + s * 1000).toISOString();
  return {
    number: n,
    state,
    params: { 'lora.rank': rank, 'lora.targets': targets.join(','), 'lora.layers': layers.length === 6 ? 'all' : layers.join(','), 'training.learningRate': learningRate },
    peft: { lora: { rank, alpha: 16, dropout: 0, targets, layers } },
    training: { steps: 40, batchSize: 8, learningRate, evalEvery: 10, maxSeqLength: 32, trainExamples: 64, devExamples: 32, seed: n, dataSeed: 1 },
    trainableParams,
    trainablePercent: (trainableParams / 250_000) * 100,
    reports,
    ...(state === 'complete' || state === 'pruned' ? { metric: best } : {}),
    worker: `w-${n % 4}`,
    backend: 'native',
    attempts: state === 'failed' ? 2 : 1,
    ...(state === 'failed' ? { error: `synthetic failure of trial ${n}, with a comma`, failures: [{ worker: `w-${(n + 1) % 4}`, message: 'out of memory', kind: 'resource' as const, at: at(1) }] } : {}),
    createdAt: at(0),
    startedAt: at(1),
    ...(state === 'running' ? {} : { finishedAt: at(5) }),
  };
}

/** Writes a finished synthetic LoRA study with `options.trials` trials; returns its record. */
export async function writeSyntheticStudy(redis: Redis, prefix: string, options: SyntheticOptions): Promise<StudyRecord> {
  const store = new StudyStore(redis, prefix);
  const now = Date.now();
  const study: StudyRecord = {
    id: randomUUID(),
    owner: 'admin',
    spec: {
      name: options.name ?? 'synthetic',
      task: { dataset: 'spam-assassin', baseModel: 'synthetic-6-layer', metric: 'accuracy' },
      preset: 'lora',
      searchSpace: {
        'lora.rank': { type: 'categorical', choices: [2, 4, 8, 16] },
        'lora.targets': { type: 'categorical', choices: TARGET_SETS.map((t) => t.join(',')) },
        'lora.layers': { type: 'categorical', choices: ['all', '3,4,5', '1,2,3'] },
        'training.learningRate': { type: 'float', low: 0.001, high: 0.01, log: true },
      },
      algorithm: { name: 'random', seed: 0 },
      objectives: {},
      pruner: { type: 'none' },
      budget: { maxTrials: options.trials, maxParallel: 4 },
      training: { steps: 40, batchSize: 8, learningRate: 0.003, evalEvery: 10, maxSeqLength: 32, trainExamples: 64, devExamples: 32 },
    },
    state: 'completed',
    createdAt: new Date(now).toISOString(),
    updatedAt: new Date(now).toISOString(),
    finishedAt: new Date(now + 60_000).toISOString(),
    baseShape: SHAPE,
    baseParams: 250_000,
    headOutputs: 2,
  };
  await redis.set(new StudyStore(redis, prefix).studyKey(study.id), JSON.stringify(study));
  await redis.zadd(`${prefix}:studies`, now, study.id);
  const rand = createRandom(options.seed ?? 1);
  const trials = Array.from({ length: options.trials }, (_, n) => ({ ...syntheticTrial(n, rand, now), ...options.overrides?.[n] }));
  // Batches of writes in flight at once: Redis keeps the order within each study's script calls.
  for (let i = 0; i < trials.length; i += 500) await Promise.all(trials.slice(i, i + 500).map((t) => store.saveTrial(study.id, t)));
  return study;
}
