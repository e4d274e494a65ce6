import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Tf } from '../workers/backend.js';
import { selectBackend } from '../workers/backend.js';
import type { NativeAddon, NativeKernelName } from '../workers/native/index.js';
import {
  DEFAULT_NATIVE_KERNELS,
  activeNativeKernels,
  enableNativeKernels,
  loadNativeAddon,
  registerNativeKernels,
  unregisterNativeKernels,
} from '../workers/native/index.js';
import {
  FUSED_KERNEL,
  FUSED_KERNEL_NAMES,
  attention,
  dropoutMask,
  fusedProjection,
  gelu,
  globalNorm,
  layerNorm,
  projectionFusable,
  seededDropout,
} from '../workers/model/fused-ops.js';
import { batchPairs } from '../workers/native/kernels.js';
import { AdamW } from '../workers/train/adamw.js';

/** The fused kernels of workers/model/fused-ops.ts (forward and gradient). */
const FUSED_NAMES: readonly NativeKernelName[] = FUSED_KERNEL_NAMES;

const load = loadNativeAddon();
const addon: NativeAddon | undefined = load.ok ? load.addon : undefined;
// CI installs libopenblas-dev, so there the addon must exist: a silent skip would hide a broken build.
const requireNative = process.env.CI === 'true';

/** A seeded stream of floats in [-1, 1) (xorshift). */
function rng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 31 - 1;
  };
}

function randomInt(next: () => number, low: number, high: number): number {
  return low + Math.floor(((next() + 1) / 2) * (high - low + 1));
}

function randomTensor(tf: Tf, next: () => number, shape: number[], scale = 1): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => next() * scale), shape);
}

/** max |actual - expected| <= tol * max |expected| (normwise relative error). */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 1e-5): void {
  expect(actual.length, what).toBe(expected.length);
  let maxErr = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(actual[i]! - expected[i]!));
    maxRef = Math.max(maxRef, Math.abs(expected[i]!));
  }
  if (maxErr > tol * Math.max(maxRef, 1e-30)) {
    expect.fail(`${what}: max error ${maxErr} exceeds ${tol} x ${maxRef}`);
  }
}

/** The same computation with the native kernels and with the wasm backend's own. */
function nativeAndWasm(tf: Tf, names: readonly NativeKernelName[], f: () => Tensor): { native: Float32Array; wasm: Float32Array; shape: number[] } {
  registerNativeKernels(tf, addon!, names);
  const y1 = f();
  const native = y1.dataSync() as Float32Array;
  const shape = y1.shape;
  y1.dispose();
  unregisterNativeKernels(tf, names);
  const y2 = f();
  const wasm = y2.dataSync() as Float32Array;
  expect(y2.shape).toEqual(shape);
  y2.dispose();
  return { native, wasm, shape };
}

/** Float64 reference of a broadcast batched matmul. */
function referenceMatMul(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], ta: boolean, tb: boolean): Float64Array {
  const ar = aShape.length;
  const br = bShape.length;
  const m = ta ? aShape[ar - 1]! : aShape[ar - 2]!;
  const k = ta ? aShape[ar - 2]! : aShape[ar - 1]!;
  const n = tb ? bShape[br - 2]! : bShape[br - 1]!;
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const outBatch = Array.from({ length: rank }, (_, d) => {
    const da = aBatch[d - (rank - aBatch.length)] ?? 1;
    const db = bBatch[d - (rank - bBatch.length)] ?? 1;
    return Math.max(da, db);
  });
  const pairs = batchPairs(outBatch, aBatch, bBatch);
  const count = pairs.length / 2;
  const out = new Float64Array(count * m * n);
  for (let p = 0; p < count; p++) {
    const ao = pairs[2 * p]! * m * k;
    const bo = pairs[2 * p + 1]! * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let l = 0; l < k; l++) {
          const av = a[ao + (ta ? l * m + i : i * k + l)]!;
          const bv = b[bo + (tb ? j * k + l : l * n + j)]!;
          sum += av * bv;
        }
        out[p * m * n + i * n + j] = sum;
      }
    }
  }
  return out;
}

/** Float64 layer norm of a rows x cols matrix and its gradients for the loss sum(upstream * y). */
function referenceLayerNorm(
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  upstream: Float32Array,
  rows: number,
  cols: number,
  eps: number,
): { y: Float64Array; dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const y = new Float64Array(rows * cols);
  const dx = new Float64Array(rows * cols);
  const dgamma = new Float64Array(cols);
  const dbeta = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
    const mean = row.reduce((a, b) => a + b, 0) / cols;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / cols;
    const rstd = 1 / Math.sqrt(variance + eps);
    const xhat = row.map((v) => (v - mean) * rstd);
    const g = xhat.map((_, j) => upstream[r * cols + j]! * gamma[j]!);
    const meanG = g.reduce((a, b) => a + b, 0) / cols;
    const meanGx = g.reduce((a, b, j) => a + b * xhat[j]!, 0) / cols;
    for (let j = 0; j < cols; j++) {
      y[r * cols + j] = xhat[j]! * gamma[j]! + beta[j]!;
      dx[r * cols + j] = rstd * (g[j]! - meanG - xhat[j]! * meanGx);
      dgamma[j] = dgamma[j]! + upstream[r * cols + j]! * xhat[j]!;
      dbeta[j] = dbeta[j]! + upstream[r * cols + j]!;
    }
  }
  return { y, dx, dgamma, dbeta };
}

