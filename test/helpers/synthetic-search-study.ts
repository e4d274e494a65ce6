/**
 * A synthetic study written through the store's own write path (StudyStore createStudy,
 * saveTrial and saveStudy, as the scheduler writes them), for the dashboard's view tests and
 * browser benchmark: no training, any number of trials. The metric depends mostly on the
 * serial adapter's size, a little on layer 0 and not at all on the rest, so the views have
 * something true to show (and the importance a known answer).
 */
import type { StudyStore } from '../../scheduler/store.js';
import type { StudySpec, TrialRecord } from '../../scheduler/types.js';
import type { SearchPoint } from '../../search/types.js';
import { BASE_MODELS } from '../../workers/models/catalog.js';

const SIZES = [0, 1, 2, 4, 8, 16, 32, 64, 128];
const LAYERS = 4;

/** The study's search space: three module sizes and one switch per layer (the autopeft preset's names). */
export const SYNTHETIC_SPACE: StudySpec['searchSpace'] = {
  'serialAdapter.size': { type: 'categorical', choices: SIZES },
  'parallelAdapter.size': { type: 'categorical', choices: SIZES },
  'prefix.length': { type: 'categorical', choices: SIZES },
  ...Object.fromEntries(Array.from({ length: LAYERS }, (_, i) => [`layer.${i}`, { type: 'categorical', choices: [true, false] }])),
};

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The state of trial `n` of `count`: mostly complete, some pruned and failed, the last few running or waiting. */
function stateOf(n: number, count: number, r: number): TrialRecord['state'] {
  if (n >= count - Math.max(1, Math.floor(count * 0.03))) return n % 2 === 0 ? 'running' : 'waiting';
  return r < 0.72 ? 'complete' : r < 0.9 ? 'pruned' : 'failed';
}

/** Trial `n` as the scheduler records a finished one: point, configuration, reports, metric. */
export function syntheticTrial(n: number, count: number, seed = 1): TrialRecord {
  const random = prng(seed * 1_000_003 + n);
  const pick = (): number => SIZES[Math.floor(random() * SIZES.length)]!;
  const params: SearchPoint = { 'serialAdapter.size': pick(), 'parallelAdapter.size': pick(), 'prefix.length': pick() };
  for (let i = 0; i < LAYERS; i++) params[`layer.${i}`] = random() < 0.6;
  const serial = params['serialAdapter.size'] as number;
  const layers = Array.from({ length: LAYERS }, (_, i) => i).filter((i) => params[`layer.${i}`] === true);
  // The serial adapter's size drives the metric (best around 16); layer 0 adds a little; noise is small.
  const metric = 0.55 + 0.3 * Math.exp(-(((Math.log2(serial + 1) - 4.1) / 1.6) ** 2)) + (params['layer.0'] ? 0.02 : 0) + 0.01 * (random() - 0.5);
  const trainableParams = 258 + layers.length * (2 * 128 * serial + 2 * 128 * (params['parallelAdapter.size'] as number) + 2 * 128 * (params['prefix.length'] as number));
  const state = stateOf(n, count, random());
  const steps = [25, 50, 75, 100];
  const reported = state === 'waiting' ? [] : state === 'pruned' || state === 'running' ? steps.slice(0, 2) : steps;
  const now = Date.now();
  const at = (s: number): string => new Date(now - (count - n) * 60_000 + s * 1000).toISOString();
  return {
    number: n,
    state,
    params,
    peft: serial > 0 && layers.length > 0 ? { serialAdapter: { placement: 'pfeiffer', size: serial, layers, activation: 'relu' } } : {},
    training: { steps: 100, batchSize: 16, learningRate: 0.001, evalEvery: 25, maxSeqLength: 64, trainExamples: 512, devExamples: 256, seed: n, dataSeed: 0 },
    trainableParams,
    trainablePercent: (100 * trainableParams) / 1_450_000,
    reports: reported.map((step) => ({ step, value: metric * (0.7 + 0.3 * (step / 100)) })),
    ...(state === 'complete' ? { metric, metrics: { accuracy: metric } } : state === 'pruned' ? { metric: metric * 0.85 } : {}),
    ...(state === 'failed' ? { error: 'synthetic failure' } : {}),
    majorityBaseline: 0.5,
    ...(state !== 'waiting' ? { worker: `host-${n % 8}:worker-0`, backend: 'wasm+native', startedAt: at(1) } : {}),
    attempts: 1,
    createdAt: at(0),
    ...(state === 'complete' || state === 'pruned' || state === 'failed' ? { finishedAt: at(40) } : {}),
  };
}

/** Writes a study of `count` synthetic trials and returns its id. */
export async function writeSyntheticStudy(store: StudyStore, count: number, name = `synthetic ${count}`): Promise<string> {
  const spec: StudySpec = {
    name,
    task: { dataset: 'spam-assassin', baseModel: 'brown-bert-small', metric: 'accuracy' },
    preset: 'autopeft',
    searchSpace: SYNTHETIC_SPACE,
    algorithm: { name: 'auto', seed: 1 },
    objectives: {},
    pruner: { type: 'none' },
    budget: { maxTrials: count, maxParallel: 8 },
    training: { steps: 100, batchSize: 16, learningRate: 0.001, evalEvery: 25, maxSeqLength: 64, trainExamples: 512, devExamples: 256 },
  };
  const study = await store.createStudy(spec, BASE_MODELS['brown-bert-small']!.shape, 2, 'synthetic');
  for (let n = 0; n < count; n += 500) {
    await Promise.all(Array.from({ length: Math.min(500, count - n) }, (_, k) => store.saveTrial(study.id, syntheticTrial(n + k, count))));
  }
  // The reference the scheduler stores: majority-class level and the largest configuration (all sizes 128, every layer on).
  const largest = 258 + LAYERS * 3 * 2 * 128 * SIZES[SIZES.length - 1]!;
  await store.saveStudy({ ...study, state: 'running', reference: { point: [0.5, largest], source: 'default' } });
  return study.id;
}
