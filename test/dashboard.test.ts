import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyView } from '../scheduler/types.js';
import { fmtCount, fmtMetric } from '../dashboard/src/format.js';
import { CHROMIUM, launchBrowser, runBrowserTests } from './helpers/browser.js';
import { startStack } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';

// Outside CI a machine without Debian's chromium skips this file; in CI its absence is a failure.
if (!runBrowserTests) console.warn(`dashboard browser test skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

const artifacts = new URL('./artifacts/', import.meta.url);

describe.runIf(runBrowserTests)('dashboard in a real browser', () => {
  let stack: TestStack;
  let browser: Browser;
  // Worker 1's host lacks the users' model directories (the API and worker 0 have them).
  const emptyModelRoot = mkdtempSync(path.join(tmpdir(), 'autopeft-no-models-'));

  beforeAll(async () => {
    const modelRoot = fileURLToPath(new URL('./fixtures/hf/', import.meta.url));
    const workerEnv = (i: number): Record<string, string> => (i === 1 ? { AUTOPEFT_MODEL_ROOT: emptyModelRoot } : {});
    stack = await startStack(2, { AUTOPEFT_MODEL_ROOT: modelRoot, AUTOPEFT_WORKER_MAX_FAILURES: '1' }, workerEnv);
    browser = await launchBrowser();
    await mkdir(artifacts, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    rmSync(emptyModelRoot, { recursive: true, force: true });
  });

  it("shows the demo study's trials as they appear and finish, without a reload", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${stack.url}/?token=${stack.token}`);
    await page.getByTestId('studies-table').or(page.getByText(/no studies/i)).first().waitFor();
    // A mark on the window survives only while the document is never reloaded.
    await page.evaluate(() => Object.assign(window, { loadedOnce: 'yes' }));

    // The demo study, with training cut down to test size.
    const demo = JSON.parse(await readFile(new URL('../api/demo-study.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const spec = { ...demo, budget: { maxTrials: 4, maxParallel: 2 }, training: { steps: 6, batchSize: 8, learningRate: 0.003, evalEvery: 3, maxSeqLength: 32, trainExamples: 64, devExamples: 32 } };
    const response = await stack.api(`/api/studies`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    const { id } = (await response.json()) as { id: string };

    // The new study appears in the list by itself (live update), then opens on click.
    const row = page.locator(`[data-testid="study-row"][data-study-id="${id}"]`);
    await row.waitFor({ timeout: 15_000 });
    await expect.poll(() => row.textContent()).toContain('demo: LoRA on SpamAssassin');
    await row.click();
    await page.getByTestId('trials-table').waitFor();

    // Trials appear and complete while the page stays loaded.
    const trialRows = page.getByTestId('trial-row');
    await expect.poll(() => trialRows.count(), { timeout: 60_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.locator('[data-testid="trial-row"][data-state="complete"]').count(), { timeout: 180_000, interval: 500 }).toBe(4);
    await expect.poll(() => page.getByTestId('study-state').textContent(), { timeout: 15_000 }).toMatch(/completed/i);
    expect(await trialRows.count()).toBe(4);

    // Each row shows what the API says of that trial.
    const view = (await (await stack.api(`/api/studies/${id}`)).json()) as { trials: { number: number; trainableParams: number; metric: number }[] };
    for (const trial of view.trials) {
      const text = (await page.locator(`[data-testid="trial-row"][data-trial-number="${trial.number}"]`).textContent()) ?? '';
      expect(text.replace(/[,\s\u202f]/g, '')).toContain(String(trial.trainableParams));
      expect(text).toContain(trial.metric.toFixed(3));
    }
    // Six steps teach this model nothing: the page says so in the API's words, and shows the
    // reference point the search used (majority class, largest configuration).
    const full = (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;
    expect(full.warnings?.map((w) => w.code)).toContain('no-learning');
    await expect.poll(() => page.getByTestId('study-warnings').isVisible()).toBe(true);
    const shown = await page.getByTestId('study-warnings').locator('p').allTextContents();
    expect(shown).toEqual(full.warnings!.map((w) => `Warning: ${w.message}. What usually helps: ${w.advice}.`));
    expect(full.reference?.source).toBe('default');
    expect(await page.getByTestId('reference-point').textContent()).toBe(`reference: f1 ${fmtMetric(full.reference!.point[0])} (majority class) · ${fmtCount(full.reference!.point[1])} params (largest)`);
    await expect.poll(() => page.getByTestId('download-best').getAttribute('href')).toBe(`/api/studies/${id}/best`);
    await page.getByTestId('pareto-plot').waitFor();

    expect(await page.evaluate(() => 'loadedOnce' in window)).toBe(true);
    expect(await page.getByTestId('cancel-study').isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
    await page.screenshot({ path: new URL('dashboard-study.png', artifacts).pathname, fullPage: true });

    // A running study can be cancelled from its page.
    const longSpec = { ...spec, name: 'long study', training: { ...spec.training, steps: 5000, evalEvery: 100 } };
    const long = (await (await stack.api(`/api/studies`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(longSpec) })).json()) as { id: string };
    await page.goto(`${stack.url}/#/studies/${long.id}`);
    await expect.poll(() => page.locator('[data-testid="trial-row"][data-state="running"]').count(), { timeout: 60_000 }).toBeGreaterThan(0);
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByTestId('cancel-study').click();
    await expect.poll(() => page.getByTestId('study-state').textContent(), { timeout: 30_000 }).toMatch(/cancelled/i);
    await expect.poll(() => page.getByTestId('cancel-study').isHidden()).toBe(true);
    await page.screenshot({ path: new URL('dashboard-cancelled.png', artifacts).pathname, fullPage: true });

    // A finished study can be deleted from its page; the list no longer has it.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByTestId('delete-study').click();
    await page.waitForURL((url) => url.hash === '#/' || url.hash === '');
    await page.getByTestId('studies-table').waitFor();
    await expect.poll(() => page.locator(`[data-testid="study-row"][data-study-id="${long.id}"]`).count()).toBe(0);
    await expect.poll(() => page.locator(`[data-testid="study-row"][data-study-id="${id}"]`).count()).toBe(1);
    expect((await stack.api(`/api/studies/${long.id}`)).status).toBe(404);
    expect(pageErrors).toEqual([]);
  });

  it('asks for a token when it has none, and works once one is given', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 600 } });
    await page.goto(`${stack.url}/`);
    await page.getByTestId('token-form').waitFor();
    await page.screenshot({ path: new URL('dashboard-token-prompt.png', artifacts).pathname });
    await page.getByTestId('token-input').fill(stack.token);
    await page.getByRole('button', { name: 'Use this token' }).click();
    await page.getByTestId('studies-table').waitFor();
    expect(await page.locator('#live-status').textContent()).toMatch(/Live|Connecting/);
    // The token left the address bar: a ?token= URL is cleaned up too.
    await page.goto(`${stack.url}/?token=${stack.token}#/`);
    await page.getByTestId('studies-table').waitFor();
    expect(page.url()).not.toContain('token=');
  });

  it('names a worker that stopped taking trials, and why, above every page', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 700 } });
    await page.goto(`${stack.url}/?token=${stack.token}`);
    const banner = page.getByTestId('workers-banner');
    expect(await banner.isHidden()).toBe(true);
    // A study on a model only worker 0's host has: worker 1 fails its trial and stops.
    const spec = {
      name: 'own model',
      task: { dataset: 'spam-assassin', baseModel: 'bert', metric: 'accuracy' },
      budget: { maxTrials: 2, maxParallel: 2 },
      training: { steps: 4, batchSize: 8, evalEvery: 2, maxSeqLength: 16, trainExamples: 32, devExamples: 16 },
    };
    const response = await stack.api(`/api/studies`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    expect(response.status).toBe(201);
    await expect.poll(() => banner.isVisible(), { timeout: 60_000, interval: 500 }).toBe(true);
    const text = (await banner.textContent()) ?? '';
    expect(text).toMatch(/A worker stopped taking trials/);
    expect(text).toContain('test-worker-1');
    expect(text).toContain('this worker cannot load base model "bert"');
    await page.screenshot({ path: new URL('dashboard-stopped-worker.png', artifacts).pathname });
  });
});
