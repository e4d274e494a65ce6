/**
 * `npm run bench:fidelity`: which cheap fidelity ranks configurations as their full training
 * does, at the same cost? Real training (TensorFlow.js, the worker's trainTrial) of K random
 * `autopeft` configurations on the bundled brown-bert-small model:
 *
 * - full: `steps` steps on the study's training subset (`trainExamples`), evaluated every
 *   `steps / 6`; its metric is the best dev value, what a study records;
 * - steps (a third of the cost, free: the same run): the curve's value at a third of the steps,
 *   and the final value predicted from it by the pruner's regression over the other
 *   configurations' complete curves (leave-one-out, search/pruners.ts predictFinal);
 * - data fraction (a third of the cost, a separate run): a third of the steps on the nested
 *   third of the training subset (the first third of the same permutation), with its own
 *   warm-up and decay over those steps, i.e. the same epochs on less data.
 *
 * Printed: each configuration's values, then per fidelity the Spearman rank correlation with
 * the full metric, the share of configuration pairs ordered as the full runs order them, and
 * whether the full run's Pareto set of (metric, stored parameters) is kept when each fidelity
 * keeps its own best third. Options: --configs K (default 12), --steps S (default 240),
 * --dataset NAME (default spam-assassin), --seed N (default 1).
 */
import os from 'node:os';
import { nonDominatedSort } from '../../search/pareto.js';
import { autopeftPreset } from '../../search/presets.js';
import { predictFinal } from '../../search/pruners.js';
import { createRandom } from '../../search/random.js';
import { samplePoint } from '../../search/space.js';
import type { IntermediateReport, PeftConfig } from '../../search/types.js';
import { selectBackend } from '../../workers/backend.js';
import { BASE_MODELS } from '../../workers/models/catalog.js';
import { spearmanCorrelation } from '../../workers/train/metrics.js';
import { trainTrial } from '../../workers/train/train-trial.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const configs = Number(option('configs') ?? 12);
const steps = Number(option('steps') ?? 240);
const dataset = option('dataset') ?? 'spam-assassin';
const seed = Number(option('seed') ?? 1);
const TRAIN_EXAMPLES = 512;
const cheapSteps = Math.round(steps / 3);
const baseModel = 'brown-bert-small';
const shape = BASE_MODELS[baseModel]!.shape;

interface Row {
  label: string;
  stored: number;
  full: number;
  reports: IntermediateReport[];
  atThird: number;
  predicted?: number;
  fraction: number;
  seconds: { full: number; fraction: number };
}

/** Share of pairs with different full metrics that `cheap` orders the same way. */
function concordance(full: readonly number[], cheap: readonly number[]): number {
  let same = 0;
  let pairs = 0;
  for (let i = 0; i < full.length; i++) {
    for (let j = i + 1; j < full.length; j++) {
      if (full[i] === full[j]) continue;
      pairs++;
      if (Math.sign(full[i]! - full[j]!) === Math.sign(cheap[i]! - cheap[j]!)) same++;
    }
  }
  return pairs ? same / pairs : NaN;
}

/** Indices on the full runs' Pareto front of (metric ↑, stored parameters ↓). */
function paretoSet(rows: readonly Row[]): number[] {
  return nonDominatedSort(rows.map((r) => [-r.full, r.stored]))[0] ?? [];
}

/** Front members a cheap fidelity would keep: each trial stays when no trial at most as large has a better cheap value. */
function keptByFidelity(rows: readonly Row[], cheap: readonly number[]): Set<number> {
  const front = nonDominatedSort(rows.map((r, i) => [-cheap[i]!, r.stored]))[0] ?? [];
  return new Set(front);
}

async function run(peft: PeftConfig, trainExamples: number, trialSteps: number, number: number): Promise<{ metric: number; reports: IntermediateReport[]; stored: number; seconds: number }> {
  const started = performance.now();
  const result = await trainTrial({
    studyId: 'bench-fidelity',
    trialNumber: number,
    task: { dataset, baseModel, metric: 'accuracy' },
    peft,
    training: { steps: trialSteps, batchSize: 16, learningRate: 2e-3, evalEvery: Math.max(1, Math.round(trialSteps / 6)), maxSeqLength: 64, trainExamples, devExamples: 256, seed, dataSeed: seed },
  });
  return { metric: result.metric, reports: result.reports, stored: result.storedParams, seconds: (performance.now() - started) / 1000 };
}

