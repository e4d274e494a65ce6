/**
 * The study page's trial loader (dashboard/src/trial-loader.ts) against the real change log:
 * a study in Redis written through StudyStore, its trials saved again and again so the change
 * sequence has gaps and a different order, read in parallel ranges with the store's own page
 * read (what `GET /api/studies/:id/trials?after=&limit=` answers).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadTrials } from '../dashboard/src/trial-loader.js';
import { StudyStore } from '../scheduler/store.js';
import { deleteUnder, testRedis, uniquePrefix } from './helpers/redis.js';
import { syntheticTrial, writeSyntheticStudy } from './helpers/synthetic-search-study.js';

describe('trial loader', () => {
  const redis = testRedis();
  const prefix = uniquePrefix();
  const store = new StudyStore(redis, prefix);

  afterAll(async () => {
    await deleteUnder(redis, prefix);
    await redis.quit();
  });

  it('reads every trial once, at its latest version, however the changes are spread', async () => {
    const count = 2400;
    const id = await writeSyntheticStudy(store, count, 'loader');
    // Save trials again, several times (as a running trial's reports are), all but the first
    // 600: the log starts dense (its first page says one trial per sequence number) and goes on
    // with long gaps, so the ranges guessed from the first page end long before the log does,
    // and the order by change differs from the order by number.
    const latest = new Map<number, number>();
    for (let round = 1; round <= 6; round++) {
      const again = Array.from({ length: count }, (_, n) => n).filter((n) => n >= 600 && (n < 1200 || (n * 7919) % (round + 2) === 0));
      for (let i = 0; i < again.length; i += 300) {
        await Promise.all(again.slice(i, i + 300).map((n) => store.saveTrial(id, { ...syntheticTrial(n, count), attempts: round + 1 })));
      }
      for (const n of again) latest.set(n, round + 1);
    }
    const view = (await store.getStudyView(id, 200))!;
    expect(view.trialsComplete).toBe(false);
    let requests = 0;
    const loaded = await loadTrials(
      { trials: view.trials, cursor: view.trialsCursor, complete: view.trialsComplete, total: view.summary.trialsTotal },
      (after, limit) => {
        requests++;
        return store.trialsChangedAfter(id, after, limit);
      },
      500,
    );
    const stored = await store.getTrials(id);
    expect(stored.length).toBe(count);
    expect(loaded.trials.size).toBe(count);
    for (const t of stored) expect(loaded.trials.get(t.number)).toEqual(t);
    expect([...loaded.trials.values()].filter((t) => t.attempts === (latest.get(t.number) ?? 1)).length).toBe(count);
    // The cursor continues after the last change: nothing more to read.
    const rest = await store.trialsChangedAfter(id, loaded.cursor, 500);
    expect(rest.trials).toEqual([]);
    // Ranges (about 2,200 trials left in pages of 500, so 5) plus the pages a sparse or dense range needs beyond one.
    expect(loaded.requests).toBe(requests);
    expect(requests).toBeGreaterThanOrEqual(5);
    expect(requests).toBeLessThan(16);
  });

  it('makes no request when the first page held the whole study', async () => {
    const id = await writeSyntheticStudy(store, 30, 'small');
    const view = (await store.getStudyView(id, 200))!;
    const loaded = await loadTrials({ trials: view.trials, cursor: view.trialsCursor, complete: view.trialsComplete, total: view.summary.trialsTotal }, () => Promise.reject(new Error('no request expected')), 500);
    expect(loaded.requests).toBe(0);
    expect([...loaded.trials.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, n) => n));
  });
});
