/**
 * AdaLoRA's rank allocation: the budget schedule's numbers, the allocator following it step by
 * step on the tiny bench, a real trial (tiny-random on spam-assassin through trainTrial) ending
 * with exactly the target budget of unmasked singular values, and the PEFT export of that trial
 * (PEFT's key names and shapes, `rank_pattern`, and the same update as the trained model).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { AdaloraConfig, TrainingConfig } from '../search/types.js';
import { countHeadParams, countPeftParams } from '../search/param-count.js';
import type { Tf } from '../workers/backend.js';
import { selectBackend } from '../workers/backend.js';
import { hfPeftExport } from '../workers/export/hf-peft.js';
import type { NamedArray } from '../workers/export/weights.js';
import { toNamedArrays } from '../workers/export/weights.js';
import { BASE_MODELS } from '../workers/models/catalog.js';
import { parseSafetensors } from '../workers/model/safetensors.js';
import { SequenceClassificationHead } from '../workers/model/head.js';
import { AdaloraModule, adaloraScale } from '../workers/peft/adalora.js';
import { adaloraSchedule, budgetAt, keepAboveThreshold } from '../workers/peft/adalora-schedule.js';
import { mergePeftModules } from '../workers/peft/merge.js';
import { trainTrial } from '../workers/train/train-trial.js';
import type { PeftBench } from './helpers/peft-bench.js';
import { SHAPE, createPeftBench, maxDiff } from './helpers/peft-bench.js';

let tf: Tf;
let bench: PeftBench;

beforeAll(async () => {
  tf = (await selectBackend({ prefer: 'wasm', log: () => {} })).tf;
  bench = createPeftBench(tf);
});

afterAll(() => bench.dispose());

describe('the budget schedule (PEFT docstring example: tinit 10, tfinal 20, total 100)', () => {
  const schedule = adaloraSchedule({ initRank: 12, targetRank: 8, initialFraction: 0.1, finalFraction: 0.2 }, 10, 100);

  it('resolves the fractions to steps', () => {
    expect(schedule).toEqual({ totalSteps: 100, tinit: 10, tfinal: 20, deltaT: 1, initialBudget: 120, targetBudget: 80 });
  });

  it('keeps the initial budget for tinit steps, falls cubically, and holds the target from total - tfinal on', () => {
    expect(budgetAt(schedule, 10)).toEqual({ budget: 120, mask: false });
    // 40 (1 - 1/70)^3 + 80 = 118.3
    expect(budgetAt(schedule, 11)).toEqual({ budget: 118, mask: true });
    // halfway through the fall: 40 / 8 + 80
    expect(budgetAt(schedule, 45)).toEqual({ budget: 85, mask: true });
    expect(budgetAt(schedule, 80)).toEqual({ budget: 80, mask: true });
    expect(budgetAt(schedule, 81)).toEqual({ budget: 80, mask: true });
    expect(budgetAt({ ...schedule, deltaT: 10 }, 45).mask).toBe(false);
    expect(budgetAt({ ...schedule, deltaT: 10 }, 50).mask).toBe(true);
  });

  it('keeps the triplets above the k-th smallest score', () => {
    expect(keepAboveThreshold([0.5, 0.1, 0.9, 0.3], 2)).toEqual([true, false, true, false]);
    expect(keepAboveThreshold([0.5, 0.1], 2)).toEqual([true, true]);
  });
});

describe('the allocator on the tiny bench', () => {
  it('masks to the budget of every step: initRank 4 on 4 projections down to 2 each', () => {
    const config: AdaloraConfig = { initRank: 4, targetRank: 2, alpha: 8, targets: ['query', 'value'], layers: [0, 1], initialFraction: 0.2, finalFraction: 0.3 };
    const steps = 20;
    const schedule = adaloraSchedule(config, 4, steps);
    const module = new AdaloraModule(tf, config, SHAPE, 1);
    const head = new SequenceClassificationHead(tf, 'bert', SHAPE.hiddenSize, 2, 3, 0);
    const input = bench.makeInput(2);
    const kept: number[] = [];
    // One step at a time, so the kept ranks can be read after each.
    const original = module.afterOptimizerStep.bind(module);
    module.afterOptimizerStep = (info) => {
      original({ ...info, totalSteps: steps });
      kept.push([...module.keptRanks().values()].flat().filter(Boolean).length);
    };
    try {
      bench.train([module], head, input, steps);
    } finally {
      head.dispose();
      bench.disposeInput(input);
    }
    const expected = Array.from({ length: steps }, (_, i) => (i + 1 <= schedule.tinit ? 16 : budgetAt(schedule, Math.min(i + 1, steps - schedule.tfinal)).budget));
    expect(kept).toEqual(expected);
    expect(kept[0]).toBe(16);
    expect(kept.at(-1)).toBe(8);
    // Masked singular values are exactly zero after the last step.
    const e = [...module.variables].filter(([n]) => n.endsWith('adalora_E')).flatMap(([, v]) => [...v.dataSync()]);
    expect(e.filter((v) => v !== 0)).toHaveLength(8);
    // With its masked values the trained module merges into the base weights within 1e-5.
    const probe = bench.makeInput(4);
    const merged = mergePeftModules(tf, bench.encoder, [module]);
    try {
      expect(merged.modules).toEqual([]);
      const unmerged = bench.hiddenOf(bench.encoder, [module], probe);
      expect(maxDiff(bench.hiddenOf(merged.encoder, [], probe), unmerged)).toBeLessThan(1e-5);
      expect(maxDiff(bench.hiddenOf(bench.encoder, [], probe), unmerged)).toBeGreaterThan(1e-3);
    } finally {
      merged.dispose();
      bench.disposeInput(probe);
      module.dispose();
    }
  });
});

describe('a real AdaLoRA trial (tiny-random, spam-assassin, 24 steps)', () => {
  const shape = BASE_MODELS['tiny-random']!.shape;
  const adalora: AdaloraConfig = { initRank: 4, targetRank: 2, alpha: 8, targets: ['query', 'value', 'ffnOut'], layers: [0, 1], initialFraction: 0.25, finalFraction: 0.25 };
  const training: TrainingConfig = { steps: 24, batchSize: 8, learningRate: 5e-3, evalEvery: 12, maxSeqLength: 24, trainExamples: 64, devExamples: 32, seed: 5, dataSeed: 5 };
  let weights: Map<string, NamedArray>;
  let result: Awaited<ReturnType<typeof trainTrial>>;

  beforeAll(async () => {
    result = await trainTrial(
      { studyId: 'adalora-test', trialNumber: 1, task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' }, peft: { adalora }, training },
      {
        onTrainedWeights: (trained: ReadonlyMap<string, Tensor>) => {
          weights = toNamedArrays(trained);
        },
      },
    );
  }, 120_000);

  it('ends with targetRank unmasked singular values per projection on average (12 of 24)', () => {
    const e = [...weights].filter(([n]) => n.endsWith('adalora_E'));
    expect(e).toHaveLength(6);
    const kept = e.map(([, w]) => [...w.data].filter((v) => v !== 0).length);
    expect(kept.reduce((a, b) => a + b, 0)).toBe(12);
    expect(result.trainableParams - result.storedParams).toBe(0);
    expect(result.storedParams).toBe(countPeftParams({ adalora }, shape, 'stored') + countHeadParams(shape, 2));
  });

  it("exports PEFT's ADALORA files: the unmasked ranks, rank_pattern and the same update", () => {
    const exported = hfPeftExport({ adalora }, weights, { modelType: 'bert', baseModelName: 'tiny-random', shape, headKind: 'bert', trainingSteps: training.steps });
    const config = JSON.parse(exported.adapterConfig) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'ADALORA', init_r: 4, target_r: 2, lora_alpha: 8, total_step: 24, tinit: 6, tfinal: 6, deltaT: 1, beta1: 0.85, beta2: 0.85, orth_reg_weight: 0.5 });
    const pattern = config.rank_pattern as Record<string, boolean[]>;
    expect(Object.keys(pattern)).toHaveLength(6);
    expect(Object.values(pattern).flat().filter(Boolean)).toHaveLength(12);
    const file = parseSafetensors(exported.weights, 'hf-peft');
    const scale = adaloraScale(adalora);
    for (const [key, mask] of Object.entries(pattern)) {
      expect(key).toMatch(/^bert\.encoder\.layer\.[01]\.(attention\.self\.(query|value)|output\.dense)\.lora_E$/);
      const module = `base_model.model.${key.slice(0, -'.lora_E'.length)}`;
      const ours = key.slice('bert.'.length, -'.lora_E'.length);
      const k = mask.filter(Boolean).length;
      const a = file.entries.get(`${module}.lora_A`)!;
      const b = file.entries.get(`${module}.lora_B`)!;
      const e = file.entries.get(`${module}.lora_E`)!;
      const qa = weights.get(`${ours}.adalora_A.kernel`)!;
      const pb = weights.get(`${ours}.adalora_B.kernel`)!;
      const [dIn] = qa.shape as [number, number];
      const dOut = pb.shape[1]!;
      expect([a.shape, e.shape, b.shape]).toEqual([[k, dIn], [k, 1], [dOut, k]]);
      // PEFT's delta, lora_B @ (lora_A * lora_E) * scaling / ranknum, from the exported tensors against ours, [out, in].
      const delta = tf.tidy(() => {
        const peftDelta = tf.mul(tf.matMul(tf.tensor2d(file.read(`${module}.lora_B`), [dOut, k]), tf.mul(tf.tensor2d(file.read(`${module}.lora_A`), [k, dIn]), tf.tensor2d(file.read(`${module}.lora_E`), [k, 1]))), scale);
        const eOurs = weights.get(`${ours}.adalora_E`)!;
        const oursDelta = tf.transpose(tf.mul(tf.matMul(tf.mul(tf.tensor2d(qa.data, qa.shape as [number, number]), tf.tensor1d(eOurs.data)), tf.tensor2d(pb.data, pb.shape as [number, number]) as Tensor2D), scale));
        return [peftDelta.dataSync(), oursDelta.dataSync()] as const;
      });
      expect(maxDiff(delta[0], delta[1])).toBeLessThan(1e-6);
    }
  });
});
