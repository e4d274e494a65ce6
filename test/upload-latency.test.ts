/**
 * A maximum-size upload (just under the 20 MB default) while health checks keep coming: the
 * upload is parsed off the event loop, so the checks answer within 100 ms at the 99th
 * percentile, and the API process grows by about three times the file at most.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceProcess } from './helpers/api-process.js';
import type { ServiceProcess } from './helpers/api-process.js';
import { deleteUnder, testRedis, TEST_REDIS_URL, uniquePrefix } from './helpers/redis.js';

const LIMIT = 20 * 1024 * 1024;

/** A CSV of spam-like sentences, `bytes` long at most. */
function bigCsv(bytes: number): string {
  const words = ['free', 'money', 'meeting', 'tomorrow', 'hello', 'offer', 'click', 'report', 'lunch', 'prize', 'project', 'deadline', 'urgent', 'team'];
  const lines = ['text,label'];
  let size = 11;
  for (let i = 0; ; i++) {
    const n = 20 + (i % 40);
    const text: string[] = [];
    for (let k = 0; k < n; k++) text.push(words[(i * 7 + k * 3) % words.length]!);
    const line = `"${text.join(' ')}, ""quoted""",${i % 2}`;
    if (size + line.length + 1 > bytes) break;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

describe('a maximum-size upload', () => {
  let api: ServiceProcess;
  const prefix = uniquePrefix();
  const token = `apt_${randomBytes(24).toString('base64url')}`;

  beforeAll(async () => {
    api = await startServiceProcess('api', { REDIS_URL: TEST_REDIS_URL, AUTOPEFT_KEY_PREFIX: prefix, PORT: '0', HOST: '127.0.0.1', AUTOPEFT_ADMIN_TOKEN: token, AUTOPEFT_MAX_UPLOAD_BYTES: String(LIMIT) });
  });

  afterAll(async () => {
    await api?.close();
    const redis = testRedis();
    await deleteUnder(redis, prefix);
    await redis.quit();
  });

  it('leaves health checks under 100 ms at p99 and keeps the growth of the API bounded', async () => {
    const csv = Buffer.from(bigCsv(LIMIT - 64 * 1024));
    // Warm the parser thread and the routes with a small upload first.
    const small = await fetch(`${api.url}/api/datasets?name=warm`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' }, body: 'text,label\na b,1\nc d,0\ne f,1\ng h,0\n' });
    expect(small.status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rssBefore = api.rss();

    const latencies: number[] = [];
    let peak = rssBefore;
    let uploading = true;
    const checks = (async () => {
      while (uploading) {
        const started = performance.now();
        const response = await fetch(`${api.url}/api/health`);
        await response.text();
        latencies.push(performance.now() - started);
        peak = Math.max(peak, api.rss());
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    // The upload comes from another process, so that sending 20 MB never stalls this one's probes.
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'autopeft-upload-')), 'big.csv');
    writeFileSync(file, csv);
    const started = performance.now();
    const sender = `const r = await fetch(process.argv[1], { method: 'POST', headers: { authorization: process.argv[2], 'content-type': 'text/csv' }, body: require('node:fs').readFileSync(process.argv[3]) });
      console.log(JSON.stringify({ status: r.status, body: await r.json() }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=commonjs', '-e', `(async () => { ${sender} })()`, `${api.url}/api/datasets?name=big`, `Bearer ${token}`, file], { maxBuffer: 1 << 20 });
    const uploadMs = performance.now() - started;
    rmSync(path.dirname(file), { recursive: true, force: true });
    const { status, body } = JSON.parse(stdout) as { status: number; body: { train: number; dev: number; bytes: number } };
    const response = { status };
    uploading = false;
    await checks;

    expect(response.status).toBe(201);
    expect(body.bytes).toBe(csv.length);
    expect(body.train + body.dev).toBe(csv.toString().trim().split('\n').length - 1);
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!;
    const grownMiB = (peak - rssBefore) / 2 ** 20;
    console.log(
      `upload of ${(csv.length / 2 ** 20).toFixed(1)} MiB in ${uploadMs.toFixed(0)} ms; ${latencies.length} health checks: p50 ${latencies[Math.floor(latencies.length / 2)]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms; RSS +${grownMiB.toFixed(0)} MiB`,
    );
    expect(latencies.length).toBeGreaterThan(10);
    expect(p99).toBeLessThan(100);
    // Parsed rows, the normalised dataset and its JSON live in the parser thread at once.
    expect(peak - rssBefore).toBeLessThan(12 * csv.length);
  });

  it('refuses an upload over the limit from its Content-Length, before reading it', async () => {
    const started = performance.now();
    const response = await fetch(`${api.url}/api/datasets?name=huge`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv', 'content-length': String(LIMIT + 1) },
      body: Buffer.alloc(LIMIT + 1, 0x61),
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('too_large');
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
