/**
 * The read routes answer from a per-version cache: the answers equal the store's own records,
 * change as soon as the data does (a trial write, a study write, a new study), and a client that
 * already has an answer gets 304 until something changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StudyStore } from '../scheduler/store.js';
import type { StudyPage, StudyView, TrialPage, TrialRecord } from '../scheduler/types.js';
import { startInProcessApp, type InProcessApp } from './helpers/app.js';
import { writeSyntheticStudy } from './helpers/synthetic-study.js';

describe('cached study reads', () => {
  let app: InProcessApp;
  let store: StudyStore;

  beforeAll(async () => {
    app = await startInProcessApp('reader', 'admin');
    store = new StudyStore(app.redis, app.prefix);
  });
  afterAll(async () => app?.close());

  const get = async (path: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${app.url}${path}`, { headers: { ...app.auth, ...headers } });
  const json = async <T>(path: string): Promise<T> => {
    const response = await get(path);
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  };

  it('answer what the store holds, and change with the next trial or study write', async () => {
    const study = await writeSyntheticStudy(app.redis, app.prefix, { trials: 150, seed: 11 });
    const view = await json<StudyView>(`/api/studies/${study.id}`);
    // The same answer the store builds from parsed records, trial for trial.
    expect(view).toEqual(JSON.parse(JSON.stringify(await store.getStudyView(study.id, 100))));
    expect(view.trials).toHaveLength(100);
    expect(view.trials.map((t) => t.number)).toEqual([...view.trials.map((t) => t.number)].sort((a, b) => a - b));
    expect(await json<TrialPage>(`/api/studies/${study.id}/trials?after=0&limit=40`)).toEqual(JSON.parse(JSON.stringify(await store.trialsChangedAfter(study.id, 0, 40))));
    // Served twice from the cache: identical.
    expect(await json<StudyView>(`/api/studies/${study.id}`)).toEqual(view);

    // A trial changes: the view, the incremental read and the list see it at once.
    const trial = (await store.getTrial(study.id, 3))!;
    const changed: TrialRecord = { ...trial, state: 'complete', metric: 0.999, metrics: { f1: 0.999 }, trainableParams: 10 };
    await store.saveTrial(study.id, changed);
    const after = await json<StudyView>(`/api/studies/${study.id}`);
    expect(after.bestTrial).toBe(3);
    expect(after.summary.bestMetric).toBe(0.999);
    expect(after.summary.trialsTotal).toBe(150);
    // Its change moved it to the end of the change log: past the first page, at the end of the last.
    const page = await json<TrialPage>(`/api/studies/${study.id}/trials?after=${view.trialsCursor}`);
    expect(page.trials.at(-1)).toEqual(changed);
    expect(page.cursor).toBe(after.summary.trialsTotal + 1);
    const list = await json<StudyPage>('/api/studies');
    expect(list.studies.find((s) => s.id === study.id)?.bestTrial).toBe(3);

    // A study write (its state) shows too, in the view and the list.
    const record = (await store.getStudy(study.id))!;
    await store.saveStudy({ ...record, state: 'cancelled' });
    expect((await json<StudyView>(`/api/studies/${study.id}`)).state).toBe('cancelled');
    expect((await json<StudyPage>('/api/studies')).studies.find((s) => s.id === study.id)?.state).toBe('cancelled');
  });

  it('list a new study at once and forget a deleted one', async () => {
    const first = await json<StudyPage>('/api/studies');
    const study = await writeSyntheticStudy(app.redis, app.prefix, { trials: 5, seed: 12 });
    const second = await json<StudyPage>('/api/studies');
    expect(second.studies.map((s) => s.id)).toContain(study.id);
    expect(second.studies).toHaveLength(first.studies.length + 1);
    await store.saveStudy({ ...(await store.getStudy(study.id))!, state: 'completed' });
    expect(await store.deleteStudy(study.id)).toBe(true);
    expect((await json<StudyPage>('/api/studies')).studies.map((s) => s.id)).not.toContain(study.id);
    expect((await get(`/api/studies/${study.id}`)).status).toBe(404);
    expect((await get(`/api/studies/${study.id}/trials?after=0`)).status).toBe(404);
  });

  it('answer 304 to a client that has the current answer, and 200 once it changed', async () => {
    const study = await writeSyntheticStudy(app.redis, app.prefix, { trials: 20, seed: 13 });
    for (const path of [`/api/studies/${study.id}`, `/api/studies/${study.id}/trials?after=0`, '/api/studies']) {
      const first = await get(path);
      const etag = first.headers.get('etag');
      expect(etag, path).toMatch(/^W\/"/);
      // max-age=0, as a browser revalidates (fetch would add no-cache, which bypasses the tag).
      const revalidate = { 'if-none-match': etag!, 'cache-control': 'max-age=0' };
      expect((await get(path, revalidate)).status, path).toBe(304);
      const trial = (await store.getTrial(study.id, 0))!;
      await store.saveTrial(study.id, { ...trial, attempts: trial.attempts + 1 });
      const again = await get(path, revalidate);
      expect(again.status, path).toBe(200);
      expect(again.headers.get('etag'), path).not.toBe(etag);
    }
  });
});
