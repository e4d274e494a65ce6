/**
 * Benchmark problems with known optima (ZDT1-3, BraninCurrin, DTLZ2) and a PEFT-shaped
 * problem over the `autopeft` space. Every objective is minimised except the PEFT metric.
 */
import type { ObjectiveSpec } from '../ask.js';
import { countBaseParams, countPeftParams } from '../param-count.js';
import { autopeftPreset } from '../presets.js';
import type { SearchSpace } from '../space.js';
import type { EncoderShape, SearchPoint } from '../types.js';
import { gaussian } from '../mutation.js';
import { hypervolume } from '../pareto.js';

/** A benchmark problem. */
export interface BenchProblem {
  name: string;
  space: SearchSpace;
  objectives: ObjectiveSpec[];
  /** Observed values (noisy where the problem is). */
  evaluate(point: SearchPoint, random: () => number): number[];
  /** Noiseless values, used to score the evaluated points. */
  truth(point: SearchPoint): number[];
  /** Reference point in raw units. */
  reference: number[];
  /** Largest achievable hypervolume, when known. */
  maxHypervolume?: number;
  isValid?: (point: SearchPoint) => boolean;
}

/** Inputs of the continuous problems. */
export const CONTINUOUS_DIMS = 6;

function unitCube(dims: number): SearchSpace {
  const space: SearchSpace = {};
  for (let i = 0; i < dims; i++) space[`x${i}`] = { type: 'float', low: 0, high: 1 };
  return space;
}

function vector(point: SearchPoint, dims: number): number[] {
  return Array.from({ length: dims }, (_, i) => Number(point[`x${i}`]));
}

const minimise2: ObjectiveSpec[] = [{ direction: 'minimize' }, { direction: 'minimize' }];

function deterministic(name: string, dims: number, objectives: ObjectiveSpec[], f: (x: number[]) => number[], reference: number[], maxHypervolume: number): BenchProblem {
  const truth = (point: SearchPoint): number[] => f(vector(point, dims));
  return { name, space: unitCube(dims), objectives, evaluate: truth, truth, reference, maxHypervolume };
}

function zdt(name: string, h: (f1: number, g: number) => number, maxHypervolume: number): BenchProblem {
  return deterministic(
    name,
    CONTINUOUS_DIMS,
    minimise2,
    (x) => {
      const g = 1 + (9 / (x.length - 1)) * x.slice(1).reduce((a, b) => a + b, 0);
      return [x[0]!, g * h(x[0]!, g)];
    },
    [11, 11],
    maxHypervolume,
  );
}

/** ZDT1 (convex front), 6 inputs. */
export const zdt1 = zdt('ZDT1', (f1, g) => 1 - Math.sqrt(f1 / g), 120 + 2 / 3);
/** ZDT2 (concave front), 6 inputs. */
export const zdt2 = zdt('ZDT2', (f1, g) => 1 - (f1 / g) ** 2, 120 + 1 / 3);
/** ZDT3 (disconnected front), 6 inputs. */
export const zdt3 = zdt('ZDT3', (f1, g) => 1 - Math.sqrt(f1 / g) - (f1 / g) * Math.sin(10 * Math.PI * f1), 128.77811613069076);

/** BraninCurrin (BoTorch's form on [0, 1]²). */
export const braninCurrin = deterministic(
  'BraninCurrin',
  2,
  minimise2,
  ([a, b]) => {
    const x0 = 15 * a! - 5;
    const x1 = 15 * b!;
    const branin = (x1 - (5.1 / (4 * Math.PI ** 2)) * x0 ** 2 + (5 / Math.PI) * x0 - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x0) + 10;
    const factor = b! === 0 ? 1 : 1 - Math.exp(-1 / (2 * b!));
    const currin = (factor * (2300 * a! ** 3 + 1900 * a! ** 2 + 2092 * a! + 60)) / (100 * a! ** 3 + 500 * a! ** 2 + 4 * a! + 20);
    return [branin, currin];
  },
  [18, 6],
  59.36011874867746,
);

/**
 * DTLZ2 with 3 objectives and 6 inputs, its distance term g = Σ_{i≥2} (x_i − c_i)² centred at
 * `centres` (DTLZ2 itself: every c_i = 0.5); the front is the unit sphere's positive octant
 * wherever the centres lie. Other centres give related problems (warm starts) and check that a
 * model does not profit from the optimum sitting in the middle of the cube.
 */
export function dtlz2Centred(name: string, centres: readonly number[]): BenchProblem {
  return deterministic(
    name,
    CONTINUOUS_DIMS,
    [{ direction: 'minimize' }, { direction: 'minimize' }, { direction: 'minimize' }],
    (x) => {
      const g = x.slice(2).reduce((s, v, i) => s + (v - centres[i]!) ** 2, 0);
      const [a, b] = [(x[0]! * Math.PI) / 2, (x[1]! * Math.PI) / 2];
      return [(1 + g) * Math.cos(a) * Math.cos(b), (1 + g) * Math.cos(a) * Math.sin(b), (1 + g) * Math.sin(a)];
    },
    [1.1, 1.1, 1.1],
    1.1 ** 3 - Math.PI / 6,
  );
}

/** DTLZ2 with 3 objectives and 6 inputs; the front is the unit sphere's positive octant. */
export const dtlz2 = dtlz2Centred('DTLZ2', [0.5, 0.5, 0.5, 0.5]);

/** DTLZ2 with its optimum off the middle of the cube (distance centres 0.2, 0.35, 0.65, 0.8). */
export const dtlz2OffCentre = dtlz2Centred('DTLZ2-off-centre', [0.2, 0.35, 0.65, 0.8]);

