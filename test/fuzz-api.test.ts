/**
 * A bounded, seeded fuzz of the real API process with a valid token: malformed escapes,
 * encodings, ids that could alias Redis keys, deep nesting, odd methods, sizes and types, on
 * every route. Not one answer may be a 5xx, none may take over 5 s, every `/api` error has the
 * standard shape, and the API's memory comes back to within 20 % of where it started.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentedOperations } from '../api/openapi.js';
import { createRandom } from '../search/random.js';
import { startServiceProcess } from './helpers/api-process.js';
import type { ServiceProcess } from './helpers/api-process.js';
import { deleteUnder, testRedis, TEST_REDIS_URL, uniquePrefix } from './helpers/redis.js';
import { randomBytes } from 'node:crypto';

const REQUESTS = 2400;
const SEED = 20261201;
const MAX_UPLOAD = 64 * 1024;

interface FuzzRequest {
  kind: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
}

describe('fuzzing the API', () => {
  let api: ServiceProcess;
  const prefix = uniquePrefix();
  const token = `apt_${randomBytes(24).toString('base64url')}`;
  let studyId = '';
  let datasetId = '';

  beforeAll(async () => {
    api = await startServiceProcess('api', {
      REDIS_URL: TEST_REDIS_URL,
      AUTOPEFT_KEY_PREFIX: prefix,
      PORT: '0',
      HOST: '127.0.0.1',
      AUTOPEFT_ADMIN_TOKEN: token,
      AUTOPEFT_MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
    });
    const auth = { authorization: `Bearer ${token}` };
    const created = await fetch(`${api.url}/api/studies`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'fuzz target', task: { dataset: 'spam-assassin', baseModel: 'tiny-random' }, budget: { maxTrials: 2 } }),
    });
    const createdBody = (await created.json()) as { id: string };
    if (!createdBody.id) throw new Error(`could not create the target study: ${JSON.stringify(createdBody)}\n${api.output()}`);
    studyId = createdBody.id;
    const upload = await fetch(`${api.url}/api/datasets?name=fuzz`, { method: 'POST', headers: { ...auth, 'content-type': 'text/csv' }, body: 'text,label\nyes it is,1\nno it is not,0\nmaybe yes,1\nmaybe no,0\n' });
    datasetId = ((await upload.json()) as { id: string }).id;
  });

  afterAll(async () => {
    await api?.close();
    const redis = testRedis();
    await deleteUnder(redis, prefix);
    await redis.quit();
  });

  /** The request generators, one per class of input. */
  function generators(random: () => number): ((i: number) => FuzzRequest)[] {
    const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const escapes = ['%zz', '%C0%AF', '%', '%E0%A4%A', '%ff%fe', '%00', '%2e%2e%2f', '%u002e', '%25', '..%2F..%2Fetc%2Fpasswd', '%F0%9F%98'];
    const ids = () => [
      `${studyId}:trials`,
      `${studyId}:cancel`,
      `${studyId}:lock`,
      '*',
      '..',
      '{autopeft}',
      'x'.repeat(Math.floor(random() * 5000)),
      'ÄÖÜ',
      studyId.toUpperCase(),
      `${studyId} `,
      '00000000-0000-4000-8000-000000000000',
      pick(escapes),
    ];
    const numbers = ['-1', '1e9', 'abc', '0x10', '99999999999', '0', '1.5', '', '%zz'];
    const routes = documentedOperations();
    const fill = (path: string): string =>
      path
        .replace('{id}', random() < 0.5 ? studyId : pick(ids()))
        .replace('{number}', pick(numbers))
        .replace('{file}', pick(['autopeft_config.json', 'hf-peft/adapter_model.safetensors', pick(escapes), '../../x', 'a/b/c/d']))
        .replace('{name}', pick(['nobody', 'reader', pick(escapes), 'a'.repeat(300)]));
    const deep = (depth: number, open: string, close: string): string => open.repeat(depth) + close.repeat(depth);
    const jsonValue = (depth = 0): unknown => {
      const r = random();
      if (depth > 3 || r < 0.3) return pick([null, true, 0, -1, 1.5, 1e308, '', 'x', 'x'.repeat(1000), [], {}]);
      if (r < 0.6) return Array.from({ length: Math.floor(random() * 4) }, () => jsonValue(depth + 1));
      const keys = ['name', 'task', 'budget', 'searchSpace', 'training', 'preset', 'algorithm', 'pruner', 'objectives', 'scope', 'quotas', '__proto__', 'constructor'];
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, () => [pick(keys), jsonValue(depth + 1)]));
    };
    const mutatedSpec = (): unknown => {
      const base: Record<string, unknown> = {
        name: 'fuzz',
        task: { dataset: pick(['spam-assassin', `upload:${datasetId}`, 'upload:../x', 'file:/etc/passwd', '']), baseModel: pick(['tiny-random', 'bert', '../../etc', '']) },
        budget: { maxTrials: pick([1, 0, -1, 1.5, 1e9, '3', null]) },
      };
      const field = pick(['training', 'searchSpace', 'pruner', 'algorithm', 'objectives', 'preset', 'budget', 'task']);
      base[field] = jsonValue();
      return base;
    };
    const jsonRoute = (): string => pick(['/api/studies', '/api/tokens']);
    return [
      // Malformed percent-escapes anywhere in a path.
      () => ({ kind: 'escapes', method: 'GET', path: pick([`/api/studies/${pick(escapes)}`, `/api/studies/${studyId}/best/files/a${pick(escapes)}`, `/api/studies/${studyId}/trials/0/files/${pick(escapes)}`, `/api/datasets/${pick(escapes)}`, `/${pick(escapes)}`, `/api/${pick(escapes)}`]) }),
      // Ids that could alias other Redis keys, on every route with an id.
      () => {
        const op = pick(routes.filter((r) => r.path.includes('{')));
        return { kind: 'ids', method: op.method.toUpperCase(), path: fill(op.path) };
      },
      // Deep nesting in JSON bodies and JSON Lines uploads.
      () =>
        random() < 0.5
          ? { kind: 'nesting', method: 'POST', path: jsonRoute(), headers: { 'content-type': 'application/json' }, body: deep(Math.floor(random() * 30_000), random() < 0.5 ? '[' : '{"a":', random() < 0.5 ? ']' : '}') }
          : { kind: 'nesting', method: 'POST', path: '/api/datasets?name=deep', headers: { 'content-type': 'application/x-ndjson' }, body: `{"text":"a","label":${deep(Math.floor(random() * 20_000), '[', ']')}}\n` },
      // Content encodings: garbage, unknown, and real ones.
      () => {
        const encoding = pick(['gzip', 'deflate', 'br', 'identity', 'xyz', 'gzip, gzip']);
        const garbage = random() < 0.7;
        const payload = JSON.stringify({ name: 'enc', task: { dataset: 'spam-assassin', baseModel: 'tiny-random' }, budget: { maxTrials: 1 } });
        const body = new Uint8Array(garbage ? randomBytes(Math.floor(random() * 200) + 1) : encoding === 'gzip' ? gzipSync(payload) : Buffer.from(payload));
        const path = random() < 0.5 ? '/api/studies' : '/api/datasets?name=enc';
        return { kind: 'encodings', method: 'POST', path, headers: { 'content-type': path.includes('datasets') ? 'text/csv' : 'application/json', 'content-encoding': encoding }, body };
      },
      // Every method on every route.
      () => {
        const op = pick(routes);
        return { kind: 'methods', method: pick(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']), path: fill(op.path).replace('/api/events', '/api/health') };
      },
      // Sizes: bodies over the limits, long paths and queries.
      () => {
        const r = random();
        if (r < 0.3) return { kind: 'sizes', method: 'POST', path: '/api/studies', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x'.repeat(1_100_000) }) };
        if (r < 0.6) return { kind: 'sizes', method: 'POST', path: '/api/datasets?name=big', headers: { 'content-type': 'text/csv' }, body: `text,label\n${'word '.repeat(MAX_UPLOAD / 4)},1\n` };
        if (r < 0.8) return { kind: 'sizes', method: 'GET', path: `/api/studies?${'a=b&'.repeat(2000)}` };
        return { kind: 'sizes', method: 'GET', path: `/api/studies/${'y'.repeat(8000)}` };
      },
      // Types: wrong JSON types and content types for every body.
      () => {
        const r = random();
        const path = pick(['/api/studies', '/api/tokens', '/api/datasets?name=t&devFraction=abc', '/api/datasets?kind=%zz', `/api/studies/${studyId}/cancel`]);
        const body = r < 0.5 ? JSON.stringify(path === '/api/studies' ? mutatedSpec() : jsonValue()) : pick(['', 'null', '[]', '"str"', '{', 'text,label\n', '\uFFFF\uD800', '\u0000']);
        return { kind: 'types', method: 'POST', path, headers: { 'content-type': pick(['application/json', 'text/plain', 'text/csv', 'application/x-ndjson', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/json; charset=utf-16']) }, body };
      },
      // Authorization header variants (a valid token stays valid).
      () => ({ kind: 'auth', method: 'GET', path: pick(['/api/studies', `/api/studies/${studyId}`, '/api/whoami']), headers: { authorization: pick([`Bearer ${token}`, `bearer   ${token}`, `Bearer ${token}x`, 'Bearer', `Bearer ${'a'.repeat(5000)}`, 'Bearer \u00ff', `Token ${token}`]) } }),
    ];
  }

  it(`answers ${REQUESTS} seeded hostile requests without a 5xx, a hang or a leak`, async () => {
    const random = createRandom(SEED);
    const gens = generators(random);
    const auth = { authorization: `Bearer ${token}` };
    const send = async (request: FuzzRequest): Promise<{ status: number; ms: number; body: string }> => {
      const started = performance.now();
      const response = await fetch(`${api.url}${request.path}`, {
        method: request.method,
        headers: { ...auth, ...request.headers },
        ...(request.body !== undefined && request.method !== 'GET' && request.method !== 'HEAD' ? { body: request.body } : {}),
        signal: AbortSignal.timeout(5000),
      });
      const body = await response.text();
      return { status: response.status, ms: performance.now() - started, body };
    };
    // Warm up (JIT, connection pools) before the memory baseline.
    for (let i = 0; i < 600; i++) await send(gens[i % gens.length]!(i));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rssBefore = api.rss();

    const problems: string[] = [];
    const byKind = new Map<string, Map<number, number>>();
    let slowest = 0;
    for (let i = 0; i < REQUESTS; i++) {
      const request = gens[i % gens.length]!(i);
      let result: { status: number; ms: number; body: string };
      try {
        result = await send(request);
      } catch (error) {
        problems.push(`#${i} ${request.kind} ${request.method} ${request.path.slice(0, 120)}: ${String(error)}`);
        continue;
      }
      slowest = Math.max(slowest, result.ms);
      const counts = byKind.get(request.kind) ?? new Map<number, number>();
      counts.set(result.status, (counts.get(result.status) ?? 0) + 1);
      byKind.set(request.kind, counts);
      const where = `#${i} ${request.kind} ${request.method} ${request.path.slice(0, 120)} -> ${result.status}`;
      if (result.status >= 500) problems.push(`${where}: ${result.body.slice(0, 200)}`);
      if (result.ms > 5000) problems.push(`${where}: took ${result.ms.toFixed(0)} ms`);
      if (result.status >= 400 && request.path.startsWith('/api') && request.method !== 'HEAD') {
        let shaped = false;
        try {
          const parsed = JSON.parse(result.body) as { error?: { code?: unknown; message?: unknown } };
          shaped = typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string';
        } catch {
          shaped = false;
        }
        if (!shaped) problems.push(`${where}: not the standard error shape: ${result.body.slice(0, 120)}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const rssAfter = api.rss();
    const summary = [...byKind].map(([kind, counts]) => `${kind}: ${[...counts].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`);
    console.log(`fuzz: ${REQUESTS} requests, slowest ${slowest.toFixed(0)} ms, RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> ${(rssAfter / 2 ** 20).toFixed(0)} MiB\n  ${summary.join('\n  ')}`);
    expect(problems.slice(0, 20)).toEqual([]);
    expect([...byKind.keys()].sort()).toEqual(['auth', 'encodings', 'escapes', 'ids', 'methods', 'nesting', 'sizes', 'types']);
    expect(rssAfter).toBeLessThan(rssBefore * 1.2);
    // The study the ids aimed at is still whole.
    const view = await fetch(`${api.url}/api/studies/${studyId}`, { headers: auth });
    expect(((await view.json()) as { name?: string; spec: { name: string } }).spec.name).toBe('fuzz target');
  });

  it('answers HEAD on every GET route, the event stream included', async () => {
    for (const op of documentedOperations().filter((o) => o.method === 'get')) {
      const path = op.path.replace('{id}', studyId).replace('{number}', '0').replace('{file}', 'autopeft_config.json').replace('{name}', 'x');
      const response = await fetch(`${api.url}${path}`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(3000) });
      expect(response.status, path).toBeLessThan(500);
      expect([200, 404, 409], path).toContain(response.status);
    }
  });
});
