/**
 * A trial's record follows its job: the worker records it running when it starts and finished
 * before the job completes. Sampled while two studies share two workers: the records never
 * show more running trials than there are workers, and a completed job's trial is never shown
 * unfinished.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StudyStore } from '../scheduler/store.js';
import type { StudyView } from '../scheduler/types.js';
import { DEFAULT_QUEUE_NAME } from '../workers/job-types.js';
import { testRedis } from './helpers/redis.js';
import { startStack, waitFor } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';

const spec = (i: number) => ({
  name: `record follows job ${i}`,
  task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' },
  algorithm: { name: 'random', seed: 40 + i },
  budget: { maxTrials: 4, maxParallel: 2 },
  training: { steps: 6, batchSize: 8, learningRate: 0.003, evalEvery: 3, maxSeqLength: 32, trainExamples: 32, devExamples: 16 },
});

describe('trial records and their jobs', () => {
  let stack: TestStack;
  const redis = testRedis();

  beforeAll(async () => {
    stack = await startStack(2);
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
    await redis.quit();
  });

  it('never show more trials running than workers, nor a completed job as unfinished', async () => {
    const store = new StudyStore(redis, stack.prefix);
    const queue = new Queue(DEFAULT_QUEUE_NAME, { connection: redis, prefix: stack.prefix });
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const response = await stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec(i)) });
      ids.push(((await response.json()) as { id: string }).id);
    }
    let samples = 0;
    let mostRunning = 0;
    const unfinishedCompleted: string[] = [];
    let done = false;
    while (!done) {
      // Jobs first: a job completed by now must have its trial recorded finished when read after.
      const completed = (await queue.getCompleted(0, -1)).map((job) => job.id ?? '');
      const trials = (await Promise.all(ids.map((id) => store.getTrials(id)))).flatMap((list, i) => list.map((t) => ({ ...t, job: `${ids[i]}-${t.number}` })));
      mostRunning = Math.max(mostRunning, trials.filter((t) => t.state === 'running').length);
      for (const t of trials) if (completed.includes(t.job) && (t.state === 'waiting' || t.state === 'running')) unfinishedCompleted.push(`${t.job} ${t.state}`);
      samples++;
      const states = await Promise.all(ids.map(async (id) => ((await (await stack.api(`/api/studies/${id}`)).json()) as StudyView).state));
      done = states.every((s) => s === 'completed' || s === 'failed');
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    await queue.close();
    for (const id of ids) {
      const view = await waitFor(async () => ((await (await stack.api(`/api/studies/${id}`)).json()) as StudyView), 1000, 'the study');
      expect(view.state).toBe('completed');
      expect(view.summary.trialsByState).toEqual({ complete: 4 });
    }
    expect(samples).toBeGreaterThan(20);
    expect(unfinishedCompleted).toEqual([]);
    expect(mostRunning).toBeGreaterThanOrEqual(1);
    expect(mostRunning).toBeLessThanOrEqual(2);
  }, 180_000);
});
