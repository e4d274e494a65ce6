/**
 * `npm run bench:pruning`: training steps spent to reach a hypervolume with and without ASHA,
 * on the PEFT-shaped problem with synthetic learning curves. Each trial trains up to 900 steps
 * and reports every 30; its dev accuracy follows
 *   a(t) = 0.5 + (A − 0.5)(1 − exp(−t / τ)),  τ = 120 (1 + 0.5 c_PR) + 60 u,
 * with A the problem's noiseless accuracy, c_PR the prefix capacity (prefixes learn slower) and
 * u ∈ [0, 1) a per-configuration hash (curves cross), plus N(0, 0.005²) noise per report.
 * Trials run one after another, proposed by BO (the default) or random search; a pruned
 * trial's last report is its observed metric. The unpruned search runs 60 trials; the pruned searches run
 * until they have spent half of its steps. Hypervolume counts each trial at its last
 * noiseless curve value. Options: --seeds N (default 5).
 */
import type { TrialObservation } from '../ask.js';
import { hypervolume } from '../pareto.js';
import type { PrunerConfig, TrialReports } from '../pruners.js';
import { shouldPrune } from '../pruners.js';
import { deriveRandom, hashString } from '../random.js';
import { MoboSampler, RandomSampler } from '../sampler.js';
import { pointKey } from '../space.js';
import type { SearchPoint } from '../types.js';
import { gaussian } from '../mutation.js';
import { peftMetric, peftProblem } from './problems.js';

const args = process.argv.slice(2);
const seeds = args.includes('--seeds') ? Number(args[args.indexOf('--seeds') + 1]) : 5;
const MAX_STEPS = 900;
const EVERY = 30;
const TRIALS = 60;
const problem = peftProblem();
const reference = [-problem.reference[0]!, problem.reference[1]!];

function curve(point: SearchPoint, step: number): number {
  const capacity = Math.log2(1 + Number(point['prefix.length'] ?? 0)) / Math.log2(769);
  const u = hashString(pointKey(point)) / 2 ** 32;
  const tau = 120 * (1 + 0.5 * capacity) + 60 * u;
  return 0.5 + (peftMetric(point) - 0.5) * (1 - Math.exp(-step / tau));
}

interface Trace {
  steps: number[];
  hypervolumes: number[];
  trials: number;
  pruned: number;
}

function search(seed: number, samplerName: 'bo' | 'random', pruner: PrunerConfig, stepBudget: number, trialBudget: number): Trace {
  const sampler = samplerName === 'bo' ? new MoboSampler() : new RandomSampler();
  const history: TrialObservation[] = [];
  const reports: TrialReports[] = [];
  const scored: number[][] = [];
  const trace: Trace = { steps: [], hypervolumes: [], trials: 0, pruned: 0 };
  let spent = 0;
  for (let number = 0; number < trialBudget && spent < stepBudget; number++) {
    const [point] = sampler.ask({ space: problem.space, seed, history, numbers: [number], objectives: problem.objectives, referencePoint: problem.reference, isValid: problem.isValid });
    const cost = problem.objectives[1]!.compute!(point!);
    const noise = deriveRandom(seed, 'curve', number);
    const trial: TrialReports = { number, state: 'running', reports: [], cost };
    reports.push(trial);
    let step = 0;
    while (step < MAX_STEPS) {
      step += EVERY;
      trial.reports.push({ step, value: curve(point!, step) + 0.005 * gaussian(noise) });
      if (step < MAX_STEPS && shouldPrune(trial, reports, pruner)) {
        trial.state = 'pruned';
        break;
      }
    }
    if (trial.state === 'running') trial.state = 'complete';
    spent += step;
    history.push({ number, point: point!, state: trial.state === 'pruned' ? 'pruned' : 'complete', values: [trial.reports[trial.reports.length - 1]!.value, cost] });
    scored.push([-curve(point!, step), cost]);
    trace.steps.push(spent);
    trace.hypervolumes.push(hypervolume(scored, reference));
    trace.trials++;
    if (trial.state === 'pruned') trace.pruned++;
  }
  return trace;
}

function stepsToReach(trace: Trace, target: number): number | undefined {
  const i = trace.hypervolumes.findIndex((hv) => hv >= target);
  return i >= 0 ? trace.steps[i] : undefined;
}

const pruners: [string, PrunerConfig][] = [
  ['ASHA η=3', { type: 'asha', minResource: 30, reductionFactor: 3 }],
  ['ASHA η=2', { type: 'asha', minResource: 30, reductionFactor: 2 }],
];
const full = TRIALS * MAX_STEPS;
console.log(`## Early stopping: ASHA on the PEFT problem with learning curves (${seeds} seeds)\n`);
console.log(`Unpruned: ${TRIALS} trials × ${MAX_STEPS} steps = ${full} steps. Pruned searches stop at ${full / 2} steps (half). Target = 98 % of the same sampler's unpruned final hypervolume. ASHA: first rung at step 30, rank by metric.\n`);
console.log('| sampler | seed | unpruned final HV | pruner | trials (pruned) | HV at half the steps | % of unpruned final | steps to reach target | steps / unpruned total |');
console.log('|---|---|---|---|---|---|---|---|---|');
const summary = new Map<string, { ratios: number[]; met: number; steps: number[] }>();
const started = Date.now();
for (const samplerName of ['bo', 'random'] as const) {
  for (let seed = 0; seed < seeds; seed++) {
    const base = search(seed, samplerName, { type: 'none' }, Infinity, TRIALS);
    const final = base.hypervolumes[base.hypervolumes.length - 1]!;
    const target = 0.98 * final;
    for (const [name, pruner] of pruners) {
      const trace = search(seed, samplerName, pruner, full / 2, 10_000);
      const last = trace.hypervolumes[trace.hypervolumes.length - 1]!;
      const reach = stepsToReach(trace, target);
      const key = `${samplerName} + ${name}`;
      const entry = summary.get(key) ?? { ratios: [], met: 0, steps: [] };
      entry.ratios.push(last / final);
      if (reach !== undefined) {
        entry.met++;
        entry.steps.push(reach / full);
      }
      summary.set(key, entry);
      console.log(
        `| ${samplerName} | ${seed} | ${final.toFixed(3)} | ${name} | ${trace.trials} (${trace.pruned}) | ${last.toFixed(3)} | ${((100 * last) / final).toFixed(1)} % | ${reach ?? '> ' + full / 2} | ${reach ? (reach / full).toFixed(2) : '–'} |`,
      );
    }
    process.stderr.write(`${samplerName} seed ${seed} done, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  }
}
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
};
console.log('\n| sampler + pruner | median HV at half the steps (% of unpruned final) | seeds reaching 98 % within half the steps | median steps to reach it (fraction of unpruned) |');
console.log('|---|---|---|---|');
for (const [name, { ratios, met, steps }] of summary) {
  console.log(`| ${name} | ${(100 * median(ratios)).toFixed(1)} % | ${met} / ${seeds} | ${steps.length ? median(steps).toFixed(2) : '–'} |`);
}
console.log(`\nTotal benchmark time: ${((Date.now() - started) / 1000).toFixed(0)} s`);
