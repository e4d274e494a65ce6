/**
 * The new methods against float64 references computed by an independent PyTorch implementation
 * (test/fixtures/make_peft_method_fixtures.py): one projection's output for given parameters,
 * within 1e-4, plus the draws that must equal PyTorch's (VeRA's projections, FourierFT's
 * positions) and PiSSA's principal part.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { EncoderShape, PeftConfig } from '../search/types.js';
import type { Tf } from '../workers/backend.js';
import { selectBackend } from '../workers/backend.js';
import { inferenceContext } from '../workers/model/forward-context.js';
import { layerNorm } from '../workers/model/fused-ops.js';
import type { EncoderWeights } from '../workers/model/weights.js';
import { createRandomWeights, disposeWeights } from '../workers/model/weights.js';
import type { BuildMode } from '../workers/peft/build.js';
import { buildPeftModules } from '../workers/peft/build.js';
import { AdaloraModule } from '../workers/peft/adalora.js';
import { fourierPositions } from '../workers/peft/fourierft.js';
import { LayerNormTuningModule } from '../workers/peft/layer-norm-tuning.js';
import type { PeftModule } from '../workers/peft/peft-module.js';
import { truncatedSvd } from '../workers/peft/svd.js';
import { veraProjections } from '../workers/peft/vera.js';
import { maxDiff } from './helpers/peft-bench.js';

interface Fixture {
  dIn: number;
  dOut: number;
  tokens: number;
  W0: number[];
  bias: number[];
  x: number[];
  cases: Record<
    string,
    {
      config: Record<string, unknown>;
      params: Record<string, number[]>;
      expected: number[];
      principal?: number[];
      projections?: { A: number[]; B: number[] };
      positions?: number[];
      gradients?: Record<string, number[]>[];
      scores?: number[];
      penalty?: number;
    }
  >;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/peft-methods.json', import.meta.url), 'utf8')) as Fixture;
const { dIn, dOut, tokens } = fixture;
const SHAPE: EncoderShape = { vocabSize: 20, hiddenSize: dIn, numLayers: 1, numHeads: 2, intermediateSize: dOut, maxPositions: 8, typeVocabSize: 2 };
const SITE = { targets: ['ffnIn' as const], layers: [0] };
const PATH = 'encoder.layer.0.intermediate.dense';

let tf: Tf;
let weights: EncoderWeights;

/** `[rows, cols]` row-major data transposed into a `[cols, rows]` tensor (PyTorch `[out, in]` to our `[in, out]`). */
const transposed = (data: number[], rows: number, cols: number): Tensor2D => tf.tidy(() => tf.transpose(tf.tensor2d(data, [rows, cols])));

beforeAll(async () => {
  tf = (await selectBackend({ prefer: 'wasm', log: () => {} })).tf;
  const random = createRandomWeights(tf, SHAPE, 1);
  random.layers[0]!.ffnIn.kernel.dispose();
  random.layers[0]!.ffnIn.bias.dispose();
  random.layers[0]!.ffnIn = { kernel: transposed(fixture.W0, dOut, dIn), bias: tf.tensor1d(fixture.bias) };
  weights = random;
});

afterAll(() => disposeWeights(weights));

/** Builds the single-method configuration, assigns `values` to its variables, returns y for the fixture's x. */
function outputOf(peft: PeftConfig, mode: BuildMode, values: Record<string, Tensor2D | number[]>, check?: (module: PeftModule) => void): Float32Array {
  const [module] = buildPeftModules(tf, peft, SHAPE, 3, { weights, mode });
  try {
    check?.(module!);
    for (const [name, value] of Object.entries(values)) {
      const variable = module!.variables.get(`${PATH}.${name}`);
      expect(variable, name).toBeDefined();
      const tensor = Array.isArray(value) ? tf.tensor1d(value) : value;
      variable!.assign(tensor);
      tensor.dispose();
    }
    return tf.tidy(() => {
      const x = tf.tensor2d(fixture.x, [tokens, dIn]);
      const base = tf.add<Tensor2D>(tf.matMul(x, weights.layers[0]!.ffnIn.kernel), weights.layers[0]!.ffnIn.bias);
      const site = { layer: 0, projection: 'ffnIn' as const, blockInput: x, batch: 1, seqLength: tokens };
      return module!.adjustProjection!(site, x, base, inferenceContext());
    }).dataSync() as Float32Array;
  } finally {
    module!.dispose();
  }
}

