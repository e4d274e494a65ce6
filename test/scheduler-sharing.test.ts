/**
 * Schedulers share the studies instead of one standing by: each holds about its share of the
 * locks, a scheduler that joins is given studies, and the studies of one that stops move to the
 * others. Every study is driven by exactly one of them at a time.
 */
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proposePoints } from '../scheduler/propose.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { StudyStore } from '../scheduler/store.js';
import type { TrialJobData, TrialJobOutcome } from '../workers/job-types.js';
import type { InProcessApp } from './helpers/app.js';
import { startSchedulerApp } from './helpers/scheduler-app.js';
import type { SchedulerApp } from './helpers/scheduler-app.js';
import { waitFor } from './helpers/stack.js';

describe('schedulers sharing studies', () => {
  let harness: SchedulerApp;
  let app: InProcessApp;
  let store: StudyStore;
  let queue: Queue<TrialJobData, TrialJobOutcome>;

  beforeAll(async () => {
    harness = await startSchedulerApp('sharing');
    ({ app, store, queue } = harness);
  });

  afterAll(async () => {
    await harness?.close();
  });

  /** Lock owner of each study. */
  const owners = async (ids: string[]): Promise<(string | null)[]> => Promise.all(ids.map((id) => app.redis.get(store.lockKey(id))));
  const heldBy = (all: (string | null)[], owner: string): number => all.filter((o) => o === owner).length;

  it('split the studies between them, take a joiner in and take over from one that stops', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await harness.submit(`shared ${i}`));
    // No workers: every study creates its first 2 trials and waits; nothing finishes.
    const options = { store, queue, lockTtlMs: 1500, pollMs: 200, propose: async (request: Parameters<typeof proposePoints>[0]) => proposePoints(request) };
    const a = new Scheduler(options);
    await a.start();
    await waitFor(async () => (heldBy(await owners(ids), a.id) === 6 ? true : undefined), 15_000, 'scheduler A to take all 6 studies');

    // B joins: A gives back what exceeds its half, B takes it. Neither stands by.
    const b = new Scheduler(options);
    await b.start();
    const split = await waitFor(
      async () => {
        const all = await owners(ids);
        return heldBy(all, a.id) === 3 && heldBy(all, b.id) === 3 ? all : undefined;
      },
      15_000,
      'the studies to split 3 / 3',
    );
    expect(split.every((o) => o === a.id || o === b.id)).toBe(true);

    // Each study was proposed for by one scheduler at a time: exactly its first 2 trials, each enqueued once.
    for (const id of ids) {
      const trials = await store.getTrials(id);
      expect(trials.map((t) => t.number)).toEqual([0, 1]);
    }
    const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized']);
    for (const id of ids) expect(jobs.filter((j) => j.data.studyId === id)).toHaveLength(2);

    // A stops: B takes all 6 over.
    await a.stop();
    await waitFor(async () => (heldBy(await owners(ids), b.id) === 6 ? true : undefined), 15_000, 'scheduler B to take over all 6');
    await b.stop();
    expect((await owners(ids)).every((o) => o === null)).toBe(true);
  });
});