describe('batchPairs', () => {
  it('broadcasts batch dimensions numpy-style, aligned from the right', () => {
    expect(Array.from(batchPairs([2, 3], [2, 1], [3]))).toEqual([0, 0, 0, 1, 0, 2, 1, 0, 1, 1, 1, 2]);
    expect(Array.from(batchPairs([2], [2], []))).toEqual([0, 0, 1, 0]);
    expect(Array.from(batchPairs([], [], []))).toEqual([0, 0]);
  });
});

describe('loadNativeAddon', () => {
  it('reports a missing addon with the way to enable it, instead of throwing', () => {
    const missing = loadNativeAddon({ addonPath: '/nonexistent/autopeft_native.node' });
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.reason).toMatch(/apt-get install libopenblas-dev.*npm run build:native/);
  });

  it('rejects an invalid thread count by name', () => {
    expect(() => loadNativeAddon({ blasThreads: 0 })).toThrow(/blasThreads/);
  });

  it.runIf(requireNative)('is built where CI installed OpenBLAS', () => {
    expect(load.ok ? 'loaded' : load.reason).toBe('loaded');
  });
});

describe.skipIf(!addon)('native kernels on the wasm backend', () => {
  let tf: Tf;
  beforeAll(async () => {
    tf = (await selectBackend({ prefer: 'wasm', log: () => {} })).tf;
  });
  afterAll(() => {
    unregisterNativeKernels(tf);
  });

  it('runs one BLAS thread by default', () => {
    expect(addon!.blasInfo().threads).toBe(1);
    expect(addon!.blasInfo().library).toMatch(/\S/);
  });

  it('refuses heap ranges outside the buffer', () => {
    const heap = new ArrayBuffer(64);
    expect(() => addon!.sgemm(heap, false, false, 4, 4, 4, 0, 0, 32, new Uint32Array([0, 0]))).toThrow(RangeError);
    expect(() => addon!.softmax(heap, 0, 2, 1, 4)).toThrow(/do not fit|floats/);
    expect(() => addon!.unary(heap, 99, 0, 0, 1)).toThrow(/unknown/);
    expect(() => addon!.dropout(heap, 0, 32, 16, 1, 0.1)).toThrow(/do not fit/);
    expect(() => addon!.dropout(heap, 0, 0, 4, 1, 1)).toThrow(/rate/);
    expect(() => addon!.gelu(heap, 4, 0, 16)).toThrow(/do not fit/);
    expect(() => addon!.layerNorm(heap, 0, 0, 0, 0, 3, 8, 1e-5)).toThrow(/do not fit/);
    expect(() => addon!.layerNormGrad(heap, 0, 0, 0, 0, 0, 0, 1, 0, 1e-5)).toThrow(/column/);
    expect(() => addon!.gatherRows(heap, 0, 2, 4, 2, 4, 0)).toThrow(/misaligned|do not fit/);
  });

  it('GatherV2 equals the wasm kernel (embedding lookups, any index shape) and names an index out of range', () => {
    const next = rng(31);
    for (const [rows, cols, indexShape] of [
      [7, 5, [4]],
      [1, 1, [3]],
      [9, 3, [2, 5]],
      [50, 16, [1, 1]],
    ] as [number, number, number[]][]) {
      const table = randomTensor(tf, next, [rows, cols]);
      const count = indexShape.reduce((a, b) => a * b, 1);
      const indices = tf.tensor(Int32Array.from({ length: count }, () => randomInt(next, 0, rows - 1)), indexShape, 'int32');
      const { native, wasm, shape } = nativeAndWasm(tf, ['GatherV2'], () => tf.gather(table, indices));
      expect(shape).toEqual([...indexShape, cols]);
      expect(native).toEqual(wasm);
      tf.dispose([table, indices]);
    }
    registerNativeKernels(tf, addon!, ['GatherV2']);
    const table = tf.zeros([4, 2]);
    const bad = tf.tensor1d([1, 4], 'int32');
    const tensors = tf.memory().numTensors;
    expect(() => tf.gather(table, bad)).toThrow(/index 4 at position 1 is outside \[0, 3\]/);
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose([table, bad]);
  });

  it('fused layer norm, GELU and dropout equal the composed ops, forward and backward', () => {
    const next = rng(37);
    // (Not 2 columns: the normalised pair is always (-1, 1), so dx is 0 up to rounding.)
    for (const [rows, cols] of [
      [1, 3],
      [3, 7],
      [17, 128],
      [64, 33],
    ] as [number, number][]) {
      const x = randomTensor(tf, next, [rows, cols], 3);
      const gamma = randomTensor(tf, next, [cols]);
      const beta = randomTensor(tf, next, [cols]);
      const upstream = randomTensor(tf, next, [rows, cols]);
      // Value and gradients of sum(upstream * f(x)) with respect to every input.
      const lnAll = (): Tensor => {
        const f = (a: Tensor, g: Tensor, b: Tensor): Tensor => tf.sum(tf.mul(upstream, layerNorm(tf, a as never, g as never, b as never, 1e-12)));
        const [gx, gg, gb] = tf.grads(f)([x, gamma, beta]);
        return tf.concat([layerNorm(tf, x as never, gamma as never, beta as never, 1e-12).reshape([-1]), gx!.reshape([-1]), gg!, gb!]);
      };
      const ln = nativeAndWasm(tf, FUSED_NAMES, lnAll);
      const reference = referenceLayerNorm(
        x.dataSync() as Float32Array,
        gamma.dataSync() as Float32Array,
        beta.dataSync() as Float32Array,
        upstream.dataSync() as Float32Array,
        rows,
        cols,
        1e-12,
      );
      // Each part (y, dx, dgamma, dbeta) against float64, and against the composed ops.
      let offset = 0;
      for (const [part, expected] of Object.entries(reference)) {
        const slice = (values: Float32Array): Float32Array => values.subarray(offset, offset + expected.length);
        expectClose(slice(ln.native), expected, `layer norm ${part} [${rows},${cols}] (float64 reference)`, 1e-5);
        expectClose(slice(ln.native), slice(ln.wasm), `layer norm ${part} [${rows},${cols}] (composed ops)`, 1e-4);
        offset += expected.length;
      }

      const geluAll = (): Tensor => {
        const [gx] = tf.grads((a: Tensor) => tf.sum(tf.mul(upstream, gelu(tf, a))))([x]);
        return tf.concat([gelu(tf, x).reshape([-1]), gx!.reshape([-1])]);
      };
      const g = nativeAndWasm(tf, FUSED_NAMES, geluAll);
      // Elementwise: GELU is tiny for negative inputs, where a normwise bound would hide errors.
      for (let i = 0; i < g.wasm.length; i++) {
        expect(Math.abs(g.native[i]! - g.wasm[i]!), `gelu [${rows},${cols}] at ${i}`).toBeLessThanOrEqual(2e-6 * Math.abs(g.wasm[i]!) + 1e-7);
      }

      const dropAll = (): Tensor => {
        const [gx] = tf.grads((a: Tensor) => tf.sum(tf.mul(upstream, seededDropout(tf, a, 0.25, 12345))))([x]);
        return tf.concat([seededDropout(tf, x, 0.25, 12345).reshape([-1]), gx!.reshape([-1])]);
      };
      const d = nativeAndWasm(tf, FUSED_NAMES, dropAll);
      // The native mask is the JavaScript mask, bit for bit.
      expect(d.native).toEqual(d.wasm);
      tf.dispose([x, gamma, beta, upstream]);
    }
    // One column: the normalised value is 0, so the output is beta and no gradient reaches x.
    registerNativeKernels(tf, addon!, FUSED_NAMES);
    const one = tf.tensor2d([[3], [-2]]);
    const [dx] = tf.grads((a: Tensor) => tf.sum(layerNorm(tf, a as never, tf.ones([1]) as never, tf.fill([1], 0.5) as never, 1e-12)))([one]);
    expect(Array.from(layerNorm(tf, one, tf.ones([1]) as never, tf.fill([1], 0.5) as never, 1e-12).dataSync())).toEqual([0.5, 0.5]);
    expect(Array.from(dx!.dataSync())).toEqual([0, 0]);
    // A mask with about the asked-for rate, scaled to keep the expectation.
    const mask = dropoutMask(100_000, 0.1, 99);
    const dropped = mask.filter((v) => v === 0).length / mask.length;
    expect(dropped).toBeGreaterThan(0.095);
    expect(dropped).toBeLessThan(0.105);
    expect(mask.find((v) => v !== 0)).toBeCloseTo(1 / 0.9, 6);
  });

  it('fused AdamW steps equal the composed ones: clipping, decay of matrices only, bias correction', () => {
    // Five steps of a small regression from the same seeded start, on one path.
    const train = (): Float32Array => {
      const next = rng(41);
      const w = tf.variable(randomTensor(tf, next, [7, 5], 0.5));
      const b = tf.variable(randomTensor(tf, next, [5], 0.5));
      const x = randomTensor(tf, next, [9, 7], 2);
      const optimizer = new AdamW(tf, [w, b], { weightDecay: 0.1, maxGradNorm: 0.5 });
      for (let step = 0; step < 5; step++) {
        optimizer.minimize(() => tf.sum(tf.square(tf.add(tf.matMul(x, w), b))) as never, 0.05, false)?.dispose();
      }
      const result = tf.concat([w.reshape([-1]), b]);
      const values = result.dataSync() as Float32Array;
      optimizer.dispose();
      tf.dispose([w, b, x, result]);
      return values;
    };
    const { native, wasm } = nativeAndWasm(tf, [FUSED_KERNEL.adamw], () => tf.tensor(train()));
    // Normwise: five steps feed rounding differences (contracted multiply-adds) back through
    // the gradients, so a parameter near 0 carries the error of the parameters' scale.
    expectClose(native, wasm, 'parameters after 5 AdamW steps', 1e-5);
    // The parameters moved: the optimiser did something on both paths.
    const start = (() => {
      const next = rng(41);
      const w = randomTensor(tf, next, [7, 5], 0.5);
      const values = w.dataSync();
      w.dispose();
      return values;
    })();
    expect(Math.abs(native[0]! - start[0]!)).toBeGreaterThan(1e-3);
  });

  it('fused attention equals the composed ops, forward and backward: odd and size-1 shapes, masks, dropout, more keys than queries', () => {
    const next = rng(43);
    // batch, heads, query length, key length, head size, dropout rate
    for (const [batch, heads, seqQ, seqK, headSize, rate] of [
      [1, 1, 1, 1, 1, 0],
      [1, 1, 1, 1, 1, 0.5],
      [2, 3, 5, 5, 3, 0.1],
      [3, 2, 4, 7, 5, 0.25],
      [1, 4, 33, 33, 8, 0],
      [2, 4, 16, 16, 32, 0.1],
    ] as [number, number, number, number, number, number][]) {
      const d = heads * headSize;
      const q = randomTensor(tf, next, [batch * seqQ, d], 2);
      const k = randomTensor(tf, next, [batch * seqK, d], 2);
      const v = randomTensor(tf, next, [batch * seqK, d]);
      // Padding keys at the end of every example but the first key.
      const maskValues = Float32Array.from({ length: batch * seqK }, (_, i) => (i % seqK > 0 && (i % seqK) + (i % 3) >= seqK ? -1e9 : 0));
      const mask = tf.tensor(maskValues, [batch, 1, 1, seqK]);
      const upstream = randomTensor(tf, next, [batch * seqQ, d]);
      const settings = { batch, heads, scale: 1 / Math.sqrt(headSize), rate, seed: 777 + seqK };
      const all = (): Tensor => {
        const f = (a: Tensor, b: Tensor, c: Tensor): Tensor => tf.sum(tf.mul(upstream, attention(tf, a as never, b as never, c as never, mask, settings)));
        const [gq, gk, gv] = tf.grads(f)([q, k, v]);
        return tf.concat([attention(tf, q as never, k as never, v as never, mask, settings).reshape([-1]), gq!.reshape([-1]), gk!.reshape([-1]), gv!.reshape([-1])]);
      };
      const result = nativeAndWasm(tf, FUSED_NAMES, all);
      const what = `attention b${batch} h${heads} q${seqQ} k${seqK} hs${headSize} rate ${rate}`;
      const sizes = { context: batch * seqQ * d, dq: batch * seqQ * d, dk: batch * seqK * d, dv: batch * seqK * d };
      let offset = 0;
      for (const [part, size] of Object.entries(sizes)) {
        expectClose(result.native.subarray(offset, offset + size), result.wasm.subarray(offset, offset + size), `${what}: ${part}`, 1e-5);
        offset += size;
      }
      tf.dispose([q, k, v, mask, upstream]);
    }
    // Dropout happens: with rate 0.5 some context differs from the rate-0 one.
    registerNativeKernels(tf, addon!, FUSED_NAMES);
    const q = tf.ones([8, 4]);
    const kv = randomTensor(tf, next, [8, 4]);
    const mask = tf.zeros([1, 8]);
    const plain = attention(tf, q as never, kv as never, kv as never, mask, { batch: 1, heads: 2, scale: 0.5, rate: 0, seed: 1 }).dataSync();
    const dropped = attention(tf, q as never, kv as never, kv as never, mask, { batch: 1, heads: 2, scale: 0.5, rate: 0.5, seed: 1 }).dataSync();
    expect(Array.from(dropped)).not.toEqual(Array.from(plain));
    tf.dispose([q, kv, mask]);
  });

  it('fused projection (with and without a LoRA update) equals the composed ops, forward and every gradient: odd and size-1 shapes', () => {
    const next = rng(53);
    // rows, dIn, dOut, rank (0: no update), scale
    for (const [rows, dIn, dOut, rank, scale] of [
      [1, 1, 1, 0, 0],
      [1, 1, 1, 1, 2],
      [7, 5, 3, 0, 0],
      [7, 5, 3, 2, 0.5],
      [33, 16, 48, 8, 2],
      [64, 128, 128, 1, 16],
    ] as [number, number, number, number, number][]) {
      const x = randomTensor(tf, next, [rows, dIn]);
      const kernel = randomTensor(tf, next, [dIn, dOut]);
      const bias = randomTensor(tf, next, [dOut]);
      const input = randomTensor(tf, next, [rows, dIn]);
      const a = randomTensor(tf, next, [dIn, Math.max(rank, 1)]);
      const b = randomTensor(tf, next, [Math.max(rank, 1), dOut]);
      const upstream = randomTensor(tf, next, [rows, dOut]);
      const project = (...t: Tensor[]): Tensor => {
        const [x2, k2, b2, i2, a2, bb2] = t as [Tensor2D, Tensor2D, Tensor1D, Tensor2D, Tensor2D, Tensor2D];
        const update = rank > 0 ? { input: i2, a: a2, b: bb2, scale } : undefined;
        if (projectionFusable(tf, update !== undefined)) return fusedProjection(tf, x2, k2, b2, update);
        const base = tf.add(tf.matMul(x2, k2), b2);
        return update ? tf.add(base, tf.mul(tf.matMul(tf.matMul(i2, a2), bb2), scale)) : base;
      };
      const inputs = [x, kernel, bias, input, a, b];
      // Without an update only x, the kernel and the bias take part.
      const used = rank > 0 ? inputs : inputs.slice(0, 3);
      const all = (): Tensor => {
        const grads = tf.grads((...t: Tensor[]) => tf.sum(tf.mul(upstream, project(...t, ...inputs.slice(t.length)))))(used);
        return tf.concat([project(...inputs).reshape([-1]), ...grads.map((g) => g.reshape([-1]))]);
      };
      const result = nativeAndWasm(tf, FUSED_NAMES, all);
      const what = `projection rows ${rows} ${dIn} -> ${dOut} rank ${rank}`;
      const sizes: Record<string, number> = { y: rows * dOut, dx: rows * dIn, dkernel: dIn * dOut, dbias: dOut };
      if (rank > 0) Object.assign(sizes, { dinput: rows * dIn, da: dIn * rank, db: rank * dOut });
      let offset = 0;
      for (const [part, size] of Object.entries(sizes)) {
        expectClose(result.native.subarray(offset, offset + size), result.wasm.subarray(offset, offset + size), `${what}: ${part}`, 1e-5);
        offset += size;
      }
      expect(offset).toBe(result.native.length);
      tf.dispose([...inputs, upstream]);
    }
  });

  it('fused projection forms no gradient of a frozen kernel: two products per step, not three', async () => {
    registerNativeKernels(tf, addon!, DEFAULT_NATIVE_KERNELS);
    const next = rng(59);
    const x = tf.variable(randomTensor(tf, next, [6, 4]));
    const kernel = randomTensor(tf, next, [4, 5]) as Tensor2D;
    const bias = randomTensor(tf, next, [5]) as Tensor1D;
    const info = await tf.profile(() => tf.grads((v: Tensor) => tf.sum(fusedProjection(tf, v as Tensor2D, kernel, bias)))([x]));
    const names = info.kernels.map((k) => k.name);
    expect(names.filter((n) => n === FUSED_KERNEL.projection)).toHaveLength(1);
    // The input gradient dy kernel^T is the only product of the backward pass.
    expect(names.filter((n) => n === 'BatchMatMul')).toHaveLength(1);
    tf.dispose([x, kernel, bias]);
  });

  it('fused global norm equals the composed sum of squares over any number of tensors, empty ones included', () => {
    const next = rng(47);
    for (const shapes of [[[1]], [[3, 5], [129], [0]], [[64, 64], [7], [1, 1], [300]]] as number[][][]) {
      const tensors = shapes.map((shape) => randomTensor(tf, next, shape, 3));
      const { native, wasm } = nativeAndWasm(tf, FUSED_NAMES, () => globalNorm(tf, tensors));
      expect(native.length).toBe(1);
      expectClose(native, wasm, `global norm of ${JSON.stringify(shapes)}`, 1e-6);
      const expected = Math.sqrt(tensors.reduce((sum, t) => sum + Array.from(t.dataSync()).reduce((a, x) => a + x * x, 0), 0));
      expect(native[0]).toBeCloseTo(expected, 3);
      tf.dispose(tensors);
    }
  });

  it('fused kernels run only while installed; without them the same functions compose tfjs ops', () => {
    registerNativeKernels(tf, addon!, FUSED_NAMES);
    const x = tf.ones([2, 4]);
    const kernelsOf = (f: () => Tensor): Promise<string[]> => tf.profile(() => f()).then((info) => info.kernels.map((k) => k.name));
    return (async () => {
      const mask = tf.zeros([2, 1]);
      const attend = (): Tensor => attention(tf, x as never, x as never, x as never, mask, { batch: 2, heads: 2, scale: 1, rate: 0.1, seed: 3 });
      expect(await kernelsOf(() => gelu(tf, x))).toEqual([FUSED_KERNEL.gelu]);
      expect(await kernelsOf(attend)).toEqual([FUSED_KERNEL.attention]);
      expect(await kernelsOf(() => globalNorm(tf, [x, mask]))).toEqual([FUSED_KERNEL.sumSquares, 'Sqrt']);
      unregisterNativeKernels(tf, FUSED_NAMES);
      expect(await kernelsOf(() => gelu(tf, x))).toContain('Erf');
      expect(await kernelsOf(attend)).toEqual(expect.arrayContaining(['Softmax', 'Transpose']));
      x.dispose();
      mask.dispose();
    })();
  });

  it('BatchMatMul equals the wasm kernel and a float64 reference: ranks 2-4, every transpose, odd and size-1 dims', () => {
    const next = rng(7);
    for (let trial = 0; trial < 60; trial++) {
      const ta = trial % 2 === 1;
      const tb = Math.floor(trial / 2) % 2 === 1;
      const m = randomInt(next, 1, 9);
      const k = randomInt(next, 1, 13);
      const n = randomInt(next, 1, 11);
      const rankA = randomInt(next, 2, 4);
      const rankB = randomInt(next, 2, 4);
      const batch = [randomInt(next, 1, 3), randomInt(next, 1, 4)];
      // Batch shapes the wasm kernel supports: equal, or one side with a single batch.
      const full = batch.slice(2 - Math.max(rankA, rankB) + 2);
      const mode = trial % 3;
      const aBatch = mode === 2 ? full.map(() => 1).slice(0, rankA - 2) : full.slice(full.length - (rankA - 2));
      const bBatch = mode === 1 ? full.map(() => 1).slice(0, rankB - 2) : full.slice(full.length - (rankB - 2));
      const aShape = [...aBatch, ...(ta ? [k, m] : [m, k])];
      const bShape = [...bBatch, ...(tb ? [n, k] : [k, n])];
      const a = randomTensor(tf, next, aShape);
      const b = randomTensor(tf, next, bShape);
      const what = `a ${aShape} b ${bShape} ta=${ta} tb=${tb}`;
      const wasmSupports = aBatch.reduce((x, y) => x * y, 1) === 1 || bBatch.reduce((x, y) => x * y, 1) === 1 || aBatch.join() === bBatch.join();
      const { native, wasm } = nativeAndWasm(tf, ['BatchMatMul'], () => tf.matMul(a, b, ta, tb));
      const reference = referenceMatMul(a.dataSync() as Float32Array, aShape, b.dataSync() as Float32Array, bShape, ta, tb);
      expectClose(native, reference, `${what} (reference)`);
      if (wasmSupports) expectClose(native, wasm, `${what} (wasm)`);
      tf.dispose([a, b]);
    }
  });

  it('BatchMatMul broadcasts batch dimensions both ways ([2,1] with [1,3])', () => {
    const next = rng(11);
    const a = randomTensor(tf, next, [2, 1, 3, 5]);
    const b = randomTensor(tf, next, [1, 3, 5, 4]);
    registerNativeKernels(tf, addon!, ['BatchMatMul']);
    const y = tf.matMul(a, b);
    expect(y.shape).toEqual([2, 3, 3, 4]);
    expectClose(y.dataSync(), referenceMatMul(a.dataSync() as Float32Array, a.shape, b.dataSync() as Float32Array, b.shape, false, false), 'broadcast');
    tf.dispose([a, b, y]);
  });

  it('_FusedMatMul equals a float64 reference and the wasm kernel, for bias shapes and every activation', () => {
    const next = rng(13);
    const activations = ['linear', 'relu', 'relu6', 'prelu', 'leakyrelu', 'sigmoid', 'elu'] as const;
    for (let trial = 0; trial < 42; trial++) {
      const activation = activations[trial % activations.length]!;
      const ta = trial % 2 === 1;
      const tb = Math.floor(trial / 3) % 2 === 1;
      const m = randomInt(next, 1, 9);
      const k = randomInt(next, 1, 12);
      const n = randomInt(next, 1, 10);
      const batch = randomInt(next, 1, 3);
      const a = randomTensor(tf, next, [batch, ...(ta ? [k, m] : [m, k])], 3);
      const b = randomTensor(tf, next, [batch, ...(tb ? [n, k] : [k, n])]);
      const bias = trial % 4 === 0 ? undefined : randomTensor(tf, next, [trial % 4 === 1 ? 1 : n]);
      const prelu = activation === 'prelu' ? randomTensor(tf, next, [n]) : undefined;
      const { native, wasm } = nativeAndWasm(tf, ['_FusedMatMul'], () =>
        tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation, preluActivationWeights: prelu, leakyreluAlpha: 0.15 }),
      );
      const product = referenceMatMul(a.dataSync() as Float32Array, a.shape, b.dataSync() as Float32Array, b.shape, ta, tb);
      const biasValues = bias?.dataSync();
      const slopes = prelu?.dataSync();
      const reference = product.map((value, i) => {
        const j = i % n;
        const x = value + (biasValues ? biasValues[biasValues.length === 1 ? 0 : j]! : 0);
        switch (activation) {
          case 'relu':
            return Math.max(0, x);
          case 'relu6':
            return Math.min(6, Math.max(0, x));
          case 'prelu':
            return x < 0 ? slopes![j]! * x : x;
          case 'leakyrelu':
            return x < 0 ? 0.15 * x : x;
          case 'sigmoid':
            return 1 / (1 + Math.exp(-x));
          case 'elu':
            return x < 0 ? Math.expm1(x) : x;
          default:
            return x;
        }
      });
      const what = `${activation} bias ${bias?.shape ?? 'none'} [${batch},${m},${k}]x[${k},${n}] ta=${ta} tb=${tb}`;
      expectClose(native, reference, `${what} (reference)`);
      // The wasm kernel itself goes wrong with transposed operands, and with a per-column bias
      // over several batches (it then disagrees with the cpu backend and the reference), so it
      // is compared only outside those cases.
      const wasmReliable = !ta && !tb && (batch === 1 || !bias || bias.size === 1);
      if (wasmReliable) expectClose(native, wasm, `${what} (wasm)`);
      tf.dispose([a, b, ...(bias ? [bias] : []), ...(prelu ? [prelu] : [])]);
    }
  });

  it('Add, Sub, Multiply and Sum equal the wasm kernels: one shape, bias rows and scalars on either side, other broadcasts, odd and size-1 shapes', () => {
    const next = rng(61);
    const names: NativeKernelName[] = ['Add', 'Sub', 'Multiply', 'Sum'];
    const pairs: [number[], number[]][] = [
      [[1], [1]],
      [[7, 5], [7, 5]],
      [[7, 5], [5]],
      [[5], [7, 5]],
      [[3, 4, 5], [1, 5]],
      [[7, 5], [1]],
      [[1], [3, 4, 5]],
      [[7, 5], [7, 1]],
      [[2, 1, 3], [4, 1]],
      [[0, 5], [5]],
    ];
    for (const [aShape, bShape] of pairs) {
      const a = randomTensor(tf, next, aShape, 3);
      const b = randomTensor(tf, next, bShape, 3);
      for (const [name, f] of [
        ['add', () => tf.add(a, b)],
        ['sub', () => tf.sub(a, b)],
        ['mul', () => tf.mul(a, b)],
      ] as [string, () => Tensor][]) {
        const { native, wasm } = nativeAndWasm(tf, names, f);
        // Elementwise float ops are exact: the same numbers bit for bit.
        expect(Array.from(native), `${name} ${JSON.stringify(aShape)} with ${JSON.stringify(bShape)}`).toEqual(Array.from(wasm));
      }
      tf.dispose([a, b]);
    }
    for (const [shape, axis, keepDims] of [
      [[9, 5], 0, false],
      [[9, 5], [0], true],
      [[4, 3, 5], [0, 1], false],
      [[4, 3, 5], [1, 0], true],
      [[1, 1], 0, false],
      [[6, 5], 1, false],
      [[6, 5], [0, 1], false],
      [[6], 0, false],
    ] as [number[], number | number[], boolean][]) {
      const x = randomTensor(tf, next, shape, 3);
      const { native, wasm, shape: outShape } = nativeAndWasm(tf, names, () => tf.sum(x, axis, keepDims));
      expect(outShape, `sum ${JSON.stringify(shape)} over ${JSON.stringify(axis)}`).toEqual(tf.tidy(() => tf.sum(tf.zeros(shape), axis, keepDims).shape));
      expectClose(native, wasm, `sum ${JSON.stringify(shape)} over ${JSON.stringify(axis)}`, 1e-6);
      x.dispose();
    }
    // int32 stays with the wasm kernels.
    registerNativeKernels(tf, addon!, names);
    const i = tf.tensor([1, 2, 3], [3], 'int32');
    expect(Array.from(tf.add(i, i).dataSync())).toEqual([2, 4, 6]);
    expect(tf.add(i, i).dtype).toBe('int32');
    unregisterNativeKernels(tf, names);
    i.dispose();
  });

  it('Softmax equals the wasm kernel, masked scores give exactly 0', () => {
    const next = rng(17);
    for (let trial = 0; trial < 20; trial++) {
      const rank = randomInt(next, 1, 4);
      const shape = Array.from({ length: rank }, () => randomInt(next, 1, 9));
      const x = randomTensor(tf, next, shape, 8);
      const { native, wasm } = nativeAndWasm(tf, ['Softmax'], () => tf.softmax(x));
      expectClose(native, wasm, `softmax ${shape}`);
      x.dispose();
    }
    const masked = tf.tensor2d([[0.5, -1e9, 2, -1e9]]);
    registerNativeKernels(tf, addon!, ['Softmax']);
    const probs = tf.softmax(masked).dataSync();
    expect(probs[1]).toBe(0);
    expect(probs[3]).toBe(0);
    tf.dispose(masked);
  });

  it('Erf, Exp, Tanh, Sigmoid and Rsqrt equal the wasm kernels', () => {
    const next = rng(19);
    const cases: [NativeKernelName, (x: Tensor) => Tensor, number][] = [
      ['Erf', (x) => tf.erf(x), 4],
      ['Exp', (x) => tf.exp(x), 40],
      ['Tanh', (x) => tf.tanh(x), 6],
      ['Sigmoid', (x) => tf.sigmoid(x), 12],
      ['Rsqrt', (x) => tf.rsqrt(tf.abs(x)), 50],
    ];
    for (const [name, op, scale] of cases) {
      for (const shape of [[1], [7], [3, 5, 1], [130, 17]]) {
        const x = randomTensor(tf, next, shape, scale);
        const { native, wasm } = nativeAndWasm(tf, [name], () => op(x));
        // Elementwise relative error: these are not sums, so each element must match.
        for (let i = 0; i < wasm.length; i++) {
          expect(Math.abs(native[i]! - wasm[i]!), `${name} at ${i}`).toBeLessThanOrEqual(1e-5 * Math.abs(wasm[i]!) + 1e-30);
        }
        x.dispose();
      }
    }
    const underflow = tf.tensor1d([-1e9, -200, -88, 0]);
    registerNativeKernels(tf, addon!, ['Exp']);
    const e = tf.exp(underflow).dataSync();
    expect(Array.from(e.slice(0, 2))).toEqual([0, 0]);
    expect(e[3]).toBe(1);
    underflow.dispose();
  });

  it('Identity shares memory safely: a clone outlives its source and frees nothing twice', () => {
    registerNativeKernels(tf, addon!, ['Identity']);
    const before = tf.memory().numBytes;
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
    expect(tf.memory().numBytes).toBe(before);
  });

  it('gradients through the native kernels equal those of plain wasm', () => {
    const next = rng(23);
    // Same batch shapes: tfjs's own BatchMatMul gradient does not reduce broadcast batches.
    const x = randomTensor(tf, next, [2, 3, 5, 4]);
    const w = randomTensor(tf, next, [2, 3, 4, 6]);
    const loss = (xs: Tensor, ws: Tensor): Tensor => {
      const h = tf.matMul(xs, ws);
      const probs = tf.softmax(tf.matMul(h, h, false, true));
      return tf.sum(tf.mul(tf.matMul(probs, h), tf.erf(h)));
    };
    const grads = (): Tensor => {
      const [gx, gw] = tf.grads(loss)([x, w]);
      return tf.concat([gx!.reshape([-1]), gw!.reshape([-1])]);
    };
    const { native, wasm } = nativeAndWasm(tf, DEFAULT_NATIVE_KERNELS, grads);
    expectClose(native, wasm, 'gradients');
    tf.dispose([x, w]);
  });

  it('writes correctly into an output that makes the wasm heap grow', () => {
    registerNativeKernels(tf, addon!, ['BatchMatMul']);
    const heapBefore = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.byteLength;
    // The output alone is a quarter of the heap's size or more, so allocating it must grow the heap.
    const side = Math.ceil(Math.sqrt(heapBefore / 4 / 4 + 1)) + 64;
    const a = tf.fill([side, 1], 2);
    const b = tf.fill([1, side], 3);
    const y = tf.matMul(a, b);
    const corners = tf.stack([y.slice([0, 0], [1, 1]).reshape([]), y.slice([side - 1, side - 1], [1, 1]).reshape([])]);
    expect(Array.from(corners.dataSync())).toEqual([6, 6]);
    tf.dispose([a, b, y, corners]);
  });

  it('fused layer-norm gradient writes its three outputs correctly when allocating them grows the heap', () => {
    registerNativeKernels(tf, addon!, FUSED_NAMES);
    const heap = (): number => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.byteLength;
    // x and dy together about as large as the heap, so the gradient's output must grow it.
    const cols = 64;
    const rows = Math.ceil(heap() / 4 / cols / 2) + 16;
    const x = tf.tidy(() => tf.tile(tf.tensor2d([Array.from({ length: cols }, (_, j) => j)]), [rows, 1]));
    const gamma = tf.fill([cols], 2);
    const beta = tf.zeros([cols]);
    const before = heap();
    const [dx, dgamma, dbeta] = tf.grads((a: Tensor, g: Tensor, b: Tensor) =>
      tf.sum(tf.mul(layerNorm(tf, a as never, g as never, b as never, 1e-12), tf.range(0, cols).reshape([1, cols]))),
    )([x, gamma, beta]);
    expect(heap()).toBeGreaterThan(before);
    // Every row is the same, so the row sums of dgamma and dbeta are rows times one row's values.
    const xhat = Array.from({ length: cols }, (_, j) => (j - (cols - 1) / 2) / Math.sqrt((cols * cols - 1) / 12));
    expectClose(dgamma!.dataSync(), xhat.map((v, j) => rows * j * v), 'dgamma', 1e-4);
    expectClose(dbeta!.dataSync(), xhat.map((_, j) => rows * j), 'dbeta', 1e-5);
    const lastRow = dx!.slice([rows - 1, 0], [1, cols]).dataSync();
    const firstRow = dx!.slice([0, 0], [1, cols]).dataSync();
    expect(Array.from(lastRow)).toEqual(Array.from(firstRow));
    tf.dispose([x, gamma, beta, dx!, dgamma!, dbeta!]);
  });

  it('keeps tensor count, wasm heap and RSS stable over many training steps', () => {
    enableNativeKernels(tf);
    const next = rng(29);
    const w = tf.variable(randomTensor(tf, next, [32, 32], 0.3));
    const bias = tf.variable(tf.zeros([32]));
    const x = randomTensor(tf, next, [4, 16, 32]);
    // A constant gamma: the layer-norm gradient kernel's unused output must be freed too.
    const gammaConst = tf.ones([32]);
    const optimizer = tf.train.adam(1e-3);
    const step = (): void => {
      optimizer.minimize(() => {
        const h = tf.fused.matMul({ a: x.reshape([64, 32]), b: w, bias, activation: 'relu' }).reshape([4, 16, 32]);
        const scores = tf.softmax(tf.matMul(h, h, false, true));
        const normed = layerNorm(tf, tf.matMul(scores, h).reshape([64, 32]) as never, gammaConst as never, bias as never, 1e-12);
        return tf.mean(tf.erf(seededDropout(tf, gelu(tf, normed), 0.1, 7))) as never;
      }, false, [w, bias]);
    };
    for (let i = 0; i < 20; i++) step();
    const heap = (): number => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.byteLength;
    const tensors = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    const heapSize = heap();
    const rss = process.memoryUsage().rss;
    for (let i = 0; i < 400; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.memory().numBytes).toBe(bytes);
    expect(heap()).toBe(heapSize);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 2 ** 20);
    optimizer.dispose();
    tf.dispose([w, bias, x, gammaConst]);
  });
});

