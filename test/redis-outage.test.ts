/**
 * Redis goes away under a running service (API, scheduler and a worker as processes of their
 * own, on a redis-server of this test's): every route answers 503 within 2 s, requests answered
 * 503 have no effect once Redis is back, each process logs the outage once (not per command)
 * and stays up, and the study that was running completes.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentedOperations } from '../api/openapi.js';
import type { StudySummary, StudyView } from '../scheduler/types.js';
import { startServiceProcess } from './helpers/api-process.js';
import type { ServiceProcess } from './helpers/api-process.js';
import { startOwnRedis } from './helpers/redis-server.js';
import type { OwnRedis } from './helpers/redis-server.js';
import { authorizedFetch, waitFor } from './helpers/stack.js';

describe('while Redis is down', () => {
  let redis: OwnRedis;
  const processes: ServiceProcess[] = [];
  let api: ServiceProcess;
  const token = `apt_${randomBytes(24).toString('base64url')}`;
  const call = (path: string, init: RequestInit = {}) => authorizedFetch(api.url, token, path, { ...init, signal: AbortSignal.timeout(10_000) });

  beforeAll(async () => {
    redis = await startOwnRedis();
    const env = { REDIS_URL: redis.url, AUTOPEFT_KEY_PREFIX: '{outage}', PORT: '0', HOST: '127.0.0.1', AUTOPEFT_ADMIN_TOKEN: token, AUTOPEFT_TRIAL_LOCK_MS: '5000' };
    api = await startServiceProcess('api', env);
    processes.push(api);
    processes.push(await startServiceProcess('scheduler', env, /(scheduler running)/));
    processes.push(await startServiceProcess('worker', { ...env, AUTOPEFT_WORKER_NAME: 'outage-worker' }, /(waiting for trials)/));
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.close()));
    await redis?.close();
  });

  it('answers 503 at once, replays nothing, and the running study completes afterwards', async () => {
    const spec = {
      name: 'through an outage',
      task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' },
      budget: { maxTrials: 3, maxParallel: 1 },
      training: { steps: 40, batchSize: 8, evalEvery: 10, maxSeqLength: 16, trainExamples: 64, devExamples: 16 },
    };
    const created = await call('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await waitFor(async () => {
      const view = (await (await call(`/api/studies/${id}`)).json()) as StudyView;
      return view.trials.some((t) => t.state === 'running') ? true : undefined;
    }, 60_000, 'a running trial');

    await redis.stop();
    const routes = documentedOperations().map((op) => ({
      method: op.method.toUpperCase(),
      path: op.path.replace('{id}', id).replace('{number}', '0').replace('{file}', 'autopeft_config.json').replace('{name}', 'nobody'),
    }));
    const mutating = [
      { method: 'POST', path: '/api/studies', body: JSON.stringify({ ...spec, name: 'during the outage' }), headers: { 'content-type': 'application/json' } },
      { method: 'POST', path: `/api/studies/${id}/cancel` },
      { method: 'DELETE', path: `/api/studies/${id}` },
      { method: 'POST', path: '/api/tokens', body: JSON.stringify({ name: 'outage', scope: 'read' }), headers: { 'content-type': 'application/json' } },
      { method: 'POST', path: '/api/datasets?name=outage', body: 'text,label\na b,1\nc d,0\ne f,1\ng h,0\n', headers: { 'content-type': 'text/csv' } },
    ];
    // Asked twice a few seconds apart: during the reconnect attempts too.
    for (const round of [0, 1]) {
      for (const request of [...routes, ...mutating]) {
        const started = performance.now();
        const response = await call(request.path, request);
        const ms = performance.now() - started;
        expect(response.status, `${request.method} ${request.path} (round ${round})`).toBe(503);
        expect(ms, `${request.method} ${request.path}`).toBeLessThan(2000);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unavailable');
      }
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }

    await redis.start();
    // Every process recovers by itself.
    await waitFor(async () => ((await call('/api/health')).status === 200 ? true : undefined), 20_000, 'the API to recover');
    const done = await waitFor(async () => {
      const view = (await (await call(`/api/studies/${id}`)).json()) as StudyView;
      return view.state === 'completed' ? view : undefined;
    }, 120_000, 'the study to complete');
    expect(done.trials).toHaveLength(3);
    expect(done.trials.filter((t) => t.state === 'complete')).toHaveLength(3);

    // Nothing answered 503 happened later.
    const studies = ((await (await call('/api/studies')).json()) as { studies: StudySummary[] }).studies;
    expect(studies.map((s) => s.name)).toEqual(['through an outage']);
    expect(((await (await call('/api/tokens')).json()) as { name: string }[]).map((t) => t.name)).toEqual(['admin-env']);
    expect(((await (await call('/api/datasets')).json()) as unknown[]).length).toBe(0);

    // One line per connection and outage, not one per command; no unhandled error events.
    for (const p of processes) {
      const out = p.output();
      expect(out).not.toMatch(/Unhandled error event/);
      const lines = out.split('\n').filter((line) => /Redis unreachable/.test(line));
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.length).toBeLessThanOrEqual(4);
      expect(p.child.exitCode).toBeNull();
    }
  });
});
