/**
 * Connections to Redis: one server (REDIS_URL) or a Redis Cluster (AUTOPEFT_REDIS_CLUSTER, a
 * list of seed nodes). Every part of the service opens its connections here, so each runs the
 * same on both; the key layout that makes a cluster work is in scheduler/store.ts.
 */
import { Cluster, Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';

/** A connection to a Redis server or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: a URL, or the seed nodes of a cluster (the URL is then unused). */
export interface RedisTarget {
  url: string;
  clusterNodes?: { host: string; port: number }[];
}

/** How the target is named in messages. */
export function describeTarget(target: RedisTarget): string {
  return target.clusterNodes ? `the Redis Cluster at ${target.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}` : `Redis at ${target.url}`;
}

/**
 * A new connection with `options` (per node on a cluster). On a cluster, commands wait for a
 * shard's failover and slot moves instead of failing, and the offline queue follows
 * `options.enableOfflineQueue`.
 */
export function createRedisClient(target: RedisTarget, options: RedisOptions = {}): RedisClient {
  if (!target.clusterNodes) return new Redis(target.url, options);
  return new Cluster(target.clusterNodes, {
    redisOptions: options,
    enableOfflineQueue: options.enableOfflineQueue ?? true,
    ...(options.retryStrategy ? { clusterRetryStrategy: options.retryStrategy } : {}),
  });
}

/** Parses `host:port,host:port` (AUTOPEFT_REDIS_CLUSTER); throws naming the entry that is not one. */
export function parseClusterNodes(text: string): { host: string; port: number }[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65535) throw new Error(`"${entry}" is not host:port`);
      return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
    });
}