describe('selectBackend and the native kernels', () => {
  afterAll(async () => {
    await selectBackend({ prefer: 'wasm', log: () => {} });
  });

  it('falls back to plain wasm when turned off, and says so', async () => {
    const log = vi.fn<(message: string) => void>();
    const selected = await selectBackend({ prefer: 'wasm', nativeKernels: false, log });
    expect(selected.nativeKernels).toEqual([]);
    expect(activeNativeKernels()).toEqual([]);
    expect(log.mock.calls[0]![0]).toMatch(/^tfjs backend: wasm \[.*native kernels off \(disabled by configuration\)/);
    const tf = selected.tf;
    // Plain wasm still trains.
    const w = tf.variable(tf.ones([3, 2]));
    const optimizer = tf.train.sgd(0.1);
    const cost = optimizer.minimize(() => tf.sum(tf.square(tf.matMul(tf.ones([4, 3]), w))) as never, true, [w]);
    expect(cost!.dataSync()[0]).toBe(72);
    tf.dispose([w, cost!]);
  });

  it.skipIf(!addon)('registers the native kernels by default and names them in the log line', async () => {
    const log = vi.fn<(message: string) => void>();
    const selected = await selectBackend({ prefer: 'wasm', log });
    expect(selected.nativeKernels).toEqual([...DEFAULT_NATIVE_KERNELS]);
    expect(log.mock.calls[0]![0]).toMatch(/native kernels \(.*1 BLAS thread\): BatchMatMul, Add, Sub, Multiply, Sum, _FusedMatMul/);
  });

  it.skipIf(!addon)('takes a kernel subset', async () => {
    const selected = await selectBackend({ prefer: 'wasm', nativeKernels: { kernels: ['BatchMatMul'] }, log: () => {} });
    expect(selected.nativeKernels).toEqual(['BatchMatMul']);
    expect(activeNativeKernels()).toEqual(['BatchMatMul']);
  });

  it('does not touch the cpu backend', async () => {
    const selected = await selectBackend({ prefer: 'cpu', log: () => {} });
    expect(selected.nativeKernels).toEqual([]);
  });
});
