/** Test helpers for the real Redis: a unique key prefix per test and cleanup afterwards. */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis the tests use (REDIS_URL, default the local one). */
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test uses; a hash tag like production's. */
export function uniquePrefix(): string {
  return `{autopeft-test-${randomUUID().slice(0, 8)}}`;
}

/**
 * Every key under a prefix: the global keys (`{p}:…`) and the studies' own keys, which carry the
 * prefix without its braces (`p:study:{<id>}…`, see workers/job-types.ts studyKeyBase).
 */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys = new Set<string>();
  const untagged = prefix.replace(/[{}]/g, '');
  for (const pattern of new Set([`${prefix}*`, `${untagged}:study:*`])) {
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', pattern.replace(/[[\]?]/g, '\\$&'), 'COUNT', 1000);
      cursor = next;
      for (const key of batch) keys.add(key);
    } while (cursor !== '0');
  }
  return [...keys].sort();
}

/** Deletes every key under a prefix. */
export async function deleteUnder(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(redis, prefix);
  if (keys.length > 0) await redis.del(...keys);
}

/** A new connection to the test Redis. */
export function testRedis(): Redis {
  return new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
}
