/**
 * The per-trial download endpoints (`GET .../trials/:n/files`, `/config`, `/bundle.zip` and the
 * older `/bundle`) and the dashboard's pure table and grid rules (filters, sort order, CSV, Pareto
 * summary).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configGrid, median, summaryGrid } from '../dashboard/src/config-grid.js';
import { columnFilter, parseNumberFilter, queryTrials, trialColumns, trialsCsv } from '../dashboard/src/trial-query.js';
import { StudyStore } from '../scheduler/store.js';
import { artifactKey } from '../workers/job-types.js';
import type { TrialFiles, TrialRecord } from '../scheduler/types.js';
import { startInProcessApp } from './helpers/app.js';
import type { InProcessApp } from './helpers/app.js';
import { writeSyntheticStudy } from './helpers/synthetic-study.js';

/** What a worker stores as the project configuration (the fields the bundle's README reads). */
const STORED_CONFIG = JSON.stringify({
  format: 'autopeft.trial-config/v1',
  baseModel: { name: 'synthetic', modelType: 'bert', huggingFace: {} },
  head: { kind: 'bert', task: 'classification', outputs: 2, labels: ['ham', 'spam'] },
  weights: { file: 'adapter_weights.safetensors', tensors: {} },
});

describe('GET /api/studies/:id/trials/:n/files and /config', () => {
  let app: InProcessApp;
  let studyId: string;
  let trials: TrialRecord[];

  beforeAll(async () => {
    app = await startInProcessApp('reader', 'read');
    const study = await writeSyntheticStudy(app.redis, app.prefix, { trials: 30, seed: 9 });
    studyId = study.id;
    // Trial 0 is complete with two stored files, written where the worker writes them.
    const body = (await (await fetch(`${app.url}/api/studies/${studyId}/trials?after=0&limit=1000`, { headers: app.auth })).json()) as { trials: TrialRecord[] };
    trials = body.trials.sort((a, b) => a.number - b.number);
    const artifact = { files: ['autopeft/autopeft_config.json', 'hf-peft/adapter_config.json', 'hf-peft/adapter_model.safetensors'], notes: ['No AdapterHub export: a reason'] };
    await new StudyStore(app.redis, app.prefix).saveTrial(studyId, { ...trials[0]!, state: 'complete', metric: 0.8, artifact });
    await app.redis.hset(
      artifactKey(app.prefix, `${studyId}-0`),
      'autopeft/autopeft_config.json',
      STORED_CONFIG,
      'hf-peft/adapter_config.json',
      '{"peft_type": "LORA"}',
      'hf-peft/adapter_model.safetensors',
      Buffer.alloc(1234, 7),
    );
  });

  afterAll(async () => {
    await app?.close();
  });

  const get = (path: string): Promise<Response> => fetch(`${app.url}${path}`, { headers: app.auth });

  it('lists the configuration and each stored file with its size and path; each path serves that file', async () => {
    const response = await get(`/api/studies/${studyId}/trials/0/files`);
    expect(response.status).toBe(200);
    const listing = (await response.json()) as TrialFiles;
    expect(listing).toEqual({
      trial: 0,
      state: 'complete',
      notes: ['No AdapterHub export: a reason'],
      files: [
        { name: 'configuration.json', kind: 'configuration', path: `/api/studies/${studyId}/trials/0/config` },
        { name: 'autopeft/autopeft_config.json', kind: 'artifact', path: `/api/studies/${studyId}/trials/0/files/autopeft/autopeft_config.json`, bytes: STORED_CONFIG.length },
        { name: 'hf-peft/adapter_config.json', kind: 'artifact', path: `/api/studies/${studyId}/trials/0/files/hf-peft/adapter_config.json`, bytes: 21 },
        { name: 'hf-peft/adapter_model.safetensors', kind: 'artifact', path: `/api/studies/${studyId}/trials/0/files/hf-peft/adapter_model.safetensors`, bytes: 1234 },
        { name: 'bundle.zip', kind: 'bundle', path: `/api/studies/${studyId}/trials/0/bundle.zip` },
      ],
    });
    const weights = await get(listing.files[3]!.path);
    expect(Buffer.from(await weights.arrayBuffer()).equals(Buffer.alloc(1234, 7))).toBe(true);
    // One format: the trial's configuration is the stored one with the study's fields added.
    const config = (await (await get(listing.files[0]!.path)).json()) as { format: string; trial: number; peft: unknown; metric: { value: number }; head: { labels: string[] } };
    expect(config.format).toBe('autopeft.trial-config/v1');
    expect(config.trial).toBe(0);
    expect(config.metric.value).toBe(0.8);
    expect(config.peft).toEqual(trials[0]!.peft);
    expect(config.head.labels).toEqual(['ham', 'spam']);
  });

  it('bundles the folders and a README into a ZIP that unzip reads back byte for byte; /bundle serves the same bytes', async () => {
    const response = await get(`/api/studies/${studyId}/trials/0/bundle.zip`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/zip');
    expect(response.headers.get('content-disposition')).toContain('trial-0.zip');
    const zip = Buffer.from(await response.arrayBuffer());
    const again = Buffer.from(await (await get(`/api/studies/${studyId}/trials/0/bundle.zip`)).arrayBuffer());
    expect(again.equals(zip)).toBe(true);
    expect(Buffer.from(await (await get(`/api/studies/${studyId}/trials/0/bundle`)).arrayBuffer()).equals(zip)).toBe(true);
    const dir = mkdtempSync(path.join(tmpdir(), 'autopeft-bundle-'));
    try {
      const file = path.join(dir, 'bundle.zip');
      writeFileSync(file, zip);
      expect(execFileSync('unzip', ['-t', file], { encoding: 'utf8' })).toMatch(/No errors detected/);
      // Info-ZIP's unzip, an independent reader: the names in order, then each entry's bytes.
      expect(execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' }).trim().split('\n')).toEqual([
        'README.md',
        'hf-peft/README.md',
        'autopeft/autopeft_config.json',
        'hf-peft/adapter_config.json',
        'hf-peft/adapter_model.safetensors',
      ]);
      const bytesOf = (name: string): Buffer => execFileSync('unzip', ['-p', file, name]);
      expect(bytesOf('autopeft/autopeft_config.json').toString('utf8').trim()).toBe(await (await get(`/api/studies/${studyId}/trials/0/config`)).text());
      expect(bytesOf('hf-peft/adapter_model.safetensors').equals(Buffer.alloc(1234, 7))).toBe(true);
      const readme = bytesOf('README.md').toString('utf8');
      expect(readme).toContain('model = PeftModel.from_pretrained(base, "hf-peft")');
      // The study's base model (a Hugging Face directory without `_name_or_path`): a placeholder path the README explains.
      const base = ((await (await get(`/api/studies/${studyId}`)).json()) as { spec: { task: { baseModel: string } } }).spec.task.baseModel;
      expect(readme).toContain(`AutoModelForSequenceClassification.from_pretrained("path/to/${base}", num_labels=2, id2label={0: "ham", 1: "spam"})`);
      expect(readme).toContain(`records no \`_name_or_path\`, so \`base_model_name_or_path\` holds a placeholder`);
      expect(readme).toContain('2 labels (`num_labels=2`)');
      expect(readme).toContain('`adapterhub/`: not in this bundle. No AdapterHub export: a reason');
      const card = bytesOf('hf-peft/README.md').toString('utf8');
      expect(card.startsWith(`---\nbase_model: "path/to/${base}"\nlibrary_name: peft\n`)).toBe(true);
      expect(card).toMatch(/# .*: trial 0 \(LORA\)\n[\s\S]*- Dev accuracy: 0\.8000/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('offers nothing for a trial that is not complete, and answers 409 (configuration) / 404 (bundle, unknown trial) naming what is missing', async () => {
    const failed = trials.find((t) => t.state === 'failed')!;
    const listing = (await (await get(`/api/studies/${studyId}/trials/${failed.number}/files`)).json()) as TrialFiles;
    expect(listing.files).toEqual([]);
    const config = await get(`/api/studies/${studyId}/trials/${failed.number}/config`);
    expect(config.status).toBe(409);
    // No trained weights: 404 naming why (the old route too), never a 500.
    for (const route of ['bundle.zip', 'bundle']) {
      const bundle = await get(`/api/studies/${studyId}/trials/${failed.number}/${route}`);
      expect(bundle.status).toBe(404);
      expect(((await bundle.json()) as { error: { message: string } }).error.message).toBe(`trial ${failed.number} has no trained weights to bundle (it is failed)`);
    }
    expect((await get(`/api/studies/${studyId}/trials/999/bundle.zip`)).status).toBe(404);
    expect(((await config.json()) as { error: { message: string } }).error.message).toMatch(`trial ${failed.number} is failed`);
    const missing = await get(`/api/studies/${studyId}/trials/999/files`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/has no trial 999/);
    expect((await get(`/api/studies/${studyId}/trials/x1/files`)).status).toBe(404);
    expect((await get(`/api/studies/00000000-0000-4000-8000-000000000000/trials/0/config`)).status).toBe(404);
  });
});

describe('the trial table rules', () => {
  const trial = (n: number, metric: number | undefined, worker: string, reports: [number, number][] = []): TrialRecord => ({
    number: n,
    state: metric === undefined ? 'failed' : 'complete',
    params: { x: n },
    peft: { lora: { rank: 4, alpha: 8, dropout: 0, targets: ['query'], layers: [n % 3] } },
    training: { steps: 10, batchSize: 8, learningRate: 1e-3, evalEvery: 5, maxSeqLength: 16, trainExamples: 8, devExamples: 8, seed: 0, dataSeed: 0 },
    trainableParams: 100 * n,
    trainablePercent: n / 10,
    reports: reports.map(([step, value]) => ({ step, value })),
    ...(metric !== undefined ? { metric } : {}),
    worker,
    attempts: 1,
    createdAt: '2026-01-01T00:00:00Z',
  });
  const trials = [trial(0, 0.5, 'a'), trial(1, undefined, 'b'), trial(2, 0.9, 'say "hi", ok'), trial(3, 0.9, 'a', [[5, 0.7], [10, 0.6]])];
  const columns = trialColumns('accuracy');

  it('parses comparisons and ranges, and refuses anything else with a message', () => {
    const gt = parseNumberFilter('>0.5');
    expect(typeof gt === 'function' && [gt(0.5), gt(0.51)]).toEqual([false, true]);
    const range = parseNumberFilter(' 2 .. 1 ');
    expect(typeof range === 'function' && [range(0.99), range(1), range(2), range(2.01)]).toEqual([false, true, true, false]);
    const eq = parseNumberFilter('1e-3');
    expect(typeof eq === 'function' && eq(0.001)).toBe(true);
    expect(parseNumberFilter('>>1')).toEqual({ error: expect.stringMatching(/not a number filter/) });
  });

  it('sorts with missing values last in both directions, ties by number, and filters text by any case', () => {
    const desc = queryTrials(trials, columns, [], { column: 'metric', ascending: false });
    expect(desc.map((t) => t.number)).toEqual([2, 3, 0, 1]);
    const asc = queryTrials(trials, columns, [], { column: 'metric', ascending: true });
    expect(asc.map((t) => t.number)).toEqual([0, 2, 3, 1]);
    const worker = columnFilter(columns.find((c) => c.id === 'worker')!, 'SAY');
    expect(worker && !('error' in worker) && queryTrials(trials, columns, [worker], { column: 'number', ascending: true }).map((t) => t.number)).toEqual([2]);
    const last = columnFilter(columns.find((c) => c.id === 'lastReport')!, '<0.65');
    expect(last && !('error' in last) && queryTrials(trials, columns, [last], { column: 'number', ascending: true }).map((t) => t.number)).toEqual([3]);
  });

  it('writes CSV with full-precision values and quoted text', () => {
    const lines = trialsCsv([trials[2]!, trials[3]!], ['x']).trimEnd().split('\r\n');
    expect(lines[0]).toBe('number,state,modules,layers,learningRate,trainableParams,trainablePercent,bestMetric,lastReportValue,lastReportStep,reports,worker,attempts,createdAt,startedAt,finishedAt,error,param.x');
    expect(lines[1]).toBe('2,complete,LoRA r4 Q,2,0.001,200,0.2,0.9,,,0,"say ""hi"", ok",1,2026-01-01T00:00:00Z,,,,2');
    expect(lines[2]).toContain(',0.6,10,2,a,');
  });

  it('gives each LoRA target its own rank row, and summarises shares and median sizes over trials', () => {
    const grid = configGrid({ lora: { rank: 16, alpha: 8, dropout: 0, targets: ['value', 'query'], layers: [1, 2], rankPerTarget: { query: 8 } }, serialAdapter: { placement: 'houlsby', size: 4, layers: [0], activation: 'relu' } });
    expect(grid.rows.map((r) => [r.id, [...r.cells]])).toEqual([
      ['lora.query', [[1, 8], [2, 8]]],
      ['lora.value', [[1, 16], [2, 16]]],
      ['serial.attention', [[0, 4]]],
      ['serial.ffn', [[0, 4]]],
    ]);
    expect(median([3, 1, 2, 10])).toBe(2.5);
    const summary = summaryGrid([trials[0]!, trials[2]!, trials[3]!]);
    expect(summary).toHaveLength(1);
    expect([...summary[0]!.cells].sort((a, b) => a[0] - b[0])).toEqual([
      [0, { count: 2, share: 2 / 3, medianSize: 4 }],
      [2, { count: 1, share: 1 / 3, medianSize: 4 }],
    ]);
  });
});
