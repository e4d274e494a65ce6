import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProjectConfig } from '../workers/export/project-config.js';
import type { StudyView } from '../scheduler/types.js';
import { countHeadParams, countPeftParams } from '../search/param-count.js';
import { BASE_MODELS } from '../workers/models/catalog.js';
import { openApiChecker } from './helpers/openapi-check.js';
import type { OpenApiChecker } from './helpers/openapi-check.js';
import { keysUnder, testRedis } from './helpers/redis.js';
import { startStack, waitFor } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';

const spec = {
  name: 'end-to-end',
  task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' },
  algorithm: { name: 'random', seed: 11 },
  budget: { maxTrials: 3, maxParallel: 2 },
  training: { steps: 8, batchSize: 8, learningRate: 0.003, evalEvery: 4, maxSeqLength: 32, trainExamples: 64, devExamples: 32 },
};

describe('a study from REST submit to best-configuration download', () => {
  let stack: TestStack;
  // Every answer this test gets is checked against the API's OpenAPI document.
  let api: OpenApiChecker;

  beforeAll(async () => {
    stack = await startStack(1);
    api = await openApiChecker(stack.api);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('documents every route and its errors in the OpenAPI document', async () => {
    expect((await api.call('/api/studies/not-an-id')).status).toBe(404);
    expect((await api.call('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...spec, budget: {} }) })).status).toBe(400);
    expect((await api.call('/api/studies', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })).status).toBe(415);
    expect((await api.call('/api/studies', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await api.call('/api/health')).status).toBe(200);
    expect((await api.call('/api/catalog')).status).toBe(200);
    expect((await api.call('/api/whoami')).status).toBe(200);
    expect((await api.call('/api/tokens')).status).toBe(200);
    expect((await api.call('/api/datasets')).status).toBe(200);
    const upload = await api.call('/api/datasets?name=e2e', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'text,label\nyes yes,1\nno no,0\nyes no,1\nno yes,0\n' });
    expect(upload.status).toBe(201);
    expect((await api.call(`/api/datasets/${((await upload.json()) as { id: string }).id}`)).status).toBe(200);
    expect((await api.call('/api/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'e2e', scope: 'read' }) })).status).toBe(201);
    expect((await api.call('/api/tokens/e2e', { method: 'DELETE' })).status).toBe(204);
  });

  it('trains every trial in a worker process and serves the best configuration', async () => {
    const metric = async (line: RegExp): Promise<number> => {
      const text = await (await stack.api('/metrics')).text();
      return Number(line.exec(text)?.[1] ?? 0);
    };
    expect((await fetch(`${stack.url}/metrics`)).status).toBe(401);
    const completeBefore = await metric(/^autopeft_trials\{state="complete"\} (\d+)$/m);
    const response = await api.call(`/api/studies`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };

    let maxInFlight = 0;
    const study = await waitFor(
      async () => {
        const view = (await (await api.call(`/api/studies/${id}`)).json()) as StudyView;
        const inFlight = view.trials.filter((t) => t.state === 'waiting' || t.state === 'running').length;
        maxInFlight = Math.max(maxInFlight, inFlight);
        return view.state === 'completed' || view.state === 'failed' ? view : undefined;
      },
      240_000,
      'the study to finish',
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\nworker log:\n${stack.workerLog()}`);
    });

    expect(study.state, stack.workerLog()).toBe('completed');
    // The metrics followed the study: trials by state, finished trials with their timings, the API's own requests.
    expect(await metric(/^autopeft_trials\{state="complete"\} (\d+)$/m)).toBe(completeBefore + 3);
    await waitFor(async () => ((await metric(/^autopeft_trial_duration_seconds_count\{state="complete"\} (\d+)$/m)) >= 3 ? true : undefined), 10_000, 'trial durations in the metrics');
    expect(await metric(/^autopeft_trials_finished_total\{state="complete"\} (\d+)$/m)).toBe(3);
    expect(await metric(/^autopeft_trial_queue_wait_seconds_count (\d+)$/m)).toBe(3);
    expect(await metric(/^autopeft_workers\{status="alive"\} (\d+)$/m)).toBe(1);
    expect(await metric(/^autopeft_http_request_duration_seconds_count\{method="GET",route="\/api\/studies\/:id",status="200"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(await metric(/^autopeft_queue_jobs\{state="completed"\} (\d+)$/m)).toBe(3);
    // The test's scheduler runs in this process: its step times are served too.
    expect(await metric(/^autopeft_scheduler_step_seconds_count (\d+)$/m)).toBeGreaterThan(0);
    expect(maxInFlight).toBeLessThanOrEqual(spec.budget.maxParallel);
    expect(study.trials.map((t) => t.number)).toEqual([0, 1, 2]);
    const shape = BASE_MODELS['tiny-random']!.shape;
    for (const trial of study.trials) {
      expect(trial.state).toBe('complete');
      expect(trial.error).toBeUndefined();
      expect(trial.worker).toBe('test-worker-0');
      expect(trial.metric).toBeGreaterThanOrEqual(0);
      expect(trial.metric).toBeLessThanOrEqual(1);
      expect(trial.metrics?.accuracy).toBe(trial.metric);
      // One report per evaluation: after steps 4 and 8.
      expect(trial.reports.map((r) => r.step)).toEqual([4, 8]);
      expect(trial.metric).toBe(Math.max(...trial.reports.map((r) => r.value)));
      expect(trial.trainableParams).toBe(countPeftParams(trial.peft, shape) + countHeadParams(shape, 2));
      expect(trial.trainablePercent).toBeCloseTo((100 * trial.trainableParams) / study.baseParams, 10);
    }

    const best = study.trials.reduce((a, b) => (b.metric! > a.metric! || (b.metric === a.metric && b.trainableParams < a.trainableParams) ? b : a));
    expect(study.bestTrial).toBe(best.number);

    const download = await api.call(`/api/studies/${id}/best`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="?autopeft-end-to-end-trial-\d+\.json"?$/);
    const config = (await download.json()) as { format: string; trial: number; peft: unknown; metric: { name: string; value: number }; trainableParams: number; baseModel: { name: string } };
    expect(config.format).toBe('autopeft.trial-config/v1');
    expect(config.trial).toBe(best.number);
    expect(config.peft).toEqual(best.peft);
    expect(config.metric).toMatchObject({ name: 'accuracy', value: best.metric });
    expect(config.trainableParams).toBe(best.trainableParams);
    expect(config.baseModel.name).toBe('tiny-random');

    // The trained adapter downloads in the project's, AdapterHub's and PEFT's formats.
    const downloads = (config as unknown as { downloads: Record<string, string> }).downloads;
    expect(Object.keys(downloads)).toEqual(
      expect.arrayContaining([
        'autopeft/autopeft_config.json',
        'autopeft/adapter_weights.safetensors',
        'adapterhub/adapter_config.json',
        'adapterhub/adapter.safetensors',
        'adapterhub/head_config.json',
        'adapterhub/model_head.safetensors',
        'hf-peft/adapter_config.json',
        'hf-peft/adapter_model.safetensors',
      ]),
    );
    const peftConfig = (await (await api.call(`${downloads['hf-peft/adapter_config.json']}`)).json()) as { peft_type: string; r: number; target_modules: unknown };
    expect(peftConfig).toMatchObject({ peft_type: 'LORA', r: best.peft.lora!.rank });
    const weights = Buffer.from(await (await api.call(`/api/studies/${id}/best/files/hf-peft/adapter_model.safetensors`)).arrayBuffer());
    const header = JSON.parse(weights.subarray(8, 8 + Number(weights.readBigUInt64LE(0))).toString('utf8')) as Record<string, { dtype: string; shape: number[] }>;
    const loraA = Object.entries(header).filter(([key]) => key.endsWith('lora_A.weight'));
    expect(loraA.length).toBe(best.peft.lora!.targets.length * best.peft.lora!.layers.length);
    for (const [, tensor] of loraA) expect(tensor).toMatchObject({ dtype: 'F32', shape: [best.peft.lora!.rank, expect.any(Number)] });
    expect((await api.call(`/api/studies/${id}/trials/0/files/..%2F..%2Fetc%2Fpasswd`)).status).toBe(404);

    // The best trial's bundle over the real API: unzipped, each folder where its loader looks.
    const bundle = await api.call(`/api/studies/${id}/best/bundle.zip`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-disposition')).toContain(`trial-${best.number}.zip`);
    const zip = Buffer.from(await bundle.arrayBuffer());
    expect(Buffer.from(await (await api.call(`/api/studies/${id}/trials/${best.number}/bundle.zip`)).arrayBuffer()).equals(zip)).toBe(true);
    const dir = mkdtempSync(path.join(tmpdir(), 'autopeft-e2e-bundle-'));
    try {
      writeFileSync(path.join(dir, 'bundle.zip'), zip);
      execFileSync('unzip', ['-q', 'bundle.zip', '-d', 'out'], { cwd: dir });
      const out = path.join(dir, 'out');
      const listed = (sub: string): string[] => readdirSync(path.join(out, sub)).sort();
      expect(readdirSync(out).sort()).toEqual(['README.md', 'adapterhub', 'autopeft', 'hf-peft']);
      expect(listed('hf-peft')).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
      expect(listed('adapterhub')).toEqual(['adapter.safetensors', 'adapter_config.json', 'head_config.json', 'model_head.safetensors']);
      expect(listed('autopeft')).toEqual(['adapter_weights.safetensors', 'autopeft_config.json']);
      const readme = readFileSync(path.join(out, 'README.md'), 'utf8');
      // tiny-random is seeded weights no Hugging Face checkpoint holds: the README says so, and what to pass.
      expect(readme).toContain('`tiny-random` is seeded random weights that exist only inside AutoPEFT');
      expect(readme).toContain('AutoModelForSequenceClassification.from_pretrained("path/to/tiny-random", num_labels=2, id2label={0: "ham", 1: "spam"})');
      expect(readme).toContain('model = PeftModel.from_pretrained(base, "hf-peft")');
      expect(readme).toContain('model = AutoAdapterModel.from_pretrained("path/to/tiny-random")\nname = model.load_adapter("adapterhub", set_active=True)');
      expect(readme).toContain('2 labels (`num_labels=2`), by index:\n\n- 0: `ham`\n- 1: `spam`');
      const peftFile = JSON.parse(readFileSync(path.join(out, 'hf-peft', 'adapter_config.json'), 'utf8')) as { peft_version: string; base_model_name_or_path: string };
      expect(peftFile.peft_version).toBe('0.18.0');
      expect(peftFile.base_model_name_or_path).toBe('<pass the base model yourself: AutoPEFT\'s "tiny-random">');
      const hubHead = JSON.parse(readFileSync(path.join(out, 'adapterhub', 'head_config.json'), 'utf8')) as { config: { num_labels: number; label2id: Record<string, number> } };
      expect(hubHead.config).toMatchObject({ num_labels: 2, label2id: { ham: 0, spam: 1 } });
      // One format: the bundle's project configuration is /best's JSON and rebuilds the adapter.
      const projectText = readFileSync(path.join(out, 'autopeft', 'autopeft_config.json'), 'utf8');
      expect(JSON.parse(projectText)).toEqual(config);
      expect(parseProjectConfig(projectText).head).toMatchObject({ outputs: 2, labels: ['ham', 'spam'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    expect(api.checked).toBeGreaterThan(15);
    // Deleting the finished study removes it, its trials and its trained adapters from Redis;
    // only the queue's own records of the finished jobs remain (BullMQ ages them out).
    const redis = testRedis();
    try {
      const ownKeys = async (): Promise<string[]> => (await keysUnder(redis, stack.prefix)).filter((key) => key.includes(id) && !key.includes(':trials:'));
      expect(await ownKeys()).not.toEqual([]);
      expect((await api.call(`/api/studies/${id}`, { method: 'DELETE' })).status).toBe(204);
      expect(await ownKeys()).toEqual([]);
      expect((await api.call(`/api/studies/${id}`)).status).toBe(404);
      expect((await api.call(`/api/studies/${id}/best/files/hf-peft/adapter_model.safetensors`)).status).toBe(404);
      const list = ((await (await api.call(`/api/studies`)).json()) as { studies: { id: string }[] }).studies;
      expect(list.map((s) => s.id)).not.toContain(id);
      expect((await api.call(`/api/studies/${id}`, { method: 'DELETE' })).status).toBe(404);
    } finally {
      await redis.quit();
    }
  });
});
