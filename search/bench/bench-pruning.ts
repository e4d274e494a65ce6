/**
 * `npm run bench:pruning`: training steps spent to reach a hypervolume with and without pruners,
 * on the PEFT-shaped problem with synthetic learning curves. Each trial trains up to 900 steps
 * and reports every 30; its dev accuracy follows
 *   a(t) = 0.5 + (A − 0.5)(1 − exp(−t / τ)),  τ = 120 (1 + 0.5 c_PR) + 60 u,
 * with A the problem's noiseless accuracy, c_PR the prefix capacity (prefixes learn slower) and
 * u ∈ [0, 1) a per-configuration hash (curves cross), plus N(0, 0.005²) noise per report.
 * Trials run one after another, proposed by BO (the default) or random search; the history
 * carries each trial's reports, so a pruned trial's observed metric is its final value
 * predicted from its curve (search/ask.ts). The unpruned search runs 60 trials; the pruned
 * searches run until they have spent a third of its steps (`--fraction`). Hypervolume counts
 * each trial at its last noiseless curve value. Options: --seeds N (default 10), --fraction F
 * (default 1/3), --samplers bo,random, --pruners NAME-PREFIX,... (rows to run), --last-report
 * (pruned trials observed at their last report, without curves, as before), --first-seed K
 * (seeds K..K+N−1: another set of seeds than the ones a change was tried on).
 *
 * Diagnostics, to see where a pruner loses (not the service's behaviour): --oracle stops at its
 * first report every trial whose noiseless final a complete trial dominates, and lets BO observe
 * each pruned trial at its noiseless final; --oracle-decides takes only its decisions (pruned
 * trials observed as usual), --oracle-observes only its observations (the pruner decides);
 * --exclude-pruned hides pruned trials from BO (as failed ones); --pruned-noise N sets BO's
 * extra noise on pruned observations (BoOptions.prunedNoise).
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
const option = (name: string): string | undefined => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const seeds = Number(option('seeds') ?? 10);
const fraction = Number(option('fraction') ?? 1 / 3);
const samplerNames = (option('samplers') ?? 'bo,random').split(',') as ('bo' | 'random')[];
const withCurves = !args.includes('--last-report');
const firstSeed = Number(option('first-seed') ?? 0);
const oracle = args.includes('--oracle');
// The oracle split: its decisions only (observations as usual), or its observations only (the pruner decides).
const oracleDecides = oracle || args.includes('--oracle-decides');
const oracleObserves = oracle || args.includes('--oracle-observes');
const excludePruned = args.includes('--exclude-pruned');
const prunedNoise = option('pruned-noise') === undefined ? undefined : Number(option('pruned-noise'));

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

/** Whether a running trial stops after its latest report: the pruner's decision, or the oracle's. */
function stops(trial: TrialReports, reports: readonly TrialReports[], pruner: PrunerConfig, history: readonly TrialObservation[], point: SearchPoint): boolean {
  if (!oracleDecides) return shouldPrune(trial, reports, pruner);
  // At its first report, exactly the trials whose noiseless final a complete trial dominates.
  const final = curve(point, MAX_STEPS);
  return pruner.type !== 'none' && trial.reports.length === 1 && history.some((h) => h.state === 'complete' && h.values![1]! <= trial.cost! && h.values![0]! >= final);
}

/** What the sampler observes of a finished trial (pruned: its last report, or with the oracle its noiseless final). */
function observation(trial: TrialReports, point: SearchPoint): TrialObservation {
  const pruned = trial.state === 'pruned';
  const values = (metric: number): number[] => [metric, trial.cost!];
  const best = Math.max(...trial.reports.map((r) => r.value));
  if (oracleObserves) return { number: trial.number, point, state: 'complete', values: values(pruned ? curve(point, MAX_STEPS) : best) };
  const state = pruned ? (excludePruned ? 'failed' : 'pruned') : 'complete';
  return { number: trial.number, point, state, values: values(pruned ? trial.reports[trial.reports.length - 1]!.value : best), ...(withCurves ? { reports: [...trial.reports] } : {}) };
}

function search(seed: number, samplerName: 'bo' | 'random', pruner: PrunerConfig, stepBudget: number, trialBudget: number): Trace {
  const sampler = samplerName === 'bo' ? new MoboSampler(prunedNoise !== undefined ? { prunedNoise } : {}) : new RandomSampler();
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
      if (step < MAX_STEPS && stops(trial, reports, pruner, history, point!)) {
        trial.state = 'pruned';
        break;
      }
    }
    if (trial.state === 'running') trial.state = 'complete';
    spent += step;
    history.push(observation(trial, point!));
    scored.push([-curve(point!, step), cost]);
    trace.steps.push(spent);
    trace.hypervolumes.push(hypervolume(scored, reference));
    trace.trials++;
    if (trial.state === 'pruned') trace.pruned++;
  }
  return trace;
}