/**
 * A DTLZ2-style 2-objective problem far from its reference box: 6 inputs, f = (1 + 4g)(cos, sin)
 * of x₀π/2 with g = Σ_{i≥1} (x_i − 0.5)². The front is the unit quarter circle, but the
 * distance term is four times DTLZ2's, so only 0.7 % of random points fall inside the
 * reference box [1.1, 1.1] (DTLZ2 with 2 objectives: 19 %).
 */
export const dtlz2Far = deterministic(
  'DTLZ2-far',
  CONTINUOUS_DIMS,
  minimise2,
  (x) => {
    const g = 4 * x.slice(1).reduce((s, v) => s + (v - 0.5) ** 2, 0);
    const a = (x[0]! * Math.PI) / 2;
    return [(1 + g) * Math.cos(a), (1 + g) * Math.sin(a)];
  },
  [1.1, 1.1],
  1.1 ** 2 - Math.PI / 4,
);

/** Weights of the synthetic PEFT metric: serial adapter, parallel adapter, prefix, serial × parallel. */
export const PEFT_TASK: readonly number[] = [1.2, 1.0, 0.6, 0.8];

/** bert-base-uncased's shape. */
export const BERT_BASE: EncoderShape = { vocabSize: 30522, hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, maxPositions: 512, typeVocabSize: 2 };

/**
 * The PEFT-shaped problem: the `autopeft` space on bert-base, trainable parameters as a
 * percentage of the base model (exact, countPeftParams), and a synthetic dev accuracy:
 * each module's capacity is log2(1 + size) / log2(1 + d); layers are weighted 0.5 (bottom)
 * to 1.5 (top); quality q = 1 − exp(−1.5 · coverage · (1.2 c_SA + 1.0 c_PA + 0.6 c_PR + 0.8 c_SA c_PA));
 * accuracy = 0.55 + 0.35 q − 0.04 max(0, c_PR − 0.7) plus N(0, 0.005²) noise per evaluation.
 * `task` replaces the four weights (1.2, 1.0, 0.6, 0.8): another task on the same model.
 */
export function peftMetric(point: SearchPoint, shape: EncoderShape = BERT_BASE, task: readonly number[] = PEFT_TASK): number {
  const capacity = (key: string): number => Math.log2(1 + Number(point[key] ?? 0)) / Math.log2(1 + shape.hiddenSize);
  const weight = (l: number): number => 0.5 + l / Math.max(1, shape.numLayers - 1);
  let total = 0;
  let on = 0;
  for (let l = 0; l < shape.numLayers; l++) {
    total += weight(l);
    if (point[`layer.${l}`] === true) on += weight(l);
  }
  const coverage = on / total;
  const [sa, pa, pr] = [capacity('serialAdapter.size'), capacity('parallelAdapter.size'), capacity('prefix.length')];
  const [wSa, wPa, wPr, wBoth] = task as [number, number, number, number];
  const q = 1 - Math.exp(-1.5 * coverage * (wSa * sa + wPa * pa + wPr * pr + wBoth * sa * pa));
  return 0.55 + 0.35 * q - 0.04 * Math.max(0, pr - 0.7);
}

/**
 * The exact best hypervolume of the noiseless PEFT problem. The metric grows with the layer
 * weights switched on while the count depends only on how many layers are on, so for each
 * module sizing and layer count k only the top k layers can be Pareto-optimal: 11³ × L points.
 */
function peftMaxHypervolume(truth: (point: SearchPoint) => number[], shape: EncoderShape, reference: number[]): number {
  const sizes = autopeftPreset.space(shape)['serialAdapter.size']!;
  const choices = sizes.type === 'categorical' ? (sizes.choices as number[]) : [];
  const points: number[][] = [];
  for (const sa of choices) {
    for (const pa of choices) {
      for (const pr of choices) {
        for (let k = 1; k <= shape.numLayers; k++) {
          const point: SearchPoint = { 'serialAdapter.size': sa, 'parallelAdapter.size': pa, 'prefix.length': pr };
          for (let l = 0; l < shape.numLayers; l++) point[`layer.${l}`] = l >= shape.numLayers - k;
          if (!autopeftPreset.isValid(point)) continue;
          const [metric, params] = truth(point);
          points.push([-metric!, params!]);
        }
      }
    }
  }
  // 2-D front by a sweep over the parameter count, before the exact hypervolume.
  points.sort((a, b) => a[1]! - b[1]! || a[0]! - b[0]!);
  const front: number[][] = [];
  let best = Infinity;
  for (const p of points) {
    if (p[0]! >= best) continue;
    front.push(p);
    best = p[0]!;
  }
  return hypervolume(front, [-reference[0]!, reference[1]!]);
}

/** The PEFT-shaped benchmark over the autopeft space on bert-base (`task`: see peftMetric). */
export function peftProblem(shape: EncoderShape = BERT_BASE, task: readonly number[] = PEFT_TASK, name = 'PEFT (autopeft, bert-base)'): BenchProblem {
  const base = countBaseParams(shape);
  const percent = (point: SearchPoint): number => (100 * countPeftParams(autopeftPreset.toConfig(point, shape).peft, shape)) / base;
  const truth = (point: SearchPoint): number[] => [peftMetric(point, shape, task), percent(point)];
  const reference = [0.55, 40];
  return {
    name,
    space: autopeftPreset.space(shape),
    objectives: [{ direction: 'maximize' }, { direction: 'minimize', compute: percent }],
    evaluate: (point, random) => [peftMetric(point, shape, task) + 0.005 * gaussian(random), percent(point)],
    truth,
    reference,
    maxHypervolume: peftMaxHypervolume(truth, shape, reference),
    isValid: autopeftPreset.isValid,
  };
}