const backend = await selectBackend();
console.log(`## Cheap fidelities on real training (${configs} autopeft configurations, ${baseModel}, ${dataset})\n`);
console.log(`${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, backend ${backend.name}. Full: ${steps} steps on ${TRAIN_EXAMPLES} examples. Cheap: a third of the cost (${cheapSteps} steps).\n`);
const space = autopeftPreset.space(shape);
const random = createRandom(seed);
const rows: Row[] = [];
while (rows.length < configs) {
  const point = samplePoint(space, random);
  if (!autopeftPreset.isValid(point)) continue;
  const { peft } = autopeftPreset.toConfig(point, shape);
  const label = Object.entries(point)
    .filter(([, v]) => v !== 0 && v !== false)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  const full = await run(peft, TRAIN_EXAMPLES, steps, rows.length);
  const cheap = await run(peft, Math.round(TRAIN_EXAMPLES / 3), cheapSteps, rows.length);
  const atThird = full.reports.find((r) => r.step >= cheapSteps)?.value ?? NaN;
  rows.push({ label, stored: full.stored, full: full.metric, reports: full.reports, atThird, fraction: cheap.metric, seconds: { full: full.seconds, fraction: cheap.seconds } });
  process.stderr.write(`config ${rows.length}/${configs}: full ${full.metric.toFixed(3)} (${full.seconds.toFixed(0)} s), data third ${cheap.metric.toFixed(3)} (${cheap.seconds.toFixed(0)} s)\n`);
}
for (const [i, row] of rows.entries()) {
  const truncated = { reports: row.reports.filter((r) => r.step <= cheapSteps) };
  const others = rows.filter((_, j) => j !== i).map((r) => ({ reports: r.reports }));
  row.predicted = predictFinal(truncated, others)?.mean ?? row.atThird;
}

console.log('| # | configuration | stored params | full | steps: value at 1/3 | steps: predicted final | data 1/3 + steps 1/3 | full s | data-third s |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const [i, r] of rows.entries()) {
  console.log(`| ${i} | ${r.label} | ${r.stored} | ${r.full.toFixed(3)} | ${r.atThird.toFixed(3)} | ${r.predicted!.toFixed(3)} | ${r.fraction.toFixed(3)} | ${r.seconds.full.toFixed(1)} | ${r.seconds.fraction.toFixed(1)} |`);
}
const full = rows.map((r) => r.full);
const front = paretoSet(rows);
const fidelities: [string, number[]][] = [
  ['steps: value at a third', rows.map((r) => r.atThird)],
  ['steps: predicted final', rows.map((r) => r.predicted!)],
  ['data fraction 1/3', rows.map((r) => r.fraction)],
];
console.log(`\nFull runs' Pareto set (metric, stored params): ${front.map((i) => `#${i}`).join(', ')}\n`);
console.log('| fidelity (a third of the cost) | Spearman ρ with full | pairs ordered as full | Pareto members kept (its own front) |');
console.log('|---|---|---|---|');
for (const [name, values] of fidelities) {
  const kept = keptByFidelity(rows, values);
  console.log(`| ${name} | ${spearmanCorrelation(values, full).toFixed(2)} | ${(100 * concordance(full, values)).toFixed(0)} % | ${front.filter((i) => kept.has(i)).length} / ${front.length} (keeps ${kept.size}) |`);
}
const fullSeconds = rows.reduce((s, r) => s + r.seconds.full, 0);
const fractionSeconds = rows.reduce((s, r) => s + r.seconds.fraction, 0);
console.log(`\nTime: full runs ${fullSeconds.toFixed(0)} s, data-third runs ${fractionSeconds.toFixed(0)} s (${((100 * fractionSeconds) / fullSeconds).toFixed(0)} % of full).`);