describe('float64 references of the new methods (PyTorch, within 1e-4)', () => {
  const { cases } = fixture;
  const r = 2;

  it('LoRA-FA', () => {
    const c = cases.loraFa!;
    const y = outputOf({ loraFa: { rank: r, alpha: c.config.alpha as number, dropout: 0, ...SITE } }, 'stored', {
      'lora_fa_A.kernel': transposed(c.params.A!, r, dIn),
      'lora_fa_B.kernel': transposed(c.params.B!, dOut, r),
    });
    expect(maxDiff(y, c.expected)).toBeLessThan(1e-4);
  });

  it('DoRA', () => {
    const c = cases.dora!;
    const y = outputOf({ dora: { rank: r, alpha: c.config.alpha as number, dropout: 0, ...SITE } }, 'training', {
      'dora_A.kernel': transposed(c.params.A!, r, dIn),
      'dora_B.kernel': transposed(c.params.B!, dOut, r),
      dora_magnitude: c.params.m!,
    });
    expect(maxDiff(y, c.expected)).toBeLessThan(1e-4);
  });

  it('PiSSA: the principal part from the SVD, and the residual as the frozen base', () => {
    const c = cases.pissa!;
    const alpha = c.config.alpha as number;
    const y = outputOf({ pissa: { rank: r, alpha, ...SITE } }, 'training', { 'pissa_A.kernel': transposed(c.params.A!, r, dIn), 'pissa_B.kernel': transposed(c.params.B!, dOut, r) }, (module) => {
      const a = module.variables.get(`${PATH}.pissa_A.kernel`)! as Tensor2D;
      const b = module.variables.get(`${PATH}.pissa_B.kernel`)! as Tensor2D;
      const principal = tf.tidy(() => tf.transpose(tf.mul(tf.matMul(a, b), alpha / r)).dataSync());
      expect(maxDiff(principal, c.principal!)).toBeLessThan(1e-4);
    });
    expect(maxDiff(y, c.expected)).toBeLessThan(1e-4);
  });

  it("VeRA, with the shared projections PyTorch's generator draws from the seed", () => {
    const c = cases.vera!;
    const config = { rank: c.config.rank as number, projectionSeed: c.config.projectionSeed as number, ...SITE };
    const projections = veraProjections(config, SHAPE);
    expect(maxDiff(projections.a, c.projections!.A)).toBeLessThan(1e-6);
    expect(maxDiff(projections.b, c.projections!.B)).toBeLessThan(1e-6);
    const y = outputOf({ vera: config }, 'training', { vera_lambda_b: c.params.lambda_b!, vera_lambda_d: c.params.lambda_d! });
    expect(maxDiff(y, c.expected)).toBeLessThan(1e-4);
  });

  it("FourierFT, at the positions torch.randperm draws from the seed", () => {
    const c = cases.fourierft!;
    const n = c.config.frequencies as number;
    const seed = c.config.locationSeed as number;
    const { u, v } = fourierPositions(dIn, dOut, n, seed);
    expect(u.map((row, i) => row * dIn + v[i]!)).toEqual(c.positions);
    const y = outputOf({ fourierft: { frequencies: n, scaling: c.config.scaling as number, locationSeed: seed, ...SITE } }, 'training', { fourierft_spectrum: c.params.c! });
    expect(maxDiff(y, c.expected)).toBeLessThan(1e-4);
  });

  it('RoCoFT, rows and columns', () => {
    const k = 2;
    const rows = cases.rocoftRow!;
    const yRows = outputOf({ rocoft: { k, mode: 'row', ...SITE } }, 'training', { 'rocoft_rows.kernel': transposed(rows.params.D!, k, dIn) });
    expect(maxDiff(yRows, rows.expected)).toBeLessThan(1e-4);
    const cols = cases.rocoftColumn!;
    const yCols = outputOf({ rocoft: { k, mode: 'column', ...SITE } }, 'training', { 'rocoft_columns.kernel': transposed(cols.params.D!, dOut, k) });
    expect(maxDiff(yCols, cols.expected)).toBeLessThan(1e-4);
  });
});

