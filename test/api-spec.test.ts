import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countBaseParams, countHeadParams } from '../search/param-count.js';
import type { EncoderShape } from '../search/types.js';
import { startInProcessApp } from './helpers/app.js';
import type { InProcessApp } from './helpers/app.js';
import { keysUnder } from './helpers/redis.js';

const validSpec = {
  name: 'spec test',
  task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'f1' },
  budget: { maxTrials: 2, maxParallel: 1 },
};
const { metric: _metric, ...taskWithoutMetric } = validSpec.task;

describe('POST /api/studies', () => {
  let app: InProcessApp;
  let redis: Redis;
  let url: string;
  let auth: { authorization: string };
  let prefix: string;

  beforeAll(async () => {
    app = await startInProcessApp('spec-tester', 'submit', fileURLToPath(new URL('./fixtures/hf/', import.meta.url)));
    ({ redis, url, auth, prefix } = app);
  });

  afterAll(async () => {
    await app?.close();
  });

  const post = (body: unknown, contentType = 'application/json') =>
    fetch(`${url}/api/studies`, { method: 'POST', headers: { 'content-type': contentType, ...auth }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  const invalid: [string, unknown, string, RegExp][] = [
    ['a missing budget', { ...validSpec, budget: undefined }, 'budget', /^budget: is required$/],
    ['a fractional trial count', { ...validSpec, budget: { maxTrials: 2.5 } }, 'budget.maxTrials', /budget\.maxTrials: .*int/],
    ['zero trials', { ...validSpec, budget: { maxTrials: 0 } }, 'budget.maxTrials', /budget\.maxTrials: .*>=\s*1/],
    ['an unknown dataset', { ...validSpec, task: { ...validSpec.task, dataset: 'imdb' } }, 'task.dataset', /Unknown dataset "imdb"; known datasets: spam-assassin, /],
    ['a missing upload', { ...validSpec, task: { ...validSpec.task, dataset: 'upload:nope' } }, 'task.dataset', /no upload with id "nope"/],
    ['a file without a data root', { ...validSpec, task: { ...validSpec.task, dataset: 'file:x.csv' } }, 'task.dataset', /no data root is configured/],
    ['a metric the dataset has not', { ...validSpec, task: { ...validSpec.task, metric: 'pearson' } }, 'task.metric', /"pearson" does not apply to dataset "spam-assassin"; use one of f1, accuracy, matthews/],
    ['an unknown base model', { ...validSpec, task: { ...validSpec.task, baseModel: 'gpt-9' } }, 'task.baseModel', /"gpt-9"/],
    ['a model path escaping the model root', { ...validSpec, task: { ...validSpec.task, baseModel: '../fixtures/hf/bert' } }, 'task.baseModel', /not valid/],
    ['an unknown metric', { ...validSpec, task: { ...validSpec.task, metric: 'bleu' } }, 'task.metric', /task\.metric: /],
    ['a misspelt field', { ...validSpec, budgte: {} }, 'budgte', /budgte: unknown field/],
    ['bounds in the wrong order', { ...validSpec, searchSpace: { 'lora.rank': { type: 'int', low: 8, high: 2 } } }, 'searchSpace.lora.rank', /low <= high must hold/],
    ['an unknown LoRA target', { ...validSpec, searchSpace: { 'lora.targets': { type: 'categorical', choices: ['query,vlaue'] } } }, 'searchSpace.lora.targets', /unknown target "vlaue"/],
    ['too long sequences', { ...validSpec, training: { maxSeqLength: 4096 } }, 'training.maxSeqLength', /at most 128/],
  ];

  it.each(invalid)('answers 400 naming the field for %s, and stores nothing', async (_what, body, field, message) => {
    const before = await keysUnder(redis, prefix);
    const dbSize = await redis.dbsize();
    const response = await post(body);
    expect(response.status).toBe(400);
    const payload = (await response.json()) as { error: { code: string; field: string; message: string } };
    expect(payload.error.code).toBe('invalid_spec');
    expect(payload.error.field).toBe(field);
    expect(payload.error.message).toMatch(message);
    expect(await keysUnder(redis, prefix)).toEqual(before);
    expect(await redis.dbsize()).toBe(dbSize);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const response = await post('{"name": ', 'application/json');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/request body/);
    expect((await keysUnder(redis, prefix)).filter((key) => !key.includes(':token'))).toEqual([]);
  });

  it('answers 201 with the id for a valid spec and stores it queued with defaults filled in', async () => {
    const response = await post(validSpec);
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    const view = (await (await fetch(`${url}/api/studies/${id}`, { headers: auth })).json()) as {
      state: string;
      headOutputs: number;
      spec: { task: { metric: string }; training: { steps: number }; searchSpace: Record<string, unknown> };
      trials: unknown[];
    };
    expect(view.state).toBe('queued');
    expect(view.headOutputs).toBe(2);
    expect(view.trials).toEqual([]);
    expect(view.spec.training.steps).toBe(100);
    expect(Object.keys(view.spec.searchSpace)).toContain('lora.rank');
    const list = ((await (await fetch(`${url}/api/studies`, { headers: auth })).json()) as { studies: { id: string }[] }).studies;
    expect(list.map((s) => s.id)).toContain(id);
  });

  it("takes the dataset's own metric when the spec names none", async () => {
    const response = await post({ ...validSpec, name: 'brown', task: { ...taskWithoutMetric, dataset: 'brown-genre' } });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    const view = (await (await fetch(`${url}/api/studies/${id}`, { headers: auth })).json()) as { headOutputs: number; spec: { task: { metric: string } } };
    expect(view.spec.task.metric).toBe('accuracy');
    expect(view.headOutputs).toBe(15);
  });

  it('takes a Hugging Face model directory under the model root by name', async () => {
    const response = await post({ ...validSpec, name: 'own model', task: { ...validSpec.task, baseModel: 'bert' }, training: { maxSeqLength: 16 } });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    const view = (await (await fetch(`${url}/api/studies/${id}`, { headers: auth })).json()) as { spec: { searchSpace: Record<string, { choices?: unknown[] }> } };
    expect(view.spec.searchSpace['lora.rank']).toBeDefined();
  });

  it('keeps the base model\'s shape, head kind included, with the study: a RoBERTa model under the model root', async () => {
    const response = await post({ ...validSpec, name: 'own roberta', task: { ...validSpec.task, baseModel: 'roberta' }, training: { maxSeqLength: 16 } });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    const view = (await (await fetch(`${url}/api/studies/${id}`, { headers: auth })).json()) as { baseShape: EncoderShape; baseParams: number };
    expect(view.baseShape).toMatchObject({ hiddenSize: 48, headKind: 'roberta' });
    expect(view.baseParams).toBe(countBaseParams(view.baseShape));
    // What the scheduler charges every trial for the task head: RoBERTa's dense + out_proj.
    expect(countHeadParams(view.baseShape, 2)).toBe(48 * 48 + 48 + 48 * 2 + 2);
  });

  it('answers 404 for an unknown study and 409 for a best configuration before any trial completes', async () => {
    expect((await fetch(`${url}/api/studies/nope`, { headers: auth })).status).toBe(404);
    const { id } = (await (await post(validSpec)).json()) as { id: string };
    const best = await fetch(`${url}/api/studies/${id}/best`, { headers: auth });
    expect(best.status).toBe(409);
    expect(((await best.json()) as { error: { message: string } }).error.message).toMatch(/no complete trial yet/);
  });
});
