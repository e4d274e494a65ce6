/**
 * Makes sure a Redis answers at the configured URL. For a one-command demo, a local
 * `redis-server` is started when nothing answers and one is installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';

/** Redis could not be reached or started; the message says how to get one. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

/** True if a Redis at `url` answers PING within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Returns once Redis answers at `url`. If nothing answers and the URL is local, starts
 * `redis-server` on its port (kept in memory only) and returns that process.
 * @throws RedisUnavailableError when no Redis can be had.
 */
export async function ensureRedis(url: string, log: (message: string) => void): Promise<ChildProcess | undefined> {
  if (await redisAnswers(url)) return undefined;
  const parsed = new URL(url);
  const local = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(parsed.hostname);
  const installed = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!local || !installed) {
    throw new RedisUnavailableError(
      `nothing answers at REDIS_URL=${url}` +
        (local ? ' and redis-server is not installed: install it (Debian: apt-get install redis-server) or point REDIS_URL at a running Redis'
               : '; start Redis there or point REDIS_URL at a running Redis'),
    );
  }
  const port = parsed.port || '6379';
  log(`nothing answers at ${url}; starting redis-server on port ${port} (in memory, nothing kept on disk)`);
  const child = spawn('redis-server', ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(url, 500)) return child;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  throw new RedisUnavailableError(`started redis-server on port ${port}, but it did not answer at ${url}`);
}
