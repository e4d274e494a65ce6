/**
 * A GP ask over a long history runs in the scheduler's background thread: an API in the same
 * process (as under `autopeft serve`) keeps answering health checks while it fits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proposePoints } from '../scheduler/propose.js';
import { StudyStore } from '../scheduler/store.js';
import type { StudyRecord, StudyView, TrialRecord } from '../scheduler/types.js';
import { createSampler } from '../search/sampler.js';
import { testRedis } from './helpers/redis.js';
import { startStack, waitFor } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';

const HISTORY = 300;

describe('a GP ask in the scheduler', () => {
  let stack: TestStack;
  const redis = testRedis();

  beforeAll(async () => {
    stack = await startStack(0);
  });

  afterAll(async () => {
    await stack?.close();
    await redis.quit();
  });

  it(`over ${HISTORY} observations does not delay a health check by more than 50 ms`, async () => {
    const created = await stack.api('/api/studies', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'long history', task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'f1' }, algorithm: { name: 'bo', seed: 3 }, baselines: [], budget: { maxTrials: HISTORY + 5, maxParallel: 1 } }),
    });
    // No baselines (a budget this size would get the standard set): trial 0 is the search's first.
    const { id } = (await created.json()) as { id: string };
    const first = await waitFor(async () => ((await (await stack.api(`/api/studies/${id}`)).json()) as StudyView).trials[0], 15_000, 'the first trial');

    // A history as if 300 trials had finished: points from the study's own space, written
    // through the store the scheduler reads. Trial 0 (never trained: no workers) fails.
    const store = new StudyStore(redis, stack.prefix);
    const study = (await store.getStudy(id)) as StudyRecord;
    const points = createSampler('random').ask({ space: study.spec.searchSpace, seed: 1, history: [], numbers: Array.from({ length: HISTORY }, (_, i) => i + 1) });
    const trials: TrialRecord[] = points.map((params, i) => ({
      ...first,
      number: i + 1,
      state: 'complete',
      params,
      metric: 0.5 + 0.4 * Math.sin(i),
      trainableParams: 1000 + 37 * i,
      createdAt: new Date().toISOString(),
    }));
    // How long the ask takes on this thread, for the record (and to show it would be felt).
    const started = performance.now();
    const direct = proposePoints({
      study,
      history: trials.map((t) => ({ number: t.number, point: t.params, state: 'complete', values: [t.metric!, t.trainableParams] })),
      numbers: [HISTORY + 1],
    });
    const askMs = performance.now() - started;
    expect(direct.ok).toBe(true);

    let sampling = true;
    const latencies: number[] = [];
    const probe = (async () => {
      while (sampling) {
        const t0 = performance.now();
        await (await fetch(`${stack.url}/api/health`)).text();
        latencies.push(performance.now() - t0);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const baseline = [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length / 2)]!;
    for (const trial of trials) await store.saveTrial(id, trial);
    // The slot frees only now: the scheduler's ask starts after this write.
    const askFrom = latencies.length;
    await store.saveTrial(id, { ...first, state: 'failed', error: 'no workers in this test', finishedAt: new Date().toISOString() });
    const next = await waitFor(async () => await store.getTrial(id, HISTORY + 1), 60_000, 'the proposal after the long history');
    sampling = false;
    await probe;
    const during = latencies.slice(askFrom);
    const worst = Math.max(...during);
    console.log(`ask over ${HISTORY} observations: ${askMs.toFixed(0)} ms on the event loop; ${during.length} health checks during the scheduler's ask: median before ${baseline.toFixed(1)} ms, worst ${worst.toFixed(1)} ms`);
    expect(during.length).toBeGreaterThan(5);
    expect(next.state).toBe('waiting');
    expect(next.params).toEqual(direct.ok ? direct.points[0] : undefined);
    expect(worst - baseline).toBeLessThan(50);
  });
});
