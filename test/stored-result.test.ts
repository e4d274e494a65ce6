/**
 * A trial's outcome is stored before its job completes, so a trial whose job comes back after it
 * trained (Redis restarted, the job's lock was lost on completion) is not trained again.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_QUEUE_NAME, resultKey } from '../workers/job-types.js';
import type { TrialJobData, TrialJobOutcome } from '../workers/job-types.js';
import { testRedis } from './helpers/redis.js';
import { startStack, waitFor } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';
import type { StudyView } from '../scheduler/types.js';

describe('stored trial results', () => {
  let stack: TestStack;
  const redis = testRedis();

  beforeAll(async () => {
    stack = await startStack(1);
  });

  afterAll(async () => {
    await stack?.close();
    await redis.quit();
  });

  it('returns the stored outcome when a trained trial comes back, instead of training it again', async () => {
    const spec = {
      name: 'stored result',
      task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'f1' },
      budget: { maxTrials: 1, maxParallel: 1 },
      training: { steps: 2, batchSize: 4, evalEvery: 1, maxSeqLength: 16, trainExamples: 8, devExamples: 4 },
    };
    const { id } = (await (await stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) })).json()) as { id: string };
    const view = await waitFor(async () => {
      const v = (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;
      return v.state === 'completed' ? v : undefined;
    }, 60_000, 'the study to complete');
    const jobId = `${id}-0`;
    const queue = new Queue<TrialJobData, TrialJobOutcome>(DEFAULT_QUEUE_NAME, { connection: redis, prefix: stack.prefix });
    try {
      const job = (await queue.getJob(jobId))!;
      // The outcome was stored before the job completed, and it is what the job returned.
      const stored = JSON.parse((await redis.get(resultKey(stack.prefix, jobId)))!) as TrialJobOutcome;
      expect(stored).toEqual(job.returnvalue);
      expect('metric' in stored && stored.metric).toBe(view.trials[0]!.metric);
      expect(await redis.ttl(resultKey(stack.prefix, jobId))).toBeGreaterThan(6 * 24 * 3600);

      // The job comes back (as when its completion was lost): the worker hands back the stored
      // outcome at once; it trains nothing.
      const trainingLines = () => stack.workerLog().split('\n').filter((l) => l.includes(`trial 0 of study ${id}: training`)).length;
      expect(trainingLines()).toBe(1);
      await job.retry('completed');
      await waitFor(async () => (stack.workerLog().includes(`trial 0 of study ${id}: already trained by an earlier attempt`) ? true : undefined), 30_000, 'the worker to take the job again');
      const again = await waitFor(async () => {
        const j = await queue.getJob(jobId);
        return j && (await j.getState()) === 'completed' && j.returnvalue ? j : undefined;
      }, 30_000, 'the job to complete again');
      expect(again.returnvalue).toEqual(stored);
      expect(trainingLines()).toBe(1);
    } finally {
      await queue.close();
    }
  });
});
