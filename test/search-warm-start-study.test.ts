/**
 * Warm start through the service: enqueued configurations are trained first, in order, and
 * a spec whose configurations do not fit the space is refused naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyView } from '../scheduler/types.js';
import { startStack, waitFor } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';

describe('warm start with enqueued configurations', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack(1);
  });

  afterAll(async () => {
    await stack?.close();
  });

  const spec = (configurations: unknown[]): unknown => ({
    name: 'warm lora',
    task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' },
    preset: 'lora',
    searchSpace: {
      'lora.rank': { type: 'categorical', choices: [1, 2, 4, 8] },
      'lora.targets': { type: 'categorical', choices: ['query,value', 'query,key,value'] },
    },
    algorithm: { name: 'random', seed: 3 },
    budget: { maxTrials: 3, maxParallel: 2 },
    warmStart: { configurations },
    training: { steps: 4, batchSize: 8, learningRate: 0.003, evalEvery: 2, maxSeqLength: 32, trainExamples: 32, devExamples: 16 },
  });

  it('trains the enqueued configurations first, in order, then what the algorithm proposes', async () => {
    const configurations = [
      { 'lora.rank': 8, 'lora.targets': 'query,key,value' },
      { 'lora.rank': 1, 'lora.targets': 'query,value' },
    ];
    const response = await stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec(configurations)) });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    const study = await waitFor(async () => {
      const view = (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;
      return view.state === 'completed' ? view : undefined;
    }, 240_000, `study ${id} to complete`);
    const trials = [...study.trials].sort((a, b) => a.number - b.number);
    expect(trials).toHaveLength(3);
    expect(trials[0]!.params).toEqual(configurations[0]);
    expect(trials[1]!.params).toEqual(configurations[1]);
    expect(trials[0]!.peft.lora?.rank).toBe(8);
    expect(trials[0]!.peft.lora?.targets).toEqual(['query', 'key', 'value']);
    // The third comes from the algorithm and repeats neither.
    expect(configurations).not.toContainEqual(trials[2]!.params);
    expect(trials.every((t) => t.state === 'complete')).toBe(true);
  });

  it('refuses configurations outside the space, repeated ones, and more than the budget, naming the field', async () => {
    const refusal = async (configurations: unknown[]): Promise<{ field: string; message: string }> => {
      const response = await stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec(configurations)) });
      expect(response.status).toBe(400);
      return ((await response.json()) as { error: { field: string; message: string } }).error;
    };
    const good = { 'lora.rank': 2, 'lora.targets': 'query,value' };
    expect(await refusal([good, { 'lora.rank': 3, 'lora.targets': 'query,value' }])).toMatchObject({ field: 'warmStart.configurations.1.lora.rank', message: expect.stringContaining('outside its distribution') });
    expect(await refusal([{ 'lora.rank': 2 }])).toMatchObject({ field: 'warmStart.configurations.0.lora.targets' });
    expect(await refusal([good, good])).toMatchObject({ field: 'warmStart.configurations.1', message: expect.stringContaining('repeats configuration 0') });
    expect(await refusal([good, { ...good, 'lora.rank': 1 }, { ...good, 'lora.rank': 4 }, { ...good, 'lora.rank': 8 }])).toMatchObject({ field: 'warmStart.configurations' });
    expect(await refusal([])).toMatchObject({ field: expect.stringContaining('warmStart.configurations') });
  });

  const run = async (body: unknown): Promise<StudyView> => {
    const response = await stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    return waitFor(async () => {
      const view = (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;
      return view.state === 'completed' || view.state === 'failed' ? view : undefined;
    }, 240_000, `study ${id} to finish`);
  };

  it('warm-starts from another study: its trials as priors on the same task, its Pareto configurations re-run on another', async () => {
    const first = await run(spec([{ 'lora.rank': 8, 'lora.targets': 'query,key,value' }, { 'lora.rank': 1, 'lora.targets': 'query,value' }]));
    expect(first.state).toBe('completed');
    const firstPoints = first.trials.map((t) => t.params);
    const base = spec([]) as Record<string, unknown>;
    // Same space and base model: the earlier trials are observations, never re-run.
    const same = await run({ ...base, warmStart: { fromStudy: first.id } });
    expect(same.state).toBe('completed');
    for (const t of same.trials) expect(firstPoints).not.toContainEqual(t.params);
    // Another space: the earlier study's Pareto configurations that fit it come first.
    const complete = first.trials.filter((t) => t.state === 'complete');
    const pareto = complete.filter((t) => !complete.some((o) => o.metric! >= t.metric! && o.trainableParams <= t.trainableParams && (o.metric! > t.metric! || o.trainableParams < t.trainableParams)));
    const other = await run({
      ...base,
      searchSpace: { 'lora.rank': { type: 'categorical', choices: [1, 2, 4, 8, 16] }, 'lora.targets': { type: 'categorical', choices: ['query,value', 'query,key,value'] } },
      warmStart: { fromStudy: first.id },
    });
    const ordered = [...other.trials].sort((a, b) => a.number - b.number);
    expect(ordered.slice(0, pareto.length).map((t) => t.params)).toEqual([...pareto].sort((a, b) => a.number - b.number).map((t) => t.params));
  });

  it('refuses a warm start from a study that does not exist, naming the field', async () => {
    for (const fromStudy of ['no-such-study', '00000000-0000-4000-8000-000000000000']) {
      const response = await stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...(spec([]) as Record<string, unknown>), warmStart: { fromStudy } }) });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { field: string } }).error.field).toBe('warmStart.fromStudy');
    }
  });
});
