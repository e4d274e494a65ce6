import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSpecContext } from '../api/catalog.js';
import { trialTrainingProblem } from '../search/training-schema.js';
import type { TrainingConfig } from '../search/types.js';
import { selectBackend } from '../workers/backend.js';
import type { SelectedBackend } from '../workers/backend.js';
import { InvalidTrialError } from '../workers/errors.js';
import { optimizerSettings, trainTrial } from '../workers/train/train-trial.js';
import { startInProcessApp } from './helpers/app.js';
import type { InProcessApp } from './helpers/app.js';
import { keysUnder, testRedis, uniquePrefix } from './helpers/redis.js';

const demoSpec = JSON.parse(readFileSync(new URL('../api/demo-study.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const task = { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'f1' };
const base = { name: 'admission', task, budget: { maxTrials: 2 } };
const autopeft = (searchSpace: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ ...base, preset: 'autopeft', searchSpace, ...extra });
const choices = (...values: (number | boolean | string)[]) => ({ type: 'categorical', choices: values });

/** The spec of the issue that stopped every worker: a 2,000,000-wide bottleneck on a 64-wide model. */
const poison = autopeft({ 'serialAdapter.size': choices(2_000_000), 'layer.0': choices(true) });

describe('admission control at POST /api/studies', () => {
  let app: InProcessApp;
  let redis: Redis;
  let url: string;
  let auth: { authorization: string };
  let prefix: string;

  beforeAll(async () => {
    // Admin: these tests are about admission, not about quotas. The default
    // AUTOPEFT_TRIAL_MAX_MEMORY (3 GiB): the context leaves it out.
    app = await startInProcessApp('admission-tester', 'admin');
    ({ redis, url, auth, prefix } = app);
  });

  afterAll(async () => {
    await app?.close();
  });

  const post = (body: unknown) => fetch(`${url}/api/studies`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) });

  const refused: [string, unknown, string, RegExp][] = [
    ['the poison spec of issue 10', poison, 'searchSpace.serialAdapter.size', /bottleneck \(at most the hidden size 64\) must be in 0\.\.64 for this base model, but got 2000000/],
    ['a LoRA parameter under preset autopeft', autopeft({ 'lora.rank': choices(4, 8), 'layer.0': choices(true) }), 'searchSpace.lora.rank', /unknown parameter for this preset; known: serialAdapter\.size, parallelAdapter\.size, prefix\.length, layer\.0\.\.layer\.1/],
    ['a fractional adapter size', autopeft({ 'serialAdapter.size': choices(8, 12.5), 'layer.0': choices(true) }), 'searchSpace.serialAdapter.size', /must be an integer, but got 12\.5/],
    ['a float distribution for a size', autopeft({ 'parallelAdapter.size': { type: 'float', low: 1, high: 16 }, 'layer.1': choices(true) }), 'searchSpace.parallelAdapter.size', /must be an integer: use an int or categorical distribution, not float/],
    ['layer.99 on a 2-layer model', autopeft({ 'serialAdapter.size': choices(8), 'layer.99': choices(true) }), 'searchSpace.layer.99', /the base model has layers 0\.\.1, so there is no layer 99/],
    ['a layer switch that is not boolean', autopeft({ 'serialAdapter.size': choices(8), 'layer.0': choices(1) }), 'searchSpace.layer.0', /a switch must be categorical with choices true and\/or false/],
    ['a LoRA rank above min(d_in, d_out)', { ...base, searchSpace: { 'lora.rank': { type: 'int', low: 1, high: 65 } } }, 'searchSpace.lora.rank', /at most min\(d_in, d_out\) = 64 .*but got 65/],
    ['a fractional LoRA rank', { ...base, searchSpace: { 'lora.rank': choices(2, 3.5) } }, 'searchSpace.lora.rank', /must be an integer, but got 3\.5/],
    ['a per-target rank above its bound (autopeft-lora)', { ...base, preset: 'autopeft-lora', searchSpace: { 'lora.on': choices(true), 'lora.rank.ffnIn': choices(0, 128), 'layer.0': choices(true) } }, 'searchSpace.lora.rank.ffnIn', /must be in 0\.\.64/],
    ['a prefix longer than the positions', autopeft({ 'prefix.length': choices(16, 129), 'layer.0': choices(true) }), 'searchSpace.prefix.length', /at most the model's 128 positions\) must be in 0\.\.128 .*but got 129/],
    // A prefix takes positions before the input (Hugging Face numbers the tokens after it): 96 + 64 > 128.
    ['a prefix that leaves too few positions for the input', autopeft({ 'prefix.length': choices(16, 96), 'layer.0': choices(true) }, { training: { maxSeqLength: 64 } }), 'training.maxSeqLength', /takes 96 of the base model's 128 positions for its prompt and prefix, which leaves 32 for the input, not 64: lower maxSeqLength to at most 32/],
    ['a learning rate the training schema refuses', { ...base, searchSpace: { 'training.learningRate': { type: 'float', low: 1e-4, high: 2 } } }, 'searchSpace.training.learningRate', /must pass the training schema/],
    ['a space with no valid point (every module off)', autopeft({ 'serialAdapter.size': choices(0), 'prefix.length': choices(0), 'layer.0': choices(true, false) }), 'searchSpace', /none of 300 random draws is a valid configuration of preset "autopeft", which needs some layer switch .* true and some module size .* above 0/],
    ['a space with no valid point (no layer on)', autopeft({ 'serialAdapter.size': choices(8, 16), 'layer.0': choices(false), 'layer.1': choices(false) }), 'searchSpace', /none of 300 random draws is a valid configuration/],
    ['a constraint no valid point meets', { ...base, objectives: { maxTrainablePercent: 0.0001 } }, 'objectives.maxTrainablePercent', /every valid configuration drawn trains more than 0\.0001% of the base model \(the smallest of 300: /],
    ['warmupRatio 1 (the worker would refuse it)', { ...base, training: { warmupRatio: 1 } }, 'training.warmupRatio', /Too big: expected number to be <1/],
    // ~10 GiB of activations: 1024 × 128 tokens through 2 layers, against the 3 GiB default.
    ['a batch × sequence too large for one trial', { ...base, training: { batchSize: 1024, maxSeqLength: 128 } }, 'training.maxSeqLength', /needs an estimated \d+(\.\d)? GiB: .*activations at batch 1024 × sequence 128 × 2 layers .*more than AUTOPEFT_TRIAL_MAX_MEMORY \(3\.0 GiB\)/],
  ];

  it.each(refused)('answers 400 naming the field for %s, and stores nothing', async (_what, body, field, message) => {
    const before = await keysUnder(redis, prefix);
    const response = await post(body);
    const payload = (await response.json()) as { error: { code: string; field: string; message: string } };
    expect(response.status, JSON.stringify(payload)).toBe(400);
    expect(payload.error.code).toBe('invalid_spec');
    expect(payload.error.field).toBe(field);
    expect(payload.error.message).toMatch(message);
    expect(await keysUnder(redis, prefix)).toEqual(before);
  });

  it('accepts the spaces that can run: the presets\' defaults, a valid autopeft space, the demo study', async () => {
    for (const body of [
      base,
      { ...base, preset: 'autopeft' },
      { ...base, preset: 'autopeft-lora' },
      // The default prefix lengths leave half the positions to the input.
      { ...base, preset: 'autopeft', training: { maxSeqLength: 64 } },
      autopeft({ 'serialAdapter.size': { type: 'int', low: 0, high: 64 }, 'layer.0': choices(true, false), 'layer.1': choices(true) }),
      demoSpec,
    ]) {
      const response = await post(body);
      expect(response.status, JSON.stringify(await response.clone().json())).toBe(201);
    }
  });

  it('refuses a too-large batch x sequence whichever field is lowered, and names the batch when the sequence is already short', async () => {
    const response = await post({ ...base, training: { batchSize: 1024, maxSeqLength: 4, devExamples: 1 } });
    expect(response.status).toBe(201);
    const tooWide = await post({ ...base, training: { batchSize: 1024, maxSeqLength: 100, devExamples: 1 } });
    expect(tooWide.status).toBe(400);
    expect(((await tooWide.json()) as { error: { field: string } }).error.field).toMatch(/^training\.(batchSize|maxSeqLength)$/);
  });
});

describe('AUTOPEFT_TRIAL_MAX_MEMORY is the limit admission uses', () => {
  it('refuses the demo study under a 64 MiB limit, naming a training setting, and accepts it under the default', async () => {
    const { parseStudySpec } = await import('../scheduler/spec.js');
    const redis = testRedis();
    try {
      const small = createSpecContext({ redis, keyPrefix: uniquePrefix(), trialMaxMemoryBytes: 64 * 2 ** 20 });
      await expect(parseStudySpec(demoSpec, small)).rejects.toThrow(/^training\.\w+: one trial of the space's largest configuration .* more than AUTOPEFT_TRIAL_MAX_MEMORY \(64 MiB\)/);
      const parsed = await parseStudySpec(demoSpec, createSpecContext({ redis, keyPrefix: uniquePrefix() }));
      expect(parsed.spec.task.baseModel).toBe('brown-bert-small');
    } finally {
      await redis.quit();
    }
  });
});

describe('one schema for the training settings: the API and the worker agree', () => {
  let backend: SelectedBackend;
  let redis: Redis;
  beforeAll(async () => {
    backend = await selectBackend({ prefer: 'wasm', log: () => {} });
    redis = testRedis();
  });
  afterAll(async () => {
    await redis.quit();
  });

  const TINY: TrainingConfig = { steps: 2, batchSize: 4, learningRate: 1e-3, evalEvery: 2, maxSeqLength: 16, trainExamples: 8, devExamples: 4, seed: 1, dataSeed: 1 };
  const cases: [string, Partial<TrainingConfig>][] = [
    ['warmupRatio 1', { warmupRatio: 1 }],
    ['warmupRatio 0.999', { warmupRatio: 0.999 }],
    ['warmupRatio 0', { warmupRatio: 0 }],
    ['warmupRatio -0.1', { warmupRatio: -0.1 }],
    ['weightDecay 2', { weightDecay: 2 }],
    ['earlyStoppingPatience 1.5', { earlyStoppingPatience: 1.5 }],
    ['maxGradNorm 0', { maxGradNorm: 0 }],
    ['maxSeqLength 3', { maxSeqLength: 3 }],
  ];

  it.each(cases)('%s: accepted by both or refused by both', async (_what, settings) => {
    const { parseStudySpec } = await import('../scheduler/spec.js');
    const context = createSpecContext({ redis, keyPrefix: uniquePrefix() });
    const { seed: _seed, dataSeed: _dataSeed, ...specTraining } = { ...TINY, ...settings };
    const api = await parseStudySpec({ ...base, training: specTraining }, context).then(
      () => 'accepted',
      (error: Error) => `refused: ${error.message}`,
    );
    const job = { studyId: 'schema', trialNumber: 0, task: { ...task, metric: 'accuracy' as const }, peft: { lora: { rank: 2, alpha: 2, dropout: 0, targets: ['query' as const], layers: [0] } }, training: { ...TINY, ...settings } };
    const worker = await trainTrial(job, { backend }).then(
      () => 'accepted',
      (error: Error) => {
        expect(error).toBeInstanceOf(InvalidTrialError);
        return `refused: ${error.message}`;
      },
    );
    expect(worker.startsWith('accepted'), `API: ${api}; worker: ${worker}`).toBe(api.startsWith('accepted'));
    // The scheduler checks each trial's settings with the same schema before it enqueues them.
    expect(trialTrainingProblem(job.training) === undefined).toBe(api.startsWith('accepted'));
    if (api.startsWith('refused')) {
      const field = Object.keys(settings)[0]!;
      expect(api).toContain(`training.${field}`);
      expect(worker).toContain(field);
    }
  });

  it('the worker reads optimiser settings it accepted unchanged', () => {
    expect(optimizerSettings({ ...TINY, warmupRatio: 0.5 }).warmupRatio).toBe(0.5);
  });
});
