import { describe, expect, it } from 'vitest';
import { loadConfig } from '../api/config.js';
import { blasThreadsFor, followRunningTrials } from '../workers/native/blas-threads.js';
import { loadNativeAddon } from '../workers/native/index.js';

describe('AUTOPEFT_BLAS_THREADS', () => {
  it('is auto by default; explicit numbers are still honoured, nonsense refused', () => {
    expect(loadConfig({}).blasThreads).toBe('auto');
    expect(loadConfig({ AUTOPEFT_BLAS_THREADS: '3' }).blasThreads).toBe(3);
    expect(() => loadConfig({ AUTOPEFT_BLAS_THREADS: 'many' })).toThrow(/AUTOPEFT_BLAS_THREADS/);
  });

  it('auto shares the cores among the running trials, at least one thread each', () => {
    expect(blasThreadsFor(2, 2)).toBe(1);
    expect(blasThreadsFor(2, 1)).toBe(2);
    expect(blasThreadsFor(8, 3)).toBe(2);
    expect(blasThreadsFor(2, 5)).toBe(1);
    expect(blasThreadsFor(4, 0)).toBe(4);
  });

  it('follows the running-trial count as it changes, and keeps the last count when counting fails', async () => {
    const counts = [1, 1, 2, Number.NaN, 2];
    const applied: number[] = [];
    const errors: unknown[] = [];
    let calls = 0;
    const stop = followRunningTrials({
      cores: 2,
      running: async () => {
        const count = counts[Math.min(calls++, counts.length - 1)]!;
        if (Number.isNaN(count)) throw new Error('redis down');
        return count;
      },
      apply: (threads) => applied.push(threads),
      onError: (error) => errors.push(error),
      intervalMs: 5,
    });
    await new Promise((resolve) => setTimeout(resolve, 80));
    stop();
    expect(applied).toEqual([2, 1]);
    expect(errors).toHaveLength(1);
  });

  it('OpenBLAS takes more threads after loading with one, and gives them back', () => {
    const load = loadNativeAddon();
    if (!load.ok) return; // no addon: nothing to size
    expect(load.addon.setBlasThreads(2)).toBe(true);
    expect(load.addon.blasInfo().threads).toBe(2);
    load.addon.setBlasThreads(1);
    expect(load.addon.blasInfo().threads).toBe(1);
  });
});
