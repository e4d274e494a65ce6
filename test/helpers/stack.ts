/**
 * Starts the real service for a test: API (with dashboard) and scheduler in this process,
 * trial workers as separate processes through the `autopeft worker` command, all on a key
 * prefix of their own in the real Redis.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../api/config.js';
import { startApi, startScheduler } from '../../api/runtime.js';
import { deleteUnder, TEST_REDIS_URL, testRedis, uniquePrefix } from './redis.js';

/** A running stack. */
export interface TestStack {
  url: string;
  prefix: string;
  /** The stack's admin token (AUTOPEFT_ADMIN_TOKEN). */
  token: string;
  /** `fetch(url + path)` with the admin token's Authorization header added (unless `init.headers` sets one). */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Output of the worker processes so far, for assertions and debugging. */
  workerLog: () => string;
  /** Stops the scheduler (as if it died) and starts a fresh one on the same Redis state. */
  restartScheduler(pauseMs?: number): Promise<void>;
  /** Kills the worker process of that name (`test-worker-<i>`) with SIGKILL, as a crash would. */
  killWorker(name: string): Promise<void>;
  /** The exit code of the worker process of that name, or undefined while it runs. */
  workerExitCode(name: string): number | null | undefined;
  close(): Promise<void>;
}

const bin = fileURLToPath(new URL('../../api/bin/autopeft.js', import.meta.url));

/**
 * Starts API, scheduler and `workers` worker processes, with `extraEnv` added to the service's
 * environment and `workerEnv(i)` to worker i's.
 */
export async function startStack(
  workers: number,
  extraEnv: Record<string, string> = {},
  workerEnv: (index: number) => Record<string, string> = () => ({}),
): Promise<TestStack> {
  const prefix = uniquePrefix();
  const token = `apt_${randomBytes(24).toString('base64url')}`;
  const env = { REDIS_URL: TEST_REDIS_URL, AUTOPEFT_KEY_PREFIX: prefix, PORT: '0', HOST: '127.0.0.1', AUTOPEFT_ADMIN_TOKEN: token, ...extraEnv };
  const config = loadConfig(env);
  const logs: string[] = [];
  const log = (message: string): void => void logs.push(message);
  const api = await startApi(config, log);
  let scheduler = await startScheduler(config, log);
  const children: ChildProcess[] = [];
  const byName = new Map<string, ChildProcess>();
  for (let i = 0; i < workers; i++) {
    const child = spawn(process.execPath, [bin, 'worker'], {
      env: { ...process.env, ...env, ...workerEnv(i), AUTOPEFT_WORKER_NAME: `test-worker-${i}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    children.push(child);
    byName.set(`test-worker-${i}`, child);
  }
  return {
    url: api.url,
    prefix,
    token,
    api: (path, init = {}) => authorizedFetch(api.url, token, path, init),
    workerLog: () => logs.join(''),
    async restartScheduler(pauseMs = 0) {
      await scheduler.close();
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      scheduler = await startScheduler(config, log);
    },
    async killWorker(name) {
      const child = byName.get(name);
      if (!child) throw new Error(`no worker named ${name}`);
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    },
    workerExitCode(name) {
      const child = byName.get(name);
      if (!child) throw new Error(`no worker named ${name}`);
      return child.exitCode === null && child.signalCode === null ? undefined : child.exitCode;
    },
    async close() {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 5000).unref();
            }),
        ),
      );
      await scheduler.close();
      await api.close();
      const redis = testRedis();
      await deleteUnder(redis, prefix);
      await redis.quit();
    },
  };
}

/** Polls `probe` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** `fetch(base + path)` with `Authorization: Bearer <token>` unless the caller set an Authorization header. */
export function authorizedFetch(base: string, token: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
  return fetch(`${base}${path}`, { ...init, headers });
}
