/**
 * A `redis-server` of a test's own, on a free loopback port, with its data in a temporary
 * folder (AOF on, fsync always, so nothing acknowledged is lost across a stop and a start).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { redisAnswers } from '../../api/local-redis.js';

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A redis-server the test controls. */
export interface OwnRedis {
  url: string;
  port: number;
  /** Starts it (again, on the same port and data folder). */
  start(): Promise<void>;
  /** Stops it (SIGKILL when `crash`, else SIGTERM). */
  stop(crash?: boolean): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
}

/** Creates (and starts) a redis-server on a free port. */
export async function startOwnRedis(extraArgs: string[] = []): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'autopeft-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const answers = (): Promise<boolean> => redisAnswers(url, 500);
  const own: OwnRedis = {
    url,
    port,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', ...extraArgs], { stdio: 'ignore' });
      for (let i = 0; i < 100; i++) {
        if (await answers()) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`redis-server on port ${port} did not answer`);
    },
    async stop(crash = false) {
      const current = child;
      if (!current || current.exitCode !== null || current.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        current.once('exit', () => resolve());
        current.kill(crash ? 'SIGKILL' : 'SIGTERM');
      });
    },
    async close() {
      await own.stop(true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await own.start();
  return own;
}
