import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StudyStore } from '../scheduler/store.js';
import type { StudySpec, StudyView } from '../scheduler/types.js';
import { STUDY_MAX_CONSECUTIVE_FAILURES } from '../scheduler/scheduler.js';
import { defaultLoraSpace } from '../search/lora-space.js';
import { estimateTrialMemory } from '../search/trial-memory.js';
import type { EncoderShape } from '../search/types.js';
import { WORKER_RESTART_EXIT_CODE } from '../api/runtime.js';
import { failureKind, HostFaultError, InvalidTrialError, TrialTooLargeError } from '../workers/errors.js';
import { DatasetError } from '../workers/data/errors.js';
import type { StoppedWorker } from '../workers/job-types.js';
import { findBaseModel } from '../workers/models/catalog.js';
import { testRedis } from './helpers/redis.js';
import { startStack, waitFor } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';

const shape: EncoderShape = findBaseModel('tiny-random')!.shape;
const tinyTraining = { steps: 6, batchSize: 8, learningRate: 0.003, evalEvery: 3, maxSeqLength: 32, trainExamples: 64, devExamples: 32 };
/** Wider batches of longer sequences: about 0.5 GiB estimated for one trial of the LoRA space. */
const wideTraining = { ...tinyTraining, batchSize: 64, maxSeqLength: 128 };
/** The workers' own AUTOPEFT_TRIAL_MAX_MEMORY: the tiny trials fit, the wide ones do not (the API's default 3 GiB admits both). */
const WORKER_LIMIT = 256 * 2 ** 20;

const spec = (name: string, training: typeof tinyTraining, maxTrials: number, maxParallel = 2) => ({
  name,
  task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' },
  algorithm: { name: 'random', seed: 5 },
  budget: { maxTrials, maxParallel },
  training,
});

const lora = { lora: { rank: 64, alpha: 8, dropout: 0, targets: ['query' as const, 'key' as const, 'value' as const, 'attentionOutput' as const, 'ffnIn' as const, 'ffnOut' as const], layers: [0, 1] } };
const estimate = (training: typeof tinyTraining): number => estimateTrialMemory({ shape, peft: lora, training, headOutputs: 2 }).total;

describe('whose fault a failure is', () => {
  it('classifies configuration errors, resource exhaustion, host faults and the rest', async () => {
    // A real wasm trap: a one-page memory read at 1 MiB.
    const bytes = Uint8Array.from([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01,
      0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x0c, 0x01, 0x0a, 0x00, 0x41, 0x80, 0x80, 0xc0, 0x00, 0x28, 0x02, 0x00, 0x0b,
    ]);
    const { instance } = await WebAssembly.instantiate(bytes);
    const read = instance.exports.f as () => number;
    const trap = ((): unknown => {
      try {
        return read();
      } catch (error) {
        return error;
      }
    })();
    expect(String(trap)).toMatch(/memory access out of bounds/);
    const tooLong = ((): unknown => {
      try {
        return new Float32Array(2 ** 40);
      } catch (error) {
        return error;
      }
    })();
    expect(tooLong).toBeInstanceOf(RangeError);
    expect(failureKind(trap)).toBe('resource');
    expect(failureKind(tooLong)).toBe('resource');
    expect(failureKind(new TrialTooLargeError('needs 5 GiB'))).toBe('resource');
    expect(failureKind(new InvalidTrialError('bad size'))).toBe('invalid');
    expect(failureKind(new DatasetError({ file: 'data.csv', line: 3 }, 'no label'))).toBe('invalid');
    expect(failureKind(new HostFaultError('no model here'))).toBe('host');
    expect(failureKind(new Error('socket hang up'))).toBe('unknown');
  });
});

