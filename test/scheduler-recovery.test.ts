import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyView } from '../scheduler/types.js';
import type { StoppedWorker } from '../workers/job-types.js';
import { RandomSampler } from '../search/sampler.js';
import { startStack, waitFor } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';

const tinyTraining = { steps: 6, batchSize: 8, learningRate: 0.003, evalEvery: 3, maxSeqLength: 32, trainExamples: 64, devExamples: 32 };
const spec = (name: string, maxTrials: number, training = tinyTraining) => ({
  name,
  task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' },
  algorithm: { name: 'random', seed: 3 },
  budget: { maxTrials, maxParallel: 1 },
  training,
});

describe('scheduler failure model and cancellation', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack(1);
  });

  afterAll(async () => {
    await stack?.close();
  });

  const submit = async (body: unknown): Promise<string> => {
    const response = await stack.api(`/api/studies`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  };
  const view = async (id: string): Promise<StudyView> => (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;

  it('a restarted scheduler continues a study with no trial lost or duplicated', async () => {
    const id = await submit(spec('restart', 4));
    await waitFor(async () => ((await view(id)).trials.some((t) => t.state === 'complete') ? true : undefined), 60_000, 'a first complete trial');
    // The scheduler dies mid-study and stays away while the worker finishes what it holds.
    await stack.restartScheduler(1500);
    const study = await waitFor(async () => {
      const v = await view(id);
      return v.state === 'completed' ? v : undefined;
    }, 120_000, 'the study to complete');
    expect(study.trials.map((t) => t.number)).toEqual([0, 1, 2, 3]);
    expect(study.trials.every((t) => t.state === 'complete' && t.attempts === 1)).toBe(true);
    // The points are the ones the seed gives, as if the scheduler had never stopped.
    const expected = new RandomSampler().ask({ space: study.spec.searchSpace, seed: 3, history: [], numbers: [0, 1, 2, 3] });
    expect(study.trials.map((t) => t.params)).toEqual(expected);
  });

  it('cancelling stops a running trial and leaves other studies untouched', async () => {
    const long = await submit(spec('to cancel', 3, { ...tinyTraining, steps: 5000, evalEvery: 100 }));
    await waitFor(async () => ((await view(long)).trials[0]?.state === 'running' ? true : undefined), 60_000, 'the first trial to run');
    const refused = await stack.api(`/api/studies/${long}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/is running: cancel it first/);
    const cancel = await stack.api(`/api/studies/${long}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(202);
    const cancelled = await waitFor(async () => {
      const v = await view(long);
      return v.state === 'cancelled' ? v : undefined;
    }, 30_000, 'the study to be cancelled');
    expect(cancelled.trials.length).toBeGreaterThan(0);
    for (const trial of cancelled.trials) expect(trial).toMatchObject({ state: 'failed', error: 'study cancelled' });
    expect((await stack.api(`/api/studies/${long}/cancel`, { method: 'POST' })).status).toBe(409);

    // The worker gave up the cancelled trial and serves the next study at once.
    const next = await submit(spec('after cancel', 1));
    const done = await waitFor(async () => {
      const v = await view(next);
      return v.state === 'completed' ? v : undefined;
    }, 60_000, 'the next study to complete');
    expect(done.trials[0]?.state).toBe('complete');
    expect((await view(long)).trials.length).toBe(cancelled.trials.length);
  });
});

describe('a worker that dies mid-trial', () => {
  let stack: TestStack;

  beforeAll(async () => {
    // A short lock, so that the surviving worker takes the dead one's trial within seconds (5 s: under load a
    // training step can outlast a shorter one's renewal).
    stack = await startStack(2, { AUTOPEFT_TRIAL_LOCK_MS: '5000' });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('loses its trial to another worker, which trains it to completion; the trial is counted once', async () => {
    const response = await stack.api(`/api/studies`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(spec('worker crash', 2, { ...tinyTraining, steps: 400, evalEvery: 100 })),
    });
    const { id } = (await response.json()) as { id: string };
    const view = async (): Promise<StudyView> => (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;
    // Wait until trial 0 has trained a while (one evaluation) on some worker, then kill that worker.
    const running = await waitFor(async () => {
      const trial = (await view()).trials[0];
      return trial?.state === 'running' && trial.worker && trial.reports.length > 0 ? trial : undefined;
    }, 60_000, 'trial 0 to run and report');
    const victim = running.worker!;
    await stack.killWorker(victim);

    const study = await waitFor(async () => {
      const v = await view();
      return v.state === 'completed' ? v : undefined;
    }, 120_000, 'the study to complete without the dead worker');
    expect(study.trials.map((t) => t.number)).toEqual([0, 1]);
    const [first, second] = study.trials;
    expect(first).toMatchObject({ state: 'complete', attempts: 2 });
    expect(first!.worker).not.toBe(victim);
    // Started over from the beginning on the survivor: a full set of reports, each step once.
    expect(first!.reports.map((r) => r.step)).toEqual([100, 200, 300, 400]);
    expect(second).toMatchObject({ state: 'complete', attempts: 1 });
    expect(second!.worker).not.toBe(victim);
  });
});

describe('a worker whose host cannot run trials', () => {
  let stack: TestStack;
  const emptyModelRoot = mkdtempSync(path.join(tmpdir(), 'autopeft-no-models-'));

  beforeAll(async () => {
    // The API and worker 0 have the model directories; worker 1's model root is empty.
    const modelRoot = fileURLToPath(new URL('./fixtures/hf/', import.meta.url));
    const workerEnv = (i: number): Record<string, string> => (i === 1 ? { AUTOPEFT_MODEL_ROOT: emptyModelRoot } : {});
    stack = await startStack(2, { AUTOPEFT_MODEL_ROOT: modelRoot, AUTOPEFT_WORKER_MAX_FAILURES: '2' }, workerEnv);
  });

  afterAll(async () => {
    await stack?.close();
    rmSync(emptyModelRoot, { recursive: true, force: true });
  });

  it('hands its trials back, stops taking trials after 2 failures in a row, and is listed by /api/health; the study completes', async () => {
    const response = await stack.api(`/api/studies`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ...spec('own model, one bad host', 6),
        task: { dataset: 'spam-assassin', baseModel: 'bert', metric: 'accuracy' },
        budget: { maxTrials: 6, maxParallel: 2 },
        training: { ...tinyTraining, maxSeqLength: 16 },
      }),
    });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    const study = await waitFor(async () => {
      const v = (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;
      return v.state === 'completed' ? v : undefined;
    }, 120_000, 'the study to complete');
    // No trial failed for the bad host's sake: all trained on the good worker.
    expect(study.trials.map((t) => [t.state, t.worker])).toEqual(study.trials.map(() => ['complete', 'test-worker-0']));
    const health = (await (await stack.api(`/api/health`)).json()) as { ok: boolean; stoppedWorkers: StoppedWorker[] };
    expect(health.ok).toBe(true);
    expect(health.stoppedWorkers.map((w) => w.name)).toEqual(['test-worker-1']);
    expect(health.stoppedWorkers[0]!.reason).toMatch(/^2 trials in a row failed here; the last: this worker cannot load base model "bert"/);
    expect(stack.workerLog()).toContain('worker test-worker-1 stops taking trials');
  });
});