/** Hypervolume of the trials finished within `steps` (the last trial may overrun the budget: not counted). */
function hvWithin(trace: Trace, steps: number): number {
  let hv = 0;
  for (let i = 0; i < trace.steps.length && trace.steps[i]! <= steps; i++) hv = trace.hypervolumes[i]!;
  return hv;
}

function stepsToReach(trace: Trace, target: number): number | undefined {
  const i = trace.hypervolumes.findIndex((hv) => hv >= target);
  return i >= 0 ? trace.steps[i] : undefined;
}

const allPruners: [string, PrunerConfig][] = [
  ['ASHA η=3', { type: 'asha', minResource: 30, reductionFactor: 3 }],
  ['ASHA η=3 (Pareto ranks)', { type: 'asha', minResource: 30, reductionFactor: 3, rank: 'pareto' }],
  ['curve dominance κ=2', { type: 'paretoCurve' }],
  ['curve dominance κ=1.5', { type: 'paretoCurve', optimism: 1.5 }],
  ['curve dominance κ=1', { type: 'paretoCurve', optimism: 1 }],
  ['curve dominance κ=0.5', { type: 'paretoCurve', optimism: 0.5 }],
  ['curve dominance κ=2 (3 complete)', { type: 'paretoCurve', minTrials: 3 }],
  ['curve dominance κ=2 (6 complete)', { type: 'paretoCurve', minTrials: 6 }],
  ['curve dominance κ=2 (from step 60)', { type: 'paretoCurve', minResource: 60 }],
  ['curve dominance κ=2 (from step 120)', { type: 'paretoCurve', minResource: 120 }],
];
// A row's whole name selects that row alone; any other text selects the rows it begins.
const prefixes = option('pruners')?.split(',').filter((p) => p !== '');
const selects = (name: string, given: string): boolean => name === given || (!allPruners.some(([other]) => other === given) && name.startsWith(given));
const pruners = allPruners.filter(([name]) => !prefixes || prefixes.some((p) => selects(name, p)));
const full = TRIALS * MAX_STEPS;
const allowed = Math.round(full * fraction);
console.log(`## Early stopping on the PEFT problem with learning curves (${seeds} seeds)\n`);
console.log(
  `Unpruned: ${TRIALS} trials × ${MAX_STEPS} steps = ${full} steps. Pruned searches stop at ${allowed} steps (${(100 * fraction).toFixed(0)} %). Target = 98 % of the same sampler's unpruned final hypervolume. ASHA: first rung at step 30. Pruned trials observed ${withCurves ? 'at their predicted final value (curves in the history)' : 'at their last report'}.\n`,
);
console.log(`| sampler | seed | unpruned final HV | unpruned HV at ${allowed} steps | pruner | trials (pruned) | HV at ${allowed} steps | % of unpruned final | steps to reach target |`);
console.log('|---|---|---|---|---|---|---|---|---|');
const summary = new Map<string, { ratios: number[]; met: number; steps: number[] }>();
const started = Date.now();
for (const samplerName of samplerNames) {
  for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
    const base = search(seed, samplerName, { type: 'none' }, Infinity, TRIALS);
    const final = base.hypervolumes[base.hypervolumes.length - 1]!;
    const target = 0.98 * final;
    const baseAt = hvWithin(base, allowed);
    const baseKey = `${samplerName}, no pruner (fewer trials)`;
    const baseEntry = summary.get(baseKey) ?? { ratios: [], met: 0, steps: [] };
    baseEntry.ratios.push(baseAt / final);
    if (baseAt >= target) baseEntry.met++;
    summary.set(baseKey, baseEntry);
    for (const [name, pruner] of pruners) {
      const trace = search(seed, samplerName, pruner, allowed, 10_000);
      const last = hvWithin(trace, allowed);
      const reach = stepsToReach(trace, target);
      const key = `${samplerName} + ${name}`;
      const entry = summary.get(key) ?? { ratios: [], met: 0, steps: [] };
      entry.ratios.push(last / final);
      if (reach !== undefined) {
        entry.met++;
        entry.steps.push(reach / full);
      }
      summary.set(key, entry);
      console.log(`| ${samplerName} | ${seed} | ${final.toFixed(3)} | ${baseAt.toFixed(3)} | ${name} | ${trace.trials} (${trace.pruned}) | ${last.toFixed(3)} | ${((100 * last) / final).toFixed(1)} % | ${reach ?? '> ' + allowed} |`);
    }
    process.stderr.write(`${samplerName} seed ${seed} done, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  }
}
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
};
console.log(`\n| sampler + pruner | median HV at ${allowed} steps (% of unpruned final) | seeds reaching 98 % within ${allowed} steps | median steps to reach it (fraction of unpruned) |`);
console.log('|---|---|---|---|');
for (const [name, { ratios, met, steps }] of summary) {
  console.log(`| ${name} | ${(100 * median(ratios)).toFixed(1)} % | ${met} / ${seeds} | ${steps.length ? median(steps).toFixed(2) : '–'} |`);
}
console.log(`\nTotal benchmark time: ${((Date.now() - started) / 1000).toFixed(0)} s`);
