/**
 * Full fine-tuning as a baseline: the size limit refuses it at admission on a base model over
 * the limit (naming the field and the limit) and drops it from the default set there, while the
 * bundled and tiny models get it; and a real trial of it on the bundled model passes the
 * worker's live-count check against both closed forms. On the same bert-base-sized model: a
 * re-evaluation that scores the whole dev split is refused when its evaluation does not fit.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSpecContext } from '../api/catalog.js';
import { parseStudySpec } from '../scheduler/spec.js';
import { BASELINE_NAMES, DEFAULT_BASELINES_MIN_TRIALS } from '../search/baselines.js';
import { FULL_FINE_TUNING_MAX_BASE_PARAMS } from '../search/methods/full-fine-tuning.js';
import { countBaseParams, countHeadParams, countPeftParams } from '../search/param-count.js';
import { validatePeft } from '../search/methods/registry.js';
import type { TrainingConfig } from '../search/types.js';
import { selectBackend } from '../workers/backend.js';
import { BASE_MODELS } from '../workers/models/catalog.js';
import { trainTrial } from '../workers/train/train-trial.js';
import { testRedis, uniquePrefix } from './helpers/redis.js';

/** bert-base-uncased's config.json (the fields the shape reads). */
const BERT_BASE_CONFIG = {
  model_type: 'bert', vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12,
  intermediate_size: 3072, max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0,
};

describe('full fine-tuning', () => {
  let modelRoot: string;
  const redis = testRedis();
  const context = () => createSpecContext({ redis, keyPrefix: uniquePrefix(), modelRoot });
  const spec = (baseModel: string, extra: Record<string, unknown> = {}) => ({
    name: 'full', task: { dataset: 'spam-assassin', baseModel, metric: 'f1' },
    training: { steps: 4, batchSize: 4, maxSeqLength: 32, trainExamples: 32, devExamples: 16 }, ...extra,
  });

  beforeAll(() => {
    modelRoot = mkdtempSync(path.join(tmpdir(), 'autopeft-models-'));
    mkdirSync(path.join(modelRoot, 'bert-base'));
    writeFileSync(path.join(modelRoot, 'bert-base', 'config.json'), JSON.stringify(BERT_BASE_CONFIG));
  });

  afterAll(async () => {
    rmSync(modelRoot, { recursive: true, force: true });
    await redis.quit();
  });

  it('refuses a re-evaluation whose whole-dev-split evaluation does not fit the memory limit, naming reevaluation', async () => {
    const problem = await parseStudySpec(spec('bert-base', { baselines: [], budget: { maxTrials: 30 } }), context()).then(
      () => undefined,
      (error: Error & { field?: string }) => error,
    );
    expect(problem?.field).toBe('reevaluation');
    expect(problem?.message).toMatch(/scores up to 2000 dev examples .* more than AUTOPEFT_TRIAL_MAX_MEMORY \(3\.0 GiB\)/);
    // The same study without re-evaluation is admitted: only the re-evaluation's larger evaluation batches are over.
    await expect(parseStudySpec(spec('bert-base', { baselines: [], budget: { maxTrials: 30 }, reevaluation: { configurations: 0 } }), context())).resolves.toBeDefined();
  });

  it('cannot share a configuration with BitFit or LayerNorm tuning, whose LayerNorm parameters it already shifts', () => {
    const shape = BASE_MODELS['tiny-random']!.shape;
    const full = { layers: [0, 1] };
    expect(() => validatePeft({ full, bitfit: { layers: [0] } }, shape)).toThrow(/full fine-tuning .*cannot be combined with bitfit/);
    expect(() => validatePeft({ full, layerNorm: { layers: [1] } }, shape)).toThrow(/cannot be combined with layerNorm/);
    expect(() => validatePeft({ full }, shape)).not.toThrow();
    expect(() => validatePeft({ full, lora: { rank: 2, alpha: 2, dropout: 0, targets: ['query'], layers: [0] } }, shape)).not.toThrow();
  });

  it('is refused at admission on a base model over the documented limit, naming the field and the limit', async () => {
    const problem = await parseStudySpec(spec('bert-base', { baselines: ['lora', 'full'], budget: { maxTrials: 4 } }), context()).then(
      () => undefined,
      (error: Error & { field?: string }) => error,
    );
    expect(problem?.field).toBe('baselines.1');
    expect(problem?.message).toMatch(/baseline "full" cannot run in this study: .*the base model has 109,482,240 parameters, more than the 20,000,000 full fine-tuning runs on here \(FULL_FINE_TUNING_MAX_BASE_PARAMS/);
    expect(countBaseParams({ vocabSize: 30522, hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, maxPositions: 512, typeVocabSize: 2 })).toBe(109_482_240);
  });

  it('joins the default set on the bundled and tiny models, and not on bert-base', async () => {
    for (const name of ['brown-bert-small', 'tiny-random']) {
      expect(countBaseParams(BASE_MODELS[name]!.shape)).toBeLessThanOrEqual(FULL_FINE_TUNING_MAX_BASE_PARAMS);
      const parsed = await parseStudySpec(spec(name, { budget: { maxTrials: DEFAULT_BASELINES_MIN_TRIALS } }), context());
      expect(parsed.spec.baselines, name).toEqual(BASELINE_NAMES);
      expect(parsed.spec.baselines).toContain('full');
    }
    // (Re-evaluation off: its evaluation batches of the whole dev split would not fit bert-base's memory estimate.)
    const big = await parseStudySpec(spec('bert-base', { budget: { maxTrials: DEFAULT_BASELINES_MIN_TRIALS }, reevaluation: { configurations: 0 } }), context());
    expect(big.spec.baselines).not.toContain('full');
    expect(big.spec.baselines?.length).toBeGreaterThan(0);
  });

  it('trains on the bundled model with live counts equal to both closed forms, every layer weight included', async () => {
    const backend = await selectBackend({ prefer: 'wasm', log: () => {} });
    const shape = BASE_MODELS['brown-bert-small']!.shape;
    const peft = { full: { layers: [0, 1] } };
    const training: TrainingConfig = { steps: 6, batchSize: 8, learningRate: 1e-4, evalEvery: 3, maxSeqLength: 32, trainExamples: 64, devExamples: 32, seed: 3, dataSeed: 3 };
    // trainTrial throws when a live count differs from its closed form, so finishing is the check.
    const result = await trainTrial({ studyId: 'full-ft', trialNumber: 0, task: { dataset: 'spam-assassin', baseModel: 'brown-bert-small', metric: 'accuracy' }, peft, training }, { backend });
    const layer = 4 * 128 * 128 + 2 * 128 * 512 + 9 * 128 + 512;
    expect(countPeftParams(peft, shape, 'stored')).toBe(2 * layer);
    expect(result.storedParams).toBe(2 * layer + countHeadParams(shape, 2));
    expect(result.trainableParams).toBe(2 * layer + countHeadParams(shape, 2));
    expect(result.reports.length).toBeGreaterThan(0);
  }, 120_000);
});
