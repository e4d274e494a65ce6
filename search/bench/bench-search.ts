/**
 * `npm run bench:search`: every algorithm on ZDT1-3, BraninCurrin, DTLZ2, DTLZ2-off-centre, DTLZ2-far and the
 * PEFT-shaped problem, many seeds each; prints markdown tables of the hypervolume (median and
 * IQR) and the log10 regret where the optimum is known, after 25, 50 and 100 evaluations (random
 * search also after 200), the acceptance table (the default algorithm at 25 evaluations against
 * random search at 200), then the time of one BO ask() against the history size (see also
 * `npm run bench:ask`). Options: --seeds N (default 10), --bo-long-seeds N (seeds whose BO runs
 * go to 100 evaluations, default 5; the others stop at 50), --problem NAME-PREFIX,
 * --algorithms a,b (prefixes of the names of the rows to run; random always runs), --variants (adds BO rows: without the
 * quadratic mean, a full refit at every ask, and the other acquisitions outside the reference box), --no-reference (BO is not given
 * the reference point; hypervolume is still scored with it), --both-references (adds the row
 * "bo, no reference", so both are measured in one run), --no-timing, --quick, --warm-start (runs
 * only the warm-start experiment: the default algorithm on a problem, cold against warm-started
 * from a finished 50-evaluation study of a related problem, as the scheduler warms a study;
 * with --prior-noise X also warm with BO's priorNoise X).
 */
import type { TrialObservation } from '../ask.js';
import { hypervolume, toMinimization } from '../pareto.js';
import { deriveRandom } from '../random.js';
import { warmStartFrom } from '../warm-start.js';
import type { Sampler } from '../sampler.js';
import { AutoSampler, LatinHypercubeSampler, MoboSampler, Nsga2Sampler, RandomSampler, RegularizedEvolutionSampler } from '../sampler.js';
import type { BenchProblem } from './problems.js';
import { braninCurrin, dtlz2, dtlz2Centred, dtlz2Far, dtlz2OffCentre, peftProblem, zdt1, zdt2, zdt3 } from './problems.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const quick = args.includes('--quick');
const seeds = option('seeds', quick ? 3 : 10);
const boLongSeeds = option('bo-long-seeds', quick ? 1 : 5);
const checkpoints = [25, 50, 100, 200];
const budget = 100;
const noReference = args.includes('--no-reference');
const bothReferences = args.includes('--both-references');

/** NSGA-II and evolution get a population of 10, their best setting at these budgets. */
const algorithms: { name: string; make: () => Sampler; evaluations: (seed: number) => number; noReference?: boolean }[] = [
  { name: 'random', make: () => new RandomSampler(), evaluations: () => 200 },
  { name: 'lhs', make: () => new LatinHypercubeSampler({ blockSize: 25 }), evaluations: () => 100 },
  { name: 'nsga2', make: () => new Nsga2Sampler({ populationSize: 10 }), evaluations: () => 100 },
  { name: 'evolution', make: () => new RegularizedEvolutionSampler({ populationSize: 10 }), evaluations: () => 100 },
  { name: 'bo', make: () => new MoboSampler(), evaluations: (seed: number) => (seed < boLongSeeds ? 100 : 50) },
  ...(bothReferences ? [{ name: 'bo, no reference', make: () => new MoboSampler(), evaluations: (seed: number) => (seed < boLongSeeds ? 100 : 50), noReference: true }] : []),
  ...(args.includes('--variants')
    ? [
        { name: 'bo, no quadratic mean', make: () => new MoboSampler({ quadraticMean: 0 }), evaluations: (seed: number) => (seed < boLongSeeds ? 100 : 50) },
        { name: 'bo, full refit', make: () => new MoboSampler({ refitFraction: 0, exactVarianceLimit: Infinity, factorCache: null }), evaluations: (seed: number) => (seed < boLongSeeds ? 100 : 50) },
        { name: 'bo, outside box: moving reference', make: () => new MoboSampler({ outsideBox: 'moving' }), evaluations: () => 50 },
        { name: 'bo, outside box: none', make: () => new MoboSampler({ outsideBox: 'none' }), evaluations: () => 50 },
      ]
    : []),
].filter((a) => !args.includes('--algorithms') || args[args.indexOf('--algorithms') + 1]!.split(',').some((prefix) => a.name.startsWith(prefix)) || a.name === 'random');

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function summary(values: number[], digits: number): string {
  if (values.length === 0) return '–';
  const sorted = [...values].sort((a, b) => a - b);
  return `${quantile(sorted, 0.5).toFixed(digits)} [${quantile(sorted, 0.25).toFixed(digits)}, ${quantile(sorted, 0.75).toFixed(digits)}]`;
}