describe('a configuration that fails on every worker', () => {
  let stack: TestStack;

  beforeAll(async () => {
    expect(estimate(wideTraining)).toBeGreaterThan(WORKER_LIMIT);
    expect(estimate(tinyTraining)).toBeLessThan(WORKER_LIMIT / 2);
    stack = await startStack(2, {}, () => ({ AUTOPEFT_TRIAL_MAX_MEMORY: String(WORKER_LIMIT) }));
  });

  afterAll(async () => {
    await stack?.close();
  });

  const submit = async (body: unknown): Promise<string> => {
    const response = await stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  };
  const view = async (id: string): Promise<StudyView> => (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;
  const finished = (id: string, timeoutMs: number) =>
    waitFor(async () => {
      const v = await view(id);
      return v.state === 'completed' || v.state === 'failed' || v.state === 'cancelled' ? v : undefined;
    }, timeoutMs, `study ${id} to finish`);

  it('fails each trial after two attempts with one message, ends the study failed with the reason, and every worker goes on', async () => {
    const failing = await finished(await submit(spec('too wide for the workers', wideTraining, 8)), 90_000);
    expect(failing.state).toBe('failed');
    expect(failing.error).toMatch(
      new RegExp(`^${STUDY_MAX_CONSECUTIVE_FAILURES} trials in a row failed; the last \\(trial \\d+\\): this trial needs an estimated .* more than this worker's AUTOPEFT_TRIAL_MAX_MEMORY \\(256 MiB\\)$`),
    );
    // It stopped early instead of spending the rest of the budget.
    expect(failing.trials.length).toBeLessThan(8);
    const ownFailures = failing.trials.filter((t) => t.error !== 'study failed');
    expect(ownFailures.length).toBeGreaterThanOrEqual(STUDY_MAX_CONSECUTIVE_FAILURES);
    for (const trial of ownFailures) {
      expect(trial.state).toBe('failed');
      expect(trial.error).toMatch(/^this trial needs an estimated .*activations at batch 64 × sequence 128 × 2 layers/);
      // Handed back once, then failed on the repeat: not handed round until the workers give up.
      expect(trial.attempts).toBe(2);
      expect(trial.failures?.map((f) => [f.message, f.kind])).toEqual([
        [trial.error, 'resource'],
        [trial.error, 'resource'],
      ]);
    }
    const workers = new Set(ownFailures.flatMap((t) => t.failures!.map((f) => f.worker)));
    expect([...workers].sort()).toEqual(['test-worker-0', 'test-worker-1']);

    // No worker counted the trials' faults against itself.
    const health = (await (await stack.api('/api/health')).json()) as { stoppedWorkers: StoppedWorker[] };
    expect(health.stoppedWorkers).toEqual([]);

    // A later study on the same workers completes, trained by both.
    const next = await finished(await submit(spec('fits', tinyTraining, 4)), 120_000);
    expect(next.state).toBe('completed');
    expect(next.trials.map((t) => t.state)).toEqual(['complete', 'complete', 'complete', 'complete']);
    expect([...new Set(next.trials.map((t) => t.worker))].sort()).toEqual(['test-worker-0', 'test-worker-1']);
    expect(stack.workerLog()).not.toContain('stops taking trials');
  });

  it('ends a study with fewer trials than the streak failed, with the last error, when all of them fail', async () => {
    const failing = await finished(await submit(spec('two wide trials', wideTraining, 2)), 60_000);
    expect(failing.state).toBe('failed');
    expect(failing.error).toMatch(/^every trial failed; the last: trial \d: this trial needs an estimated/);
    expect(failing.trials.map((t) => t.state)).toEqual(['failed', 'failed']);
  });

  it('ends a study whose sampler cannot propose failed, with the sampler\'s message', async () => {
    // Stored directly, as a study admitted before admission control existed: LoRA parameters under preset autopeft.
    const redis = testRedis();
    try {
      const store = new StudyStore(redis, stack.prefix);
      const stored: StudySpec = {
        name: 'no valid point',
        task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' },
        preset: 'autopeft',
        searchSpace: { 'lora.rank': { type: 'categorical', choices: [4, 8] } },
        algorithm: { name: 'random', seed: 0 },
        objectives: {},
        pruner: { type: 'none' },
        budget: { maxTrials: 3, maxParallel: 1 },
        training: tinyTraining,
      };
      const { id } = await store.createStudy(stored, shape, 2);
      const study = await finished(id, 30_000);
      expect(study.state).toBe('failed');
      expect(study.error).toMatch(/^the search cannot propose a trial: no valid point found in 2000 random draws/);
      expect(study.trials).toEqual([]);
    } finally {
      await redis.quit();
    }
  });
});

describe('a worker whose memory grew past AUTOPEFT_WORKER_MAX_RSS during a failed trial', () => {
  let stack: TestStack;

  beforeAll(async () => {
    // 1 MiB: any worker process is above it, so the first failed trial restarts the worker.
    stack = await startStack(1, {}, () => ({ AUTOPEFT_TRIAL_MAX_MEMORY: String(WORKER_LIMIT), AUTOPEFT_WORKER_MAX_RSS: String(2 ** 20) }));
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('records the failure, then exits to be started afresh', async () => {
    const response = await stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec('restart', wideTraining, 1, 1)) });
    const { id } = (await response.json()) as { id: string };
    const code = await waitFor(async () => stack.workerExitCode('test-worker-0') ?? undefined, 60_000, 'the worker to exit');
    expect(code).toBe(WORKER_RESTART_EXIT_CODE);
    expect(stack.workerLog()).toMatch(/worker test-worker-0 restarts: resident memory .* after a failed trial is above AUTOPEFT_WORKER_MAX_RSS \(1\.0 MiB\)/);
    // The failed attempt was written to the queue before the exit; the scheduler shows it on the trial.
    const trial = await waitFor(async () => {
      const v = (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;
      return v.trials[0]?.failures?.length ? v.trials[0] : undefined;
    }, 15_000, 'the failure on the trial');
    expect(trial.failures).toEqual([expect.objectContaining({ worker: 'test-worker-0', kind: 'resource', message: expect.stringMatching(/^this trial needs an estimated/) as unknown })]);
    // Handed back for another worker; none is left to take it.
    expect(trial.state).not.toBe('failed');
  });
});

// The default LoRA space is what the specs above search: keep the estimate's worst case honest.
it('the wide settings are too large for the workers at every rank of the default LoRA space', () => {
  const ranks = defaultLoraSpace(shape)['lora.rank'];
  expect(ranks?.type).toBe('categorical');
  for (const rank of ranks?.type === 'categorical' ? ranks.choices : []) {
    const peft = { lora: { ...lora.lora, rank: Number(rank), targets: ['query' as const, 'value' as const] } };
    expect(estimateTrialMemory({ shape, peft, training: wideTraining, headOutputs: 2 }).total).toBeGreaterThan(WORKER_LIMIT);
  }
});