describe('float64 references of AdaLoRA and LayerNorm tuning (PyTorch, within 1e-4)', () => {
  const { cases } = fixture;

  it("AdaLoRA: the SVD-form output, the orthogonality penalty and the allocator's triplet scores", () => {
    const c = cases.adalora!;
    const r = c.config.initRank as number;
    const config = { initRank: r, targetRank: 1, alpha: c.config.alpha as number, ...SITE, beta1: c.config.beta1 as number, beta2: c.config.beta2 as number, orthRegWeight: c.config.orthRegWeight as number };
    const y = outputOf({ adalora: { ...config, initialFraction: 0.5 } }, 'training', {
      'adalora_A.kernel': transposed(c.params.A!, r, dIn),
      adalora_E: c.params.E!,
      'adalora_B.kernel': transposed(c.params.B!, dOut, r),
    });
    expect(maxDiff(y, c.expected)).toBeLessThan(1e-4);

    // The allocator before its first allocation (step <= tinit = 50 of 100): scores only, no mask.
    const module = new AdaloraModule(tf, { ...config, initialFraction: 0.5 }, SHAPE, 3);
    try {
      const assign = (name: string, value: Tensor2D | number[]): void => {
        const tensor = Array.isArray(value) ? tf.tensor1d(value) : value;
        module.variables.get(`${PATH}.${name}`)!.assign(tensor);
        tensor.dispose();
      };
      assign('adalora_A.kernel', transposed(c.params.A!, r, dIn));
      assign('adalora_E', c.params.E!);
      assign('adalora_B.kernel', transposed(c.params.B!, dOut, r));
      const penalty = tf.tidy(() => module.regularizationLoss().dataSync()[0]!);
      expect(Math.abs(penalty - c.penalty!)).toBeLessThan(1e-4);
      c.gradients!.forEach((g, i) => {
        tf.tidy(() => {
          const gradients = new Map<string, Tensor>([
            [`${PATH}.adalora_A.kernel`, transposed(g.A!, r, dIn)],
            [`${PATH}.adalora_E`, tf.tensor1d(g.E!)],
            [`${PATH}.adalora_B.kernel`, transposed(g.B!, dOut, r)],
          ]);
          module.afterOptimizerStep({ step: i + 1, totalSteps: 100, gradients });
        });
      });
      expect(maxDiff(module.tripletScores(), c.scores!)).toBeLessThan(1e-4);
      expect(Math.min(...c.scores!)).toBeGreaterThan(1e-3);
      expect(module.keptRanks().get(PATH)).toEqual([true, true, true]);
      expect(maxDiff(module.variables.get(`${PATH}.adalora_E`)!.dataSync(), c.params.E!)).toBeLessThan(1e-6);
    } finally {
      module.dispose();
    }
  });

  it('LayerNorm tuning: the trained scale and shift in the LayerNorm', () => {
    const c = cases.layerNorm!;
    const module = new LayerNormTuningModule(tf, { layers: [0] }, SHAPE, weights);
    try {
      const gammaVar = module.variables.get('encoder.layer.0.output.LayerNorm.ln_tuning.weight')!;
      const betaVar = module.variables.get('encoder.layer.0.output.LayerNorm.ln_tuning.bias')!;
      // Fresh, they are copies of the base LayerNorm's.
      expect(maxDiff(gammaVar.dataSync(), weights.layers[0]!.outputLayerNorm.gamma.dataSync())).toBe(0);
      tf.tidy(() => {
        gammaVar.assign(tf.tensor1d(c.params.gamma!));
        betaVar.assign(tf.tensor1d(c.params.beta!));
      });
      const y = tf.tidy(() => layerNorm(tf, tf.tensor2d(c.params.h!, [tokens, dIn]), module.layerNormGamma(0, 'outputLayerNorm')!, module.layerNormBias(0, 'outputLayerNorm')!, c.config.eps as number).dataSync());
      expect(maxDiff(y, c.expected)).toBeLessThan(1e-4);
      // The base LayerNorm is untouched: the module's are its own copies.
      expect(maxDiff(weights.layers[0]!.outputLayerNorm.gamma.dataSync(), c.params.gamma!)).toBeGreaterThan(1e-3);
    } finally {
      module.dispose();
    }
  });
});

describe('the truncated SVD behind PiSSA', () => {
  it.each([
    [9, 4],
    [4, 9],
  ])('a %i x %i matrix: full rank reconstructs it, the vectors are orthonormal, values descend', (rows, cols) => {
    const k = Array.from({ length: rows * cols }, (_, i) => Math.sin(1.7 * i + 0.3) + (i % 5) * 0.1);
    const rank = Math.min(rows, cols);
    const { u, s, v } = truncatedSvd(k, rows, cols, rank);
    const rebuilt = Array.from({ length: rows * cols }, (_, idx) => {
      const i = Math.floor(idx / cols);
      const j = idx % cols;
      let sum = 0;
      for (let t = 0; t < rank; t++) sum += u[i * rank + t]! * s[t]! * v[j * rank + t]!;
      return sum;
    });
    expect(maxDiff(rebuilt, k)).toBeLessThan(1e-10);
    for (let a = 0; a < rank; a++) {
      for (let b = 0; b < rank; b++) {
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += u[i * rank + a]! * u[i * rank + b]!;
        expect(Math.abs(dot - (a === b ? 1 : 0))).toBeLessThan(1e-10);
      }
    }
    for (let t = 1; t < rank; t++) expect(s[t]!).toBeLessThanOrEqual(s[t - 1]!);
  });
});
