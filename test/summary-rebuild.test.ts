/** Studies stored before summaries existed get theirs rebuilt from their trials, equal to one written live. */
import { afterAll, describe, expect, it } from 'vitest';
import { StudyStore } from '../scheduler/store.js';
import { deleteUnder, testRedis, uniquePrefix } from './helpers/redis.js';
import { writeSyntheticStudy } from './helpers/synthetic-study.js';

describe('summary rebuild', () => {
  const redis = testRedis();
  const prefix = uniquePrefix();
  const store = new StudyStore(redis, prefix);

  afterAll(async () => {
    await deleteUnder(redis, prefix);
    await redis.quit();
  });

  it('rebuilds counts, best trial, Pareto front and change cursor of a study that has none, and only of it', async () => {
    const old = await writeSyntheticStudy(redis, prefix, { trials: 300, seed: 4 });
    const current = await writeSyntheticStudy(redis, prefix, { trials: 20, seed: 5 });
    const expected = await store.getStudyView(old.id, 0);
    const expectedFront = await redis.hgetall(store.frontKey(old.id));
    // As a study stored by the code before summaries: trials only.
    await redis.del(store.summaryKey(old.id), store.frontKey(old.id), store.changesKey(old.id));
    expect((await store.getStudyView(old.id, 0))?.summary.trialsTotal).toBe(0);

    expect(await store.rebuildMissingSummaries()).toEqual([old.id]);
    const rebuilt = await store.getStudyView(old.id, 0);
    const { updatedAt: _a, ...want } = expected!.summary;
    const { updatedAt: _b, ...got } = rebuilt!.summary;
    expect(got).toEqual(want);
    expect(got.trialsTotal).toBe(300);
    expect(await redis.hgetall(store.frontKey(old.id))).toEqual(expectedFront);
    expect(await redis.zcard(store.changesKey(old.id))).toBe(300);
    expect((await store.getTrials(old.id)).length).toBe(300);
    // Nothing left to do the second time; the other study was never touched.
    expect(await store.rebuildMissingSummaries()).toEqual([]);
    expect((await store.getStudyView(current.id, 0))?.summary.trialsTotal).toBe(20);

    // A rebuild cut short (its mark left behind) starts over.
    await redis.hset(store.summaryKey(old.id), 'rebuilding', '1', 'count:complete', '7');
    expect(await store.rebuildMissingSummaries()).toEqual([old.id]);
    const again = await store.getStudyView(old.id, 0);
    expect(again!.summary.trialsByState).toEqual(want.trialsByState);
  });
});