/**
 * Runs one algorithm on one problem for one seed, one trial at a time; returns the hypervolume
 * at each checkpoint and the trials. `priors` (numbered below 0, a warm start) precede the
 * history in every ask and count in no hypervolume.
 */
function run(problem: BenchProblem, sampler: Sampler, seed: number, evaluations: number, withoutReference: boolean, priors: TrialObservation[] = [], at = checkpoints): { hv: Map<number, number>; trials: TrialObservation[] } {
  const directions = problem.objectives.map((o) => o.direction);
  const reference = toMinimization(problem.reference, directions);
  const history: TrialObservation[] = [];
  const result = new Map<number, number>();
  for (let number = 0; number < evaluations; number++) {
    const [point] = sampler.ask({ space: problem.space, seed, history: [...priors, ...history], numbers: [number], objectives: problem.objectives, ...(withoutReference ? {} : { referencePoint: problem.reference }), isValid: problem.isValid, budget });
    history.push({ number, point: point!, state: 'complete', values: problem.evaluate(point!, deriveRandom(seed, 'noise', number)) });
    if (at.includes(number + 1)) {
      result.set(number + 1, hypervolume(history.map((h) => toMinimization(problem.truth(h.point), directions)), reference));
    }
  }
  return { hv: result, trials: history };
}

/**
 * A study warm-started from a related problem's finished study against a cold one: both run
 * the default algorithm on the target; the warm one gets the source's 50 trials as prior
 * observations (warmStartFrom: same space and base model), as the scheduler passes them.
 */
