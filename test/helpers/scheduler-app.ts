/**
 * For tests that drive schedulers by hand: the real API in this process (to submit specs), the
 * store and the trial queue on its key prefix, and a small 4-trial study spec on tiny-random.
 */
import { Queue } from 'bullmq';
import { StudyStore } from '../../scheduler/store.js';
import { DEFAULT_QUEUE_NAME } from '../../workers/job-types.js';
import type { TrialJobData, TrialJobOutcome } from '../../workers/job-types.js';
import { startInProcessApp } from './app.js';
import type { InProcessApp } from './app.js';

/** A running app with its store and queue. */
export interface SchedulerApp {
  app: InProcessApp;
  store: StudyStore;
  queue: Queue<TrialJobData, TrialJobOutcome>;
  /** Submits the small study under `name`; returns its id (throws unless 201). */
  submit(name: string): Promise<string>;
  close(): Promise<void>;
}

/** A 4-trial, 2-parallel random-search study that trains almost nothing. */
export const smallStudySpec = (name: string) => ({
  name,
  task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'f1' },
  algorithm: { name: 'random', seed: 5 },
  budget: { maxTrials: 4, maxParallel: 2 },
  training: { steps: 2, batchSize: 4, evalEvery: 1, maxSeqLength: 16, trainExamples: 8, devExamples: 4 },
});

/** Starts the app with an admin token named `tokenName`. */
export async function startSchedulerApp(tokenName: string): Promise<SchedulerApp> {
  const app = await startInProcessApp(tokenName, 'admin');
  const store = new StudyStore(app.redis, app.prefix);
  const queue = new Queue<TrialJobData, TrialJobOutcome>(DEFAULT_QUEUE_NAME, { connection: app.redis, prefix: app.prefix });
  return {
    app,
    store,
    queue,
    async submit(name) {
      const response = await fetch(`${app.url}/api/studies`, { method: 'POST', headers: { ...app.auth, 'content-type': 'application/json' }, body: JSON.stringify(smallStudySpec(name)) });
      if (response.status !== 201) throw new Error(`submit ${name}: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { id: string }).id;
    },
    async close() {
      await queue.close();
      await app.close();
    },
  };
}
