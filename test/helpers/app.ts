/**
 * The real API app in this process, on port 0, with its own key prefix in the real Redis and
 * one token: for tests of request handling that need no scheduler or workers.
 */
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { createApp } from '../../api/app.js';
import { createSpecContext } from '../../api/catalog.js';
import { TokenStore } from '../../api/tokens.js';
import type { Scope } from '../../api/tokens.js';
import { StudyStore } from '../../scheduler/store.js';
import { deleteUnder, testRedis, uniquePrefix } from './redis.js';

/** A running in-process app. */
export interface InProcessApp {
  url: string;
  redis: Redis;
  prefix: string;
  /** The Authorization header of the app's token. */
  auth: { authorization: string };
  close(): Promise<void>;
}

/** Starts the app with a token named `tokenName` of `scope`, and users' models under `modelRoot` if given. */
export async function startInProcessApp(tokenName: string, scope: Scope, modelRoot?: string): Promise<InProcessApp> {
  const redis = testRedis();
  const prefix = uniquePrefix();
  const tokens = new TokenStore(redis, prefix);
  const auth = { authorization: `Bearer ${(await tokens.create(tokenName, scope)).secret}` };
  const app = createApp({
    store: new StudyStore(redis, prefix),
    tokens,
    specContext: createSpecContext({ redis, keyPrefix: prefix, ...(modelRoot ? { modelRoot } : {}) }),
    events: { subscribe: () => () => {} },
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    redis,
    prefix,
    auth,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await deleteUnder(redis, prefix);
      await redis.quit();
    },
  };
}