function warmStartExperiment(): void {
  const at = [10, 25, 50];
  const pairs: { target: BenchProblem; source: BenchProblem }[] = [
    { target: dtlz2, source: dtlz2Centred('DTLZ2 with distance centres 0.6, 0.4, 0.6, 0.4', [0.6, 0.4, 0.6, 0.4]) },
    { target: peftProblem(), source: peftProblem(undefined, [0.8, 1.2, 0.9, 0.5], 'PEFT, another task (weights 0.8, 1.2, 0.9, 0.5)') },
  ].filter((p) => p.target.name.startsWith(only));
  console.log(`## Warm start: the default algorithm cold and warm-started from a related problem's 50-trial study (median [IQR] over ${seeds} seeds)\n`);
  console.log('| target | source of the warm start | start | HV @10 | HV @25 | HV @50 | seeds warm > cold @10 / @25 / @50 |');
  console.log('|---|---|---|---|---|---|---|');
  for (const { target, source } of pairs) {
    const cold = new Map<number, number[]>(at.map((c) => [c, []]));
    const warm = new Map<number, number[]>(at.map((c) => [c, []]));
    const priorNoise = option('prior-noise', 0);
    const noisy = new Map<number, number[]>(at.map((c) => [c, []]));
    const wins = at.map(() => 0);
    const t = Date.now();
    for (let seed = 0; seed < seeds; seed++) {
      const finished = run(source, new AutoSampler(), 1000 + seed, 50, false, [], []).trials;
      const { priors } = warmStartFrom({ space: source.space, baseModel: 'same', trials: finished }, { space: target.space, baseModel: 'same', isValid: target.isValid ?? (() => true) });
      const c = run(target, new AutoSampler(), seed, 50, false, [], at).hv;
      const w = run(target, new AutoSampler(), seed, 50, false, priors, at).hv;
      // `auto` is `bo` at this budget; the variant sets one of its options.
      if (priorNoise > 0) for (const [c, v] of run(target, new MoboSampler({ priorNoise }), seed, 50, false, priors, at).hv) noisy.get(c)!.push(v);
      for (const [k, checkpoint] of at.entries()) {
        cold.get(checkpoint)!.push(c.get(checkpoint)!);
        warm.get(checkpoint)!.push(w.get(checkpoint)!);
        if (w.get(checkpoint)! > c.get(checkpoint)!) wins[k]!++;
      }
    }
    const digits = target.maxHypervolume && target.maxHypervolume < 10 ? 4 : 3;
    console.log(`| ${target.name} | – | cold | ${at.map((c) => summary(cold.get(c)!, digits)).join(' | ')} | |`);
    console.log(`| ${target.name} | ${source.name} | warm | ${at.map((c) => summary(warm.get(c)!, digits)).join(' | ')} | ${wins.map((w) => `${w}/${seeds}`).join(' / ')} |`);
    if (priorNoise > 0) console.log(`| ${target.name} | ${source.name} | warm, priorNoise ${priorNoise} | ${at.map((c) => summary(noisy.get(c)!, digits)).join(' | ')} | |`);
    process.stderr.write(`warm start ${target.name}: ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
  }
}

const only = args.includes('--problem') ? args[args.indexOf('--problem') + 1]! : '';
const problems = [zdt1, zdt2, zdt3, braninCurrin, dtlz2, dtlz2OffCentre, dtlz2Far, peftProblem()].filter((p) => p.name.startsWith(only));
if (args.includes('--warm-start')) {
  warmStartExperiment();
  process.exit(0);
}

const started = Date.now();
console.log(`## Hypervolume after 25 / 50 / 100 / 200 evaluations (median [IQR] over ${seeds} seeds; BO's 100-evaluation column over ${boLongSeeds} seeds; only random search runs to 200)${noReference ? '; BO not given the reference point' : ''}\n`);
const wins: string[] = [];
const early: string[] = [];
const atFifty: string[] = [];
for (const problem of problems) {
  const known = problem.maxHypervolume;
  console.log(`### ${problem.name}${known ? ` (max HV ${known.toFixed(4)}, reference [${problem.reference.join(', ')}])` : ` (reference [${problem.reference.join(', ')}])`}\n`);
  const header = ['algorithm', ...checkpoints.map((c) => `HV @${c}`), ...(known ? checkpoints.map((c) => `log10 regret @${c}`) : [])];
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  const medians = new Map<string, number>();
  const perCheckpoints = new Map<string, Map<number, number[]>>();
  for (const algorithm of algorithms) {
    const perCheckpoint = new Map<number, number[]>(checkpoints.map((c) => [c, []]));
    const t = Date.now();
    for (let seed = 0; seed < seeds; seed++) {
      const { hv } = run(problem, algorithm.make(), seed, algorithm.evaluations(seed), noReference || algorithm.noReference === true);
      for (const [c, v] of hv) perCheckpoint.get(c)!.push(v);
    }
    const digits = known && known < 10 ? 4 : 3;
    const cells = checkpoints.map((c) => summary(perCheckpoint.get(c)!, digits));
    const regrets = known ? checkpoints.map((c) => summary(perCheckpoint.get(c)!.map((v) => Math.log10(Math.max(1e-12, known - v))), 2)) : [];
    medians.set(algorithm.name, quantile([...perCheckpoint.get(50)!].sort((a, b) => a - b), 0.5));
    medians.set(`${algorithm.name}@25`, quantile([...perCheckpoint.get(25)!].sort((a, b) => a - b), 0.5));
    medians.set(`${algorithm.name}@200`, quantile([...perCheckpoint.get(200)!].sort((a, b) => a - b), 0.5));
    perCheckpoints.set(algorithm.name, perCheckpoint);
    console.log(`| ${algorithm.name} | ${[...cells, ...regrets].join(' | ')} |`);
    process.stderr.write(`${problem.name} ${algorithm.name}: ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
  }
  const randomAt200 = medians.get('random@200')!;
  for (const name of perCheckpoints.keys()) {
    if (!name.startsWith('bo')) continue;
    const at25 = perCheckpoints.get(name)!.get(25)!;
    const beaten = at25.filter((v) => v >= randomAt200).length;
    early.push(`| ${problem.name} | ${name} | ${medians.get(`${name}@25`)!.toFixed(4)} | ${randomAt200.toFixed(4)} | ${beaten} / ${at25.length} | ${medians.get(`${name}@25`)! >= randomAt200 ? 'yes' : 'NO'} |`);
  }
  const randomAt50 = medians.get('random')!;
  for (const name of perCheckpoints.keys()) {
    if (!name.startsWith('bo')) continue;
    const at50 = perCheckpoints.get(name)!.get(50)!;
    const beating = at50.filter((v) => v > randomAt50).length;
    atFifty.push(`| ${problem.name} | ${name}${noReference ? ' (no reference)' : ''} | ${medians.get(name)!.toFixed(4)} | ${randomAt50.toFixed(4)} | ${beating} / ${at50.length} | ${medians.get(name)! > randomAt50 ? 'yes' : 'NO'} |`);
  }
  const bo = medians.get('bo')!;
  if (medians.has('nsga2')) wins.push(`| ${problem.name} | ${bo.toFixed(4)} | ${medians.get('random')!.toFixed(4)} | ${medians.get('nsga2')!.toFixed(4)} | ${bo > medians.get('random')! && bo > medians.get('nsga2')! ? 'yes' : 'NO'} |`);
  console.log('');
}
console.log('### Acceptance: the default algorithm (auto = bo at these budgets) at 25 evaluations against random search at 200\n');
console.log('| problem | algorithm | median HV @25 | random median HV @200 | seeds with HV @25 ≥ random median @200 | median ≥ random @200 |');
console.log('|---|---|---|---|---|---|');
for (const line of early) console.log(line);
console.log('');
console.log('### BO at 50 evaluations against random search at 50 (with `--both-references`: given the reference point and not)\n');
console.log('| problem | algorithm | median HV @50 | random median HV @50 | seeds with HV @50 > random median @50 | median > random @50 |');
console.log('|---|---|---|---|---|---|');
for (const line of atFifty) console.log(line);
console.log('');
console.log('### Median hypervolume at 50 evaluations\n');
console.log('| problem | BO | random | NSGA-II | BO beats both |');
console.log('|---|---|---|---|---|');
for (const line of wins) console.log(line);

if (!args.includes('--no-timing')) timing();
console.log(`\nTotal benchmark time: ${((Date.now() - started) / 1000).toFixed(0)} s`);

function timing(): void {
console.log('\n## Time of one BO ask() against the history size (median of 3, warm process)\n');
console.log('| history | PEFT (1 GP, 15 params) | ZDT1 (2 GPs, 6 params) | DTLZ2 (3 GPs, 6 params) |');
console.log('|---|---|---|---|');
const timingProblems = [peftProblem(), zdt1, dtlz2];
const random = new RandomSampler();
const histories = timingProblems.map((problem) => {
  const points = random.ask({ space: problem.space, seed: 7, history: [], numbers: Array.from({ length: 300 }, (_, i) => i), isValid: problem.isValid });
  return points.map((point, number): TrialObservation => ({ number, point, state: 'complete', values: problem.evaluate(point, deriveRandom(7, 'noise', number)) }));
});
const bo = new MoboSampler();
for (const [k, problem] of timingProblems.entries()) bo.ask({ space: problem.space, seed: 0, history: histories[k]!.slice(0, 50), numbers: [50], objectives: problem.objectives, referencePoint: problem.reference, isValid: problem.isValid });
for (const size of [25, 50, 100, 200, 300]) {
  const cells = timingProblems.map((problem, k) => {
    const times: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      const t = performance.now();
      bo.ask({ space: problem.space, seed: rep, history: histories[k]!.slice(0, size), numbers: [size], objectives: problem.objectives, referencePoint: problem.reference, isValid: problem.isValid });
      times.push(performance.now() - t);
    }
    return `${quantile(times.sort((a, b) => a - b), 0.5).toFixed(0)} ms`;
  });
  console.log(`| ${size} | ${cells.join(' | ')} |`);
}
}
