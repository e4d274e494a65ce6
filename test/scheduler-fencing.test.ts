/**
 * Two schedulers on one study: one pauses in the middle of a step past its lock's expiry, the
 * other takes the study over; when the first resumes, every write of its step is refused, so
 * nothing its successor wrote is overwritten. And a step longer than the lock keeps it.
 */
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proposePoints } from '../scheduler/propose.js';
import type { ProposalOutcome, ProposalRequest } from '../scheduler/propose.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { StudyStore } from '../scheduler/store.js';
import type { TrialJobData, TrialJobOutcome } from '../workers/job-types.js';
import type { InProcessApp } from './helpers/app.js';
import { startSchedulerApp } from './helpers/scheduler-app.js';
import type { SchedulerApp } from './helpers/scheduler-app.js';
import { waitFor } from './helpers/stack.js';

describe('scheduler lock fencing', () => {
  let harness: SchedulerApp;
  let app: InProcessApp;
  let store: StudyStore;
  let queue: Queue<TrialJobData, TrialJobOutcome>;

  beforeAll(async () => {
    harness = await startSchedulerApp('fencing');
    ({ app, store, queue } = harness);
  });

  afterAll(async () => {
    await harness?.close();
  });

  const submit = (name: string): Promise<string> => harness.submit(name);

  it('refuses the writes of a scheduler that paused past its lock, once another took the study over', async () => {
    const id = await submit('paused scheduler');
    // Scheduler A's proposal hangs (as if its process were paused) until released; its points
    // carry a learning rate no real proposal has, so any write of A's would show.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let asked = false;
    const stalePoint = { 'training.learningRate': 0.000123 };
    const logA: string[] = [];
    const a = new Scheduler({
      store,
      queue,
      lockTtlMs: 60_000,
      pollMs: 3_600_000,
      log: (m) => logA.push(m),
      propose: async (request: ProposalRequest): Promise<ProposalOutcome> => {
        asked = true;
        await released;
        const real = proposePoints(request);
        return real.ok ? { ok: true, points: real.points.map((point) => ({ ...point, ...stalePoint })) } : real;
      },
    });
    await a.start();
    await waitFor(async () => (asked ? true : undefined), 10_000, 'scheduler A to ask for points');
    // The pause outlasts A's lock (its renewal, every 20 s, has not come): the lock expires...
    await app.redis.pexpire(store.lockKey(id), 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // ...and scheduler B takes the study over and creates its first trials.
    const b = new Scheduler({ store, queue, lockTtlMs: 60_000, pollMs: 3_600_000, propose: async (request) => proposePoints(request) });
    await b.tick();
    const byB = await store.getTrials(id);
    expect(byB.map((t) => t.number)).toEqual([0, 1]);
    const studyByB = await store.getStudy(id);

    // A resumes: its trials and study writes are refused, and B's records stand.
    release();
    await waitFor(async () => (logA.some((m) => m.includes('another scheduler took it over')) ? true : undefined), 10_000, 'scheduler A to notice');
    const after = await store.getTrials(id);
    expect(after).toEqual(byB);
    expect(after.every((t) => t.training.learningRate !== stalePoint['training.learningRate'])).toBe(true);
    expect((await store.getStudy(id))?.updatedAt).toBe(studyByB?.updatedAt);
    const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized']);
    expect(jobs.filter((j) => j.data.studyId === id).map((j) => j.data.training.learningRate).sort()).toEqual(byB.map((t) => t.training.learningRate).sort());
    await a.stop();
    await b.stop();
  });

  it('keeps the lock through a step longer than the lock lasts', async () => {
    const id = await submit('slow step');
    const log: string[] = [];
    // A 300 ms lock and a 1 s proposal: without renewal the lock would lapse three times.
    const a = new Scheduler({
      store,
      queue,
      lockTtlMs: 300,
      pollMs: 3_600_000,
      log: (m) => log.push(m),
      propose: async (request) => {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return proposePoints(request);
      },
    });
    const other = store.lockKey(id);
    const watcher = setInterval(() => void app.redis.set(other, 'intruder', 'PX', 300, 'NX'), 50);
    try {
      await a.tick();
    } finally {
      clearInterval(watcher);
    }
    expect(log.filter((m) => m.includes('another scheduler'))).toEqual([]);
    expect((await store.getTrials(id)).map((t) => t.number)).toEqual([0, 1]);
    await a.stop();
  });
});
