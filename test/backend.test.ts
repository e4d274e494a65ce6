import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';
import type { BackendCandidate } from '../workers/backend.js';
import {
  DEFAULT_BACKEND_CANDIDATES,
  NoBackendError,
  currentBackend,
  getTf,
  selectBackend,
} from '../workers/backend.js';

/** Whether a native package is resolvable (not the case in this repository's environment). */
const nativeInstalled = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'].some((name) => {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
});

function candidate(name: string): BackendCandidate {
  const found = DEFAULT_BACKEND_CANDIDATES.find((c) => c.name === name);
  if (!found) throw new Error(`no built-in candidate ${name}`);
  return found;
}

describe('selectBackend', () => {
  // Runs first: nothing has been selected in this process yet.
  it('getTf refuses to hand out tf before a selection', () => {
    expect(currentBackend()).toBeUndefined();
    expect(() => getTf()).toThrow(NoBackendError);
  });

  it('lists the native backends first, then wasm, then cpu', () => {
    expect(DEFAULT_BACKEND_CANDIDATES.map((c) => c.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
  });

  it.skipIf(nativeInstalled)('falls back to wasm here, where the native packages are absent, and logs one line', async () => {
    const log = vi.fn<(message: string) => void>();
    const selected = await selectBackend({ log });
    expect(selected.name).toBe('wasm');
    expect(selected.tf.getBackend()).toBe('wasm');
    expect(selected.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
    for (const skip of selected.skipped) expect(skip.reason).toMatch(/tfjs-node/);
    expect(log).toHaveBeenCalledTimes(1);
    const line = log.mock.calls[0]![0];
    expect(line).toMatch(/^tfjs backend: wasm/);
    expect(line).toContain('tensorflow-gpu (');
    expect(currentBackend()).toBe(selected);
    expect(getTf()).toBe(selected.tf);
    // The backend actually computes.
    const sum = selected.tf.add(selected.tf.tensor1d([1, 2]), 1);
    expect(Array.from(await sum.data())).toEqual([2, 3]);
    sum.dispose();
  });

  it('skips candidates whose loader throws or whose backend cannot start, in order', async () => {
    const tried: string[] = [];
    const candidates: BackendCandidate[] = [
      {
        name: 'exploding',
        tfBackend: 'cpu',
        load: () => {
          tried.push('exploding');
          throw new Error('native library missing');
        },
      },
      {
        name: 'unregistered',
        tfBackend: 'no-such-backend',
        load: async () => {
          tried.push('unregistered');
        },
      },
      { ...candidate('cpu'), load: async (tf) => (tried.push('cpu'), candidate('cpu').load(tf)) },
      { ...candidate('wasm'), load: async (tf) => (tried.push('wasm'), candidate('wasm').load(tf)) },
    ];
    const log = vi.fn<(message: string) => void>();
    const selected = await selectBackend({ candidates, log });
    expect(tried).toEqual(['exploding', 'unregistered', 'cpu']);
    expect(selected.name).toBe('cpu');
    expect(selected.skipped).toEqual([
      { name: 'exploding', reason: 'native library missing' },
      { name: 'unregistered', reason: expect.stringMatching(/no-such-backend/) },
    ]);
    expect(log.mock.calls[0]![0]).toMatch(/^tfjs backend: cpu;.*exploding \(native library missing\)/);
  });

  it('honours a preferred backend (forced cpu), then returns to wasm', async () => {
    const cpu = await selectBackend({ prefer: 'cpu', log: () => {} });
    expect(cpu.name).toBe('cpu');
    expect(getTf().getBackend()).toBe('cpu');
    const product = cpu.tf.matMul(cpu.tf.tensor2d([[1, 2]]), cpu.tf.tensor2d([[3], [4]]));
    expect(Array.from(await product.data())).toEqual([11]);
    product.dispose();

    const wasm = await selectBackend({ prefer: 'wasm', log: () => {} });
    expect(wasm.name).toBe('wasm');
    expect(wasm.skipped).toEqual([]);
  });

  it.skipIf(nativeInstalled)('falls back when the preferred backend fails', async () => {
    const selected = await selectBackend({ prefer: 'tensorflow', log: () => {} });
    expect(selected.skipped[0]?.name).toBe('tensorflow');
    expect(selected.name).toBe('wasm');
  });

  it('rejects an unknown preferred backend by name', async () => {
    await expect(selectBackend({ prefer: 'webgpu', log: () => {} })).rejects.toThrow(/Unknown backend "webgpu".*wasm, cpu/);
  });

  it('fails with every reason when nothing loads', async () => {
    const broken: BackendCandidate[] = [
      { name: 'a', tfBackend: 'cpu', load: () => Promise.reject(new Error('first reason')) },
      { name: 'b', tfBackend: 'cpu', load: () => Promise.reject(new Error('second reason')) },
    ];
    await expect(selectBackend({ candidates: broken, log: () => {} })).rejects.toThrow(/a: first reason; b: second reason/);
  });
});
