/**
 * Benchmark of trial training speed per backend: prints a table of milliseconds per training
 * step, per evaluation, and the estimated wall time of a whole trial.
 *
 * Usage: `npx tsx workers/bench/bench-trial.ts [backend ...]` (default: wasm cpu). Each backend
 * runs in this one process, one after another; run it on an otherwise idle machine.
 */
import { selectBackend } from '../backend.js';
import { loadDataset } from '../data/registry.js';
import type { TrialJobData } from '../job-types.js';
import { trainTrial } from '../train/train-trial.js';
import type { TrainingConfig } from '../../search/types.js';

interface Setting {
  name: string;
  training: TrainingConfig;
}

const SETTINGS: Setting[] = [
  {
    name: 'tiny (test)',
    training: { steps: 10, batchSize: 8, learningRate: 5e-3, evalEvery: 4, maxSeqLength: 32, trainExamples: 64, devExamples: 48, seed: 1, dataSeed: 1 },
  },
  {
    name: 'demo',
    training: { steps: 150, batchSize: 16, learningRate: 5e-3, evalEvery: 30, maxSeqLength: 64, trainExamples: 512, devExamples: 256, seed: 1, dataSeed: 1 },
  },
];

/** Steps actually timed per setting: enough for a stable mean without a long run on `cpu`. */
const TIMED_STEPS = 12;

function job(training: TrainingConfig): TrialJobData {
  return {
    studyId: 'bench',
    trialNumber: 0,
    task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' },
    peft: { lora: { rank: 8, alpha: 16, dropout: 0.1, targets: ['query', 'value'], layers: [0, 1] } },
    training,
  };
}

async function measure(training: TrainingConfig): Promise<{ stepMs: number; evalMs: number }> {
  const steps = Math.min(TIMED_STEPS, training.steps);
  const stamps: number[] = [];
  let evalMs = 0;
  await trainTrial(job({ ...training, steps, evalEvery: steps }), {
    onLoss: () => void stamps.push(performance.now()),
    onReport: () => {
      evalMs = performance.now() - stamps[stamps.length - 1]!;
    },
  });
  // The first step pays one-off costs (kernel set-up, tokenisation), so it is left out.
  const stepMs = (stamps[stamps.length - 1]! - stamps[0]!) / (stamps.length - 1);
  return { stepMs, evalMs };
}

const backends = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['wasm', 'cpu'];
await loadDataset('spam-assassin');
const rows: string[][] = [['backend', 'setting', 'ms/step', 'ms/eval', 'est. trial s']];
for (const prefer of backends) {
  const backend = await selectBackend({ prefer });
  for (const setting of SETTINGS) {
    await measure({ ...setting.training, steps: 2 }); // warm-up
    const { stepMs, evalMs } = await measure(setting.training);
    const evaluations = Math.ceil(setting.training.steps / setting.training.evalEvery);
    const trialSeconds = (setting.training.steps * stepMs + evaluations * evalMs) / 1000;
    rows.push([backend.name, setting.name, stepMs.toFixed(1), evalMs.toFixed(0), trialSeconds.toFixed(1)]);
  }
}
const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
