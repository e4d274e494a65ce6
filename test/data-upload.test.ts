import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetsRouter, redisUploadFetcher } from '../api/datasets.js';
import { errorHandler } from '../api/errors.js';
import { authenticate } from '../api/security.js';
import { TokenStore } from '../api/tokens.js';
import { loadDataset, parseStoredDataset, uploadIndexKey, uploadKey } from '../workers/data/index.js';
import type { UploadSummary } from '../workers/data/index.js';
import { deleteUnder, keysUnder, testRedis, uniquePrefix } from './helpers/redis.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'data');
const LIMIT = 4096;

let redis: Redis;
let server: Server;
let url: string;
let auth: { authorization: string };
const prefix = uniquePrefix();

beforeAll(async () => {
  redis = testRedis();
  const app = express();
  const tokens = new TokenStore(redis, prefix);
  auth = { authorization: `Bearer ${(await tokens.create('uploader', 'submit')).secret}` };
  app.use(authenticate(tokens));
  app.use(express.json({ limit: '1mb' }));
  app.use(datasetsRouter({ redis, keyPrefix: prefix, maxUploadBytes: LIMIT }));
  app.use(errorHandler(() => {}));
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.close();
  await deleteUnder(redis, prefix);
  redis.disconnect();
});

async function upload(query: string, contentType: string, body: string | Uint8Array<ArrayBuffer>): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${url}/api/datasets${query}`, { method: 'POST', headers: { 'Content-Type': contentType, ...auth }, body });
  return { status: res.status, json: await res.json() };
}

function fixture(relative: string): Promise<string> {
  return readFile(path.join(FIXTURES, relative), 'utf8');
}

describe('POST /api/datasets', () => {
  it('stores a GLUE TSV upload in Redis where a worker loads it as upload:<id>', async () => {
    const { status, json } = await upload('?name=rte-train', 'text/tab-separated-values', await fixture('glue/RTE/train.tsv'));
    expect(status).toBe(201);
    const summary = json as UploadSummary;
    expect(summary).toMatchObject({ name: 'rte-train', kind: 'classification', labels: ['entailment', 'not_entailment'], train: 3, dev: 1 });
    expect(summary.ref).toBe(`upload:${summary.id}`);
    expect((await keysUnder(redis, prefix)).filter((key) => !key.includes(':token'))).toEqual([uploadIndexKey(prefix), uploadKey(prefix, summary.id)].sort());

    const dataset = await loadDataset(summary.ref, { fetchUpload: redisUploadFetcher(redis, prefix) });
    expect([dataset.name, dataset.train.length, dataset.dev.length, dataset.defaultMetric]).toEqual(['rte-train', 3, 1, 'accuracy']);
    expect(dataset.train[0]!.textPair).toBeDefined();
  });

  it('accepts CSV and JSONL with field options, regression included', async () => {
    const csv = await upload(
      '?name=reviews&textField=review&labelField=stars',
      'text/csv; charset=utf-8',
      await fixture('csv/reviews.csv'),
    );
    expect(csv.status).toBe(201);
    expect(csv.json).toMatchObject({ labels: ['neg', 'pos'], train: 8, dev: 2, defaultMetric: 'accuracy' });
    const jsonl = await upload('?name=ratings&kind=regression', 'application/x-ndjson', await fixture('jsonl/ratings.jsonl'));
    expect(jsonl.status).toBe(201);
    expect(jsonl.json).toMatchObject({ kind: 'regression', labels: [], train: 4, dev: 1, metrics: ['pearson', 'spearman'] });
  });

  it('lists uploads and describes one', async () => {
    const list = (await (await fetch(`${url}/api/datasets`, { headers: auth })).json()) as UploadSummary[];
    expect(list.map((u) => u.name)).toEqual(['rte-train', 'reviews', 'ratings']);
    const one = await fetch(`${url}/api/datasets/${list[1]!.id}`, { headers: auth });
    expect(await one.json()).toEqual(list[1]);
    const missing = await fetch(`${url}/api/datasets/nope`, { headers: auth });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: 'not_found', message: 'no uploaded dataset with id "nope"' } });
  });

  it('answers 400 naming the first bad line and why, and stores nothing', async () => {
    const before = await keysUnder(redis, prefix);
    const cases: [string, string, string, RegExp, number | undefined][] = [
      ['?name=bad.tsv', 'text/tab-separated-values', 'malformed/sst2-wrong-columns.tsv', /^bad\.tsv, line 3: expected 2 tab-separated columns \(SST-2 layout\), got 3$/, 3],
      ['?name=bad.jsonl', 'application/x-ndjson', 'malformed/invalid.jsonl', /^bad\.jsonl, line 3: invalid JSON/, 3],
      ['?name=bad.csv', 'text/csv', 'malformed/unclosed-quote.csv', /^bad\.csv, line 3: a quoted field is never closed/, 3],
      ['?name=scores&kind=regression', 'text/csv', 'malformed/regression-non-numeric.csv', /^scores, line 4: label "n\/a" is not a number/, 4],
      ['?name=stsb', 'text/tab-separated-values', 'malformed/stsb-non-numeric.tsv', /^stsb, line 3: label "high" is not a number/, 3],
      ['?name=empty', 'text/csv', 'malformed/empty.csv', /^empty: file is empty$/, undefined],
    ];
    for (const [query, type, file, message, line] of cases) {
      const { status, json } = await upload(query, type, await fixture(file));
      expect(status, file).toBe(400);
      const error = (json as { error: { code: string; message: string; line?: number } }).error;
      expect(error.code).toBe('invalid_dataset');
      expect(error.message).toMatch(message);
      expect(error.line).toBe(line);
    }
    expect(await keysUnder(redis, prefix)).toEqual(before);
  });

  it('rejects bad options, a bad name and text that is not UTF-8 with 400', async () => {
    const option = await upload('?labelfield=x', 'text/csv', 'text,label\na,b\n');
    expect([option.status, (option.json as { error: { message: string } }).error.message]).toEqual([
      400,
      expect.stringMatching(/unknown option "labelfield"/) as unknown,
    ]);
    const format = await upload('?format=xml', 'text/csv', 'text,label\na,b\n');
    expect((format.json as { error: { message: string } }).error.message).toMatch(/unknown format "xml"/);
    const name = await upload(`?name=${encodeURIComponent('a\u0007b')}`, 'text/csv', 'text,label\na,b\n');
    expect(name.status).toBe(400);
    const binary = await upload('?name=bin', 'text/csv', new Uint8Array([0x74, 0x65, 0xff, 0xfe, 0x0a]));
    expect([binary.status, (binary.json as { error: { message: string } }).error.message]).toEqual([400, 'bin: the file is not valid UTF-8 text']);
  });

  it('answers 413 naming the limit', async () => {
    const big = 'text,label\n' + 'a fairly long line of text,pos\n'.repeat(200);
    const { status, json } = await upload('?name=big', 'text/csv', big);
    expect(status).toBe(413);
    expect(json).toEqual({ error: { code: 'too_large', message: `the upload is larger than the limit of ${LIMIT} bytes` } });
  });

  it('answers 415 for other content types, JSON included', async () => {
    const { status, json } = await upload('', 'application/json', '{"text": "a"}');
    expect(status).toBe(415);
    expect((json as { error: { message: string } }).error.message).toMatch(/Content-Type text\/csv, text\/tab-separated-values, application\/x-ndjson/);
  });
});

describe('stored uploads', () => {
  it('an unknown or damaged upload is a clear error for the worker', async () => {
    const fetchUpload = redisUploadFetcher(redis, prefix);
    await expect(loadDataset('upload:does-not-exist', { fetchUpload })).rejects.toThrow(/no upload with id "does-not-exist"/);
    await expect(loadDataset('upload:x')).rejects.toThrow(/cannot read uploads/);
    expect(() => parseStoredDataset('{"version": 1, "dataset": {"name": 1}}', 'x')).toThrow(/upload:x: stored dataset is unusable: name is not a string/);
    expect(() => parseStoredDataset('nope', 'y')).toThrow(/upload:y: stored dataset is unusable: not valid JSON/);
  });
});
