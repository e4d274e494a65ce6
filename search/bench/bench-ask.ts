/**
 * `npm run bench:ask`: time of one BO `ask()` at 100, 300 and 1,000 observations, with the
 * scaling GP (incremental factor updates, hyperparameters refitted every 5 % of growth, local
 * variance above 300 points) against a full refit at every ask (the earlier behaviour). The
 * history is random points of the problem; "steady" asks follow each other as in a study (the
 * history grows by one between asks; median and maximum of 10 asks after one warm-up ask),
 * "cold" is the first ask of a fresh process at that size (empty memos). Times are CPU time of
 * the (single-threaded) process, so other load on the machine inflates them less than wall time.
 * Then the quality check: from the same random histories, 10 proposals in a row by each
 * variant (each evaluated before the next ask), and the hypervolume of history + proposals on
 * the noiseless values, for 3 history seeds.
 * Options: --sizes 100,300,1000, --asks N (default 10), --no-full (skip the full-refit rows and
 * the quality check).
 */
import type { TrialObservation } from '../ask.js';
import { clearGpMemos } from '../gp.js';
import { hypervolume, toMinimization } from '../pareto.js';
import { deriveRandom } from '../random.js';
import type { BoOptions } from '../samplers/bo.js';
import { MoboSampler, RandomSampler } from '../sampler.js';
import type { BenchProblem } from './problems.js';
import { dtlz2, peftProblem, zdt1 } from './problems.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const sizes = option('sizes', '100,300,1000').split(',').map(Number);
const asks = Number(option('asks', '10'));
const FULL: BoOptions = { refitFraction: 0, exactVarianceLimit: Infinity, factorCache: null };

function history(problem: BenchProblem, n: number, seed = 7): TrialObservation[] {
  const points = new RandomSampler().ask({ space: problem.space, seed, history: [], numbers: Array.from({ length: n }, (_, i) => i), ...(problem.isValid ? { isValid: problem.isValid } : {}) });
  return points.map((point, number): TrialObservation => ({ number, point, state: 'complete', values: problem.evaluate(point, deriveRandom(seed, 'noise', number)) }));
}

function timeAsk(sampler: MoboSampler, problem: BenchProblem, all: TrialObservation[], size: number, seed: number): number {
  const t = process.cpuUsage();
  sampler.ask({ space: problem.space, seed, history: all.slice(0, size), numbers: [size], objectives: problem.objectives, referencePoint: problem.reference, ...(problem.isValid ? { isValid: problem.isValid } : {}) });
  const used = process.cpuUsage(t);
  return (used.user + used.system) / 1000;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
};

const problems: [string, BenchProblem][] = [
  ['ZDT1 (2 GPs, 6 inputs)', zdt1],
  ['DTLZ2 (3 GPs, 6 inputs)', dtlz2],
  ['PEFT (1 GP, 15 params)', peftProblem()],
];
console.log(`## Time of one BO ask() against the history size (ms; steady: median [max] of ${asks} consecutive asks)\n`);
console.log('| problem | history | scaling GP, steady | scaling GP, cold | full refit every ask |');
console.log('|---|---|---|---|---|');
const started = Date.now();
for (const [label, problem] of problems) {
  const all = history(problem, Math.max(...sizes) + asks + 1);
  for (const size of sizes) {
    const scaling = new MoboSampler();
    clearGpMemos();
    const cold = timeAsk(scaling, problem, all, size, 0);
    const steady: number[] = [];
    for (let i = 0; i < asks; i++) steady.push(timeAsk(scaling, problem, all, size + 1 + i, 0));
    let full = '–';
    if (!args.includes('--no-full')) {
      const times = [0, 1, 2].map((i) => timeAsk(new MoboSampler(FULL), problem, all, size + 1 + i, 0));
      full = `${median(times).toFixed(0)}`;
    }
    console.log(`| ${label} | ${size} | ${median(steady).toFixed(0)} [${Math.max(...steady).toFixed(0)}] | ${cold.toFixed(0)} | ${full} |`);
  }
}

/** Hypervolume after `steps` proposals of `sampler` continuing `start`. */
function continueSearch(sampler: MoboSampler, problem: BenchProblem, start: TrialObservation[], steps: number): number {
  const directions = problem.objectives.map((o) => o.direction);
  const trials = [...start];
  for (let i = 0; i < steps; i++) {
    const number = trials.length;
    const [point] = sampler.ask({ space: problem.space, seed: 0, history: trials, numbers: [number], objectives: problem.objectives, referencePoint: problem.reference, ...(problem.isValid ? { isValid: problem.isValid } : {}) });
    trials.push({ number, point: point!, state: 'complete', values: problem.evaluate(point!, deriveRandom(0, 'noise', number)) });
  }
  return hypervolume(trials.map((t) => toMinimization(problem.truth(t.point), directions)), toMinimization(problem.reference, directions));
}

if (!args.includes('--no-full')) {
  console.log('\n## Same proposals? Hypervolume after 10 more BO proposals from a random history\n');
  console.log('| problem | history | seed | HV of the history | + 10 scaling GP | + 10 full refit |');
  console.log('|---|---|---|---|---|---|');
  for (const [label, problem] of problems.slice(0, 2)) {
    for (const size of sizes.filter((s) => s >= 300)) {
      for (const seed of [1, 2, 3]) {
        const start = history(problem, size, seed);
        const directions = problem.objectives.map((o) => o.direction);
        const before = hypervolume(start.map((t) => toMinimization(problem.truth(t.point), directions)), toMinimization(problem.reference, directions));
        clearGpMemos();
        const scaling = continueSearch(new MoboSampler(), problem, start, 10);
        const full = continueSearch(new MoboSampler(FULL), problem, start, 10);
        console.log(`| ${label} | ${size} | ${seed} | ${before.toFixed(4)} | ${scaling.toFixed(4)} | ${full.toFixed(4)} |`);
      }
    }
  }
}
console.log(`\nTotal benchmark time: ${((Date.now() - started) / 1000).toFixed(0)} s`);
