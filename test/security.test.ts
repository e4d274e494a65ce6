/**
 * Who may do what: tokens and scopes on every route, ownership of studies, quotas, the Host
 * allow-list, and a page on another origin in the real browser that tries to cancel and read a
 * study. No workers run, so studies stay running for as long as the test needs.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../api/tokens.js';
import type { StudyView } from '../scheduler/types.js';
import { keysUnder, testRedis, TEST_REDIS_URL } from './helpers/redis.js';
import { authorizedFetch, startStack, waitFor } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';

const CHROMIUM = '/usr/bin/chromium';
const runBrowser = existsSync(CHROMIUM) || process.env.CI === 'true';
const bin = fileURLToPath(new URL('../api/bin/autopeft.js', import.meta.url));

const spec = (name: string, maxTrials = 2) => ({
  name,
  task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'f1' },
  budget: { maxTrials, maxParallel: 1 },
  training: { steps: 2, batchSize: 4, evalEvery: 1, maxSeqLength: 16, trainExamples: 8, devExamples: 4 },
});

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('tokens, scopes and quotas', () => {
  let stack: TestStack;
  const secrets: Record<string, string> = {};
  const as = (who: string, path: string, init: RequestInit = {}) => authorizedFetch(stack.url, secrets[who]!, path, init);

  beforeAll(async () => {
    stack = await startStack(0);
    for (const [name, scope, quotas] of [
      ['reader', 'read', undefined],
      ['alice', 'submit', undefined],
      ['bob', 'submit', undefined],
      ['limited', 'submit', { runningStudies: 1, trialsPerStudy: 3, uploadBytes: 100 }],
    ] as const) {
      const created = await stack.api('/api/tokens', json({ name, scope, ...(quotas ? { quotas } : {}) }));
      expect(created.status).toBe(201);
      const body = (await created.json()) as { token: string; name: string; scope: string };
      expect(body).toMatchObject({ name, scope });
      expect(body.token).toMatch(/^apt_[A-Za-z0-9_-]{43}$/);
      secrets[name] = body.token;
    }
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('refuses every route but the health check without a valid token, in the standard error shape', async () => {
    expect((await fetch(`${stack.url}/api/health`)).status).toBe(200);
    const routes: [string, string][] = [
      ['GET', '/api/studies'],
      ['POST', '/api/studies'],
      ['GET', '/api/catalog'],
      ['GET', '/api/datasets'],
      ['POST', '/api/datasets'],
      ['GET', '/api/events'],
      ['GET', '/api/tokens'],
      ['GET', '/api/openapi.json'],
      ['GET', '/api/studies/00000000-0000-4000-8000-000000000000'],
    ];
    for (const [method, path] of routes) {
      for (const authorization of [undefined, 'Bearer apt_not-a-real-token', 'Basic dXNlcjpwYXNz']) {
        const response = await fetch(`${stack.url}${path}`, { method, headers: authorization ? { authorization } : {} });
        expect(response.status, `${method} ${path} with ${authorization ?? 'no token'}`).toBe(401);
        const body = (await response.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('unauthorized');
        expect(body.error.message.length).toBeGreaterThan(10);
      }
    }
  });

  it('lets each scope do what it may and refuses the rest with 403 naming the scope', async () => {
    // read: views, never changes.
    expect((await as('reader', '/api/studies')).status).toBe(200);
    const refused = await as('reader', '/api/studies', json(spec('by reader')));
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/scope read; this needs submit/) });
    expect((await as('reader', '/api/datasets?name=x', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'text,label\na,1\nb,0\n' })).status).toBe(403);

    // submit: creates, and changes only its own studies.
    const created = await as('alice', '/api/studies', json(spec('alice study')));
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const view = (await (await as('reader', `/api/studies/${id}`)).json()) as StudyView;
    expect(view.owner).toBe('alice');
    const listed = ((await (await as('bob', '/api/studies')).json()) as { studies: { id: string; owner?: string }[] }).studies;
    expect(listed.find((s) => s.id === id)?.owner).toBe('alice');
    for (const [who, status] of [['reader', 403], ['bob', 403]] as const) {
      expect((await as(who, `/api/studies/${id}/cancel`, { method: 'POST' })).status, `${who} cancels`).toBe(status);
      expect((await as(who, `/api/studies/${id}`, { method: 'DELETE' })).status, `${who} deletes`).toBe(status);
    }
    const bobCancels = await as('bob', `/api/studies/${id}/cancel`, { method: 'POST' });
    expect(((await bobCancels.json()) as { error: { message: string } }).error.message).toMatch(/created by "alice"/);
    expect((await as('alice', `/api/studies/${id}/cancel`, { method: 'POST' })).status).toBe(202);
    await waitFor(async () => (((await (await as('alice', `/api/studies/${id}`)).json()) as StudyView).state === 'cancelled' ? true : undefined), 15_000, 'the cancel');
    expect((await as('bob', `/api/studies/${id}`, { method: 'DELETE' })).status).toBe(403);
    expect((await as('alice', `/api/studies/${id}`, { method: 'DELETE' })).status).toBe(204);
    const upload = await as('alice', '/api/datasets?name=tiny', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'text,label\nhello there,1\ngood bye,0\nnice one,1\nbad one,0\n' });
    expect(upload.status).toBe(201);
    expect(((await upload.json()) as { owner: string }).owner).toBe('alice');

    // Token management is for admins only.
    for (const who of ['reader', 'alice']) {
      expect((await as(who, '/api/tokens')).status).toBe(403);
      expect((await as(who, '/api/tokens', json({ name: `${who}-2`, scope: 'admin' }))).status).toBe(403);
      expect((await as(who, '/api/tokens/bob', { method: 'DELETE' })).status).toBe(403);
    }

    // admin: everything, other users' studies included.
    const bobs = (await (await as('bob', '/api/studies', json(spec('bob study')))).json()) as { id: string };
    expect((await stack.api(`/api/studies/${bobs.id}/cancel`, { method: 'POST' })).status).toBe(202);
    const tokens = (await (await stack.api('/api/tokens')).json()) as { name: string; scope: string; lastUsedAt?: string }[];
    expect(tokens.map((t) => t.name)).toEqual(['admin-env', 'alice', 'bob', 'limited', 'reader']);
    expect(tokens.find((t) => t.name === 'alice')?.lastUsedAt).toBeDefined();
    expect(JSON.stringify(tokens)).not.toContain(secrets['alice']);
    const whoami = (await (await as('bob', '/api/whoami')).json()) as { name: string; scope: string };
    expect(whoami).toMatchObject({ name: 'bob', scope: 'submit' });
  });

  it('keeps only hashes of the tokens in Redis, and a revoked token stops working at once', async () => {
    const redis = testRedis();
    try {
      let everything = '';
      for (const key of await keysUnder(redis, stack.prefix)) {
        const type = await redis.type(key);
        if (type === 'string') everything += await redis.get(key);
        else if (type === 'hash') everything += JSON.stringify(await redis.hgetall(key));
        else if (type === 'set') everything += JSON.stringify(await redis.smembers(key));
        else if (type === 'zset') everything += JSON.stringify(await redis.zrange(key, '0', '-1'));
      }
      for (const [name, secret] of Object.entries({ ...secrets, 'admin-env': stack.token })) {
        expect(everything, name).not.toContain(secret);
        expect(everything, name).not.toContain(secret.slice(4, 24));
        expect(everything, name).toContain(hashToken(secret));
      }
    } finally {
      await redis.quit();
    }
    const temp = (await (await stack.api('/api/tokens', json({ name: 'temp', scope: 'read' }))).json()) as { token: string };
    expect((await authorizedFetch(stack.url, temp.token, '/api/studies')).status).toBe(200);
    expect((await stack.api('/api/tokens/temp', { method: 'DELETE' })).status).toBe(204);
    expect((await authorizedFetch(stack.url, temp.token, '/api/studies')).status).toBe(401);
    expect((await stack.api('/api/tokens/temp', { method: 'DELETE' })).status).toBe(404);
    expect((await stack.api('/api/tokens', json({ name: 'alice', scope: 'read' }))).status).toBe(409);
    const bad = await stack.api('/api/tokens', json({ name: 'a b', scope: 'root' }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^name: /);
  });

  it('refuses what is over a quota with 429 or 403 naming the quota', async () => {
    const trials = await as('limited', '/api/studies', json(spec('too many trials', 5)));
    expect(trials.status).toBe(403);
    expect(((await trials.json()) as { error: { code: string; quota: string; message: string } }).error).toMatchObject({ code: 'quota_exceeded', quota: 'trialsPerStudy', message: expect.stringMatching(/^quota trialsPerStudy: budget.maxTrials 5 .* limit of 3/) });
    expect((await as('limited', '/api/studies', json(spec('first', 3)))).status).toBe(201);
    const second = await as('limited', '/api/studies', json(spec('second', 3)));
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error: { quota: string } }).error.quota).toBe('runningStudies');
    const upload = await as('limited', '/api/datasets?name=big', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: `text,label\n${'long text here,1\n'.repeat(10)}` });
    expect(upload.status).toBe(429);
    expect(((await upload.json()) as { error: { quota: string; message: string } }).error).toMatchObject({ quota: 'uploadBytes', message: expect.stringMatching(/limit of 100 bytes/) });
    // Admin tokens have no quota of their own.
    expect((await stack.api('/api/studies', json(spec('admin big', 5)))).status).toBe(201);
  });

  it('refuses a foreign Host header (DNS rebinding) on the API and the dashboard', async () => {
    const { port } = new URL(stack.url);
    const get = (host: string, path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host, authorization: `Bearer ${stack.token}` } }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    for (const path of ['/api/studies', '/', '/api/health']) {
      const foreign = await get(`evil.example:${port}`, path);
      expect(foreign.status, path).toBe(403);
      expect((JSON.parse(foreign.body) as { error: { code: string } }).error.code).toBe('forbidden_host');
      expect((await get(`localhost:${port}`, path)).status, path).toBe(200);
    }
  });

  it('runs `autopeft token create`, `list` and `revoke` against Redis', async () => {
    const run = (args: string[]) => promisify(execFile)(process.execPath, [bin, 'token', ...args], { env: { ...process.env, REDIS_URL: TEST_REDIS_URL, AUTOPEFT_KEY_PREFIX: stack.prefix } });
    const created = await run(['create', '--name', 'carol', '--scope', 'submit', '--max-running-studies', '2']);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^apt_/);
    expect(created.stderr).toMatch(/shown only now/);
    const whoami = (await (await authorizedFetch(stack.url, secret, '/api/whoami')).json()) as { name: string; quotas: { runningStudies: number } };
    expect(whoami).toMatchObject({ name: 'carol', quotas: { runningStudies: 2 } });
    const listed = await run(['list']);
    expect(listed.stdout).toMatch(/^carol\tsubmit\t/m);
    expect(listed.stdout).not.toContain(secret);
    await run(['revoke', 'carol']);
    expect((await authorizedFetch(stack.url, secret, '/api/whoami')).status).toBe(401);
    await expect(run(['create', '--name', 'dave', '--scope', 'root'])).rejects.toMatchObject({ stderr: expect.stringMatching(/^autopeft: token create --scope: /) });
  });

  it.runIf(runBrowser)('keeps a page on another origin from cancelling or reading a study', async () => {
    const created = (await (await as('alice', '/api/studies', json(spec('target')))).json()) as { id: string };
    const target = `${stack.url}/api/studies/${created.id}`;
    await waitFor(async () => ((((await stack.api(`/api/studies/${created.id}`)).json()) as Promise<StudyView>).then((v) => (v.state === 'running' ? true : undefined))), 15_000, 'the study to run');
    // The attacker's page: another port is another origin.
    const evil = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><form id="f" method="POST" action="${target}/cancel"></form><script>
        window.results = {};
        fetch(${JSON.stringify(`${target}/cancel`)}, { method: 'POST', mode: 'no-cors' }).then(() => (results.noCors = 'sent'), (e) => (results.noCors = String(e)));
        fetch(${JSON.stringify(target)}).then((r) => r.text()).then((t) => (results.read = t), (e) => (results.read = 'blocked: ' + e));
        fetch(${JSON.stringify(`${target}/cancel`)}, { method: 'POST', headers: { authorization: 'Bearer guess' } }).then((r) => (results.preflight = r.status), (e) => (results.preflight = 'blocked: ' + e));
      </script>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    try {
      const page = await browser.newPage();
      await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
      await page.waitForFunction(() => {
        const r = (window as unknown as { results: Record<string, unknown> }).results;
        return r.noCors !== undefined && r.read !== undefined && r.preflight !== undefined;
      });
      const results = await page.evaluate(() => (window as unknown as { results: Record<string, unknown> }).results);
      expect(String(results['read'])).toMatch(/^blocked: TypeError/);
      expect(String(results['preflight'])).toMatch(/^blocked: TypeError/);
      // A classic form post navigates the page; it arrives without a token.
      await Promise.all([page.waitForURL(`${target}/cancel`), page.evaluate(() => (document.getElementById('f') as HTMLFormElement).submit())]);
      await page.waitForLoadState();
      expect(await page.textContent('body')).toMatch(/forbidden_origin|unauthorized/);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const view = (await (await stack.api(`/api/studies/${created.id}`)).json()) as StudyView;
      expect(view.state).toBe('running');
    } finally {
      await browser.close();
      evil.close();
    }
    // The same request with the owner's token works: the study could have been cancelled.
    expect((await as('alice', `/api/studies/${created.id}/cancel`, { method: 'POST' })).status).toBe(202);
  });
});
