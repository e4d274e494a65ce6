/**
 * Loads the native kernel addon (`build/Release/autopeft_native.node`, built from `src/` by
 * `npm ci` when a CBLAS is installed), choosing OpenBLAS's kernels for this CPU and sizing its
 * thread pool before the library starts.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCpu, settleBlasCore } from './cpu-features.js';

/** The functions the addon exports; offsets are byte offsets into `heap`. */
export interface NativeAddon {
  /**
   * For each batch i, `c[i] = op(a[pairs[2i]]) * op(b[pairs[2i+1]])` in row-major order, with
   * `op(a)` m x k and `op(b)` k x n; batches of a, b and c are m*k, k*n and m*n floats apart.
   */
  sgemm(
    heap: ArrayBufferLike,
    transposeA: boolean,
    transposeB: boolean,
    m: number,
    n: number,
    k: number,
    aOffset: number,
    bOffset: number,
    cOffset: number,
    pairs: Uint32Array,
  ): void;
  /**
   * In place on a rows x cols matrix: adds a bias (length 0, 1 or cols), then applies an
   * activation by {@link ActivationCode}.
   */
  biasActivation(
    heap: ArrayBufferLike,
    offset: number,
    rows: number,
    cols: number,
    biasOffset: number,
    biasLength: number,
    activation: number,
    alpha: number,
    preluOffset: number,
    preluLength: number,
  ): void;
  /** Row-wise softmax of a rows x cols matrix (in place allowed). */
  softmax(heap: ArrayBufferLike, inOffset: number, outOffset: number, rows: number, cols: number): void;
  /** `y = f(x)` elementwise for a {@link UnaryCode} (in place allowed). */
  unary(heap: ArrayBufferLike, code: number, inOffset: number, outOffset: number, count: number): void;
  /**
   * Inverted dropout of `count` floats with the mask of `createRng(seed)` (workers/random.ts):
   * element i is dropped when draw i < rate, the rest scaled by `1 / (1 - rate)` (in place allowed).
   */
  dropout(heap: ArrayBufferLike, inOffset: number, outOffset: number, count: number, seed: number, rate: number): void;
  /** Exact GELU `x Phi(x)` elementwise (in place allowed). */
  gelu(heap: ArrayBufferLike, inOffset: number, outOffset: number, count: number): void;
  /** GELU's input gradient `dy (Phi(x) + x phi(x))`. */
  geluGrad(heap: ArrayBufferLike, dyOffset: number, xOffset: number, dxOffset: number, count: number): void;
  /** Layer normalisation over each row of a rows x cols matrix, then `* gamma + beta`. */
  layerNorm(
    heap: ArrayBufferLike,
    xOffset: number,
    gammaOffset: number,
    betaOffset: number,
    yOffset: number,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  /** Gradients of {@link NativeAddon.layerNorm} for the output gradient dy: dx, dgamma, dbeta. */
  layerNormGrad(
    heap: ArrayBufferLike,
    dyOffset: number,
    xOffset: number,
    gammaOffset: number,
    dxOffset: number,
    dgammaOffset: number,
    dbetaOffset: number,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  /**
   * Copies row `indices[i]` (int32) of a tableRows x cols float table to output row i; returns
   * -1, or the position of the first index out of range (then nothing is written).
   */
  gatherRows(
    heap: ArrayBufferLike,
    tableOffset: number,
    tableRows: number,
    cols: number,
    indicesOffset: number,
    count: number,
    outOffset: number,
  ): number;
  /**
   * One AdamW step of `count` parameters into new outputs (see autopeft_native.c); `settings`
   * is `[lr, beta1, beta2, eps, keep, correction1, correction2]`, `keep` = 1 - lr * weightDecay.
   */
  adamw(
    heap: ArrayBufferLike,
    pOffset: number,
    gOffset: number,
    mOffset: number,
    vOffset: number,
    scaleOffset: number,
    pOutOffset: number,
    mOutOffset: number,
    vOutOffset: number,
    count: number,
    settings: readonly number[],
  ): void;
  /**
   * Self-attention over all heads: `context = dropout(softmax(scale Q K^T + mask)) V` per
   * example and head, with queries `[batch * seqQ, heads * headSize]`, keys and values
   * `[batch * seqK, heads * headSize]` (head h = column block h), an additive key mask
   * `[batch, seqK]`, and the dropout mask of `createRng(seed)` over the probabilities
   * `[batch, heads, seqQ, seqK]` in order (rate 0: none).
   */
  attention(
    heap: ArrayBufferLike,
    qOffset: number,
    kOffset: number,
    vOffset: number,
    maskOffset: number,
    outOffset: number,
    ...dims: AttentionDims
  ): void;
  /** Gradients of {@link NativeAddon.attention} for the context gradient dy: dq, dk, dv. */
  attentionGrad(
    heap: ArrayBufferLike,
    dyOffset: number,
    qOffset: number,
    kOffset: number,
    vOffset: number,
    maskOffset: number,
    dqOffset: number,
    dkOffset: number,
    dvOffset: number,
    ...dims: AttentionDims
  ): void;
  /**
   * The sum of the squares of the floats in `ranges` (`[byte offset, count]` pairs), summed in
   * double and written as one float at `outOffset`.
   */
  sumSquares(heap: ArrayBufferLike, ranges: Uint32Array, outOffset: number): void;
  /**
   * `out = a op b` for a rows x cols matrix `a` and `b` of the same size, one row (`bLength` =
   * cols, repeated down the rows) or one scalar (`bLength` = 1); op by {@link BinaryCode}.
   */
  binary(heap: ArrayBufferLike, op: number, aOffset: number, bOffset: number, outOffset: number, rows: number, cols: number, bLength: number): void;
  /** `out[c]` = the sum over the rows of a rows x cols matrix's column c. */
  columnSums(heap: ArrayBufferLike, xOffset: number, outOffset: number, rows: number, cols: number): void;
  /**
   * A linear layer and its low-rank update in one call: `out = x W + bias + scale (xl A) B` for
   * x and xl `[rows, dIn]`, W `[dIn, dOut]`, bias `[dOut]`, A `[dIn, rank]`, B `[rank, dOut]`;
   * rank 0: no update (xl, A and B are not read).
   */
  projection(
    heap: ArrayBufferLike,
    xOffset: number,
    wOffset: number,
    biasOffset: number,
    loraInOffset: number,
    aOffset: number,
    bOffset: number,
    outOffset: number,
    ...dims: ProjectionDims
  ): void;
  /**
   * Gradients of the update `scale (xl A) B` of {@link NativeAddon.projection} for the output
   * gradient dy: d xl, dA and dB.
   */
  loraGrad(
    heap: ArrayBufferLike,
    dyOffset: number,
    loraInOffset: number,
    aOffset: number,
    bOffset: number,
    dLoraInOffset: number,
    dAOffset: number,
    dBOffset: number,
    ...dims: ProjectionDims
  ): void;
  /**
   * The BLAS library's self-description, the kernel set it runs (OpenBLAS's core name, empty
   * when the library cannot say) and its thread count (-1 when it cannot say).
   */
  blasInfo(): { library: string; core: string; threads: number };
  /** Sets the BLAS thread count; false when the library has no such setting (not OpenBLAS). */
  setBlasThreads(threads: number): boolean;
}

/** The sizes and settings of an attention call: batch, heads, seqQ, seqK, headSize, scale, rate, seed. */
export type AttentionDims = [batch: number, heads: number, seqQ: number, seqK: number, headSize: number, scale: number, rate: number, seed: number];

/** The sizes of a projection call: rows, dIn, dOut, the update's rank, and its scale. */
export type ProjectionDims = [rows: number, dIn: number, dOut: number, rank: number, scale: number];

/** Activation codes of {@link NativeAddon.biasActivation} (the wasm backend's numbering). */
export const ActivationCode = { linear: 0, relu: 1, relu6: 2, prelu: 3, leakyrelu: 4, sigmoid: 5, elu: 6 } as const;

/** Function codes of {@link NativeAddon.unary}. */
export const UnaryCode = { erf: 0, exp: 1, tanh: 2, sigmoid: 3, rsqrt: 4 } as const;

/** Operation codes of {@link NativeAddon.binary}. */
export const BinaryCode = { add: 0, sub: 1, mul: 2 } as const;

/** Where the build puts the addon. */
export const ADDON_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), 'build', 'Release', 'autopeft_native.node');

/** The one-line instruction printed wherever the addon is missing. */
export const ENABLE_HINT = 'apt-get install libopenblas-dev, then npm run build:native';

/** Options of {@link loadNativeAddon}. */
export interface LoadNativeAddonOptions {
  /**
   * BLAS threads in this process. One per worker process, since workers already run one
   * process per core. @defaultValue 1
   */
  blasThreads?: number;
  /** The addon file. @defaultValue {@link ADDON_PATH} */
  addonPath?: string;
  /**
   * OpenBLAS's kernel set (`AUTOPEFT_BLAS_CORETYPE`): `auto` picks the fastest for this CPU's
   * instruction sets, `library` leaves it to OpenBLAS, a core name (e.g. `Haswell`) forces it.
   * Takes effect only when this call is the one that loads the library. @defaultValue 'auto'
   */
  blasCore?: string;
}

/**
 * The addon, or why it could not be loaded. `coreNote` says how the BLAS core was chosen (set
 * by the call that loaded the library; later calls repeat it).
 */
export type NativeAddonLoad = { ok: true; addon: NativeAddon; coreNote: string } | { ok: false; reason: string };

/** How the process's first load chose the BLAS core (the library reads it only then). */
let loadedCoreNote: string | undefined;

function isAddon(value: unknown): value is NativeAddon {
  if (typeof value !== 'object' || value === null) return false;
  const names = [
    'sgemm',
    'biasActivation',
    'softmax',
    'unary',
    'dropout',
    'gelu',
    'geluGrad',
    'layerNorm',
    'layerNormGrad',
    'gatherRows',
    'adamw',
    'attention',
    'attentionGrad',
    'sumSquares',
    'blasInfo',
    'setBlasThreads',
  ];
  return names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');
}

/**
 * Loads the addon. OpenBLAS sizes its thread pool when the library loads, from
 * `OPENBLAS_NUM_THREADS` (else the core count), so the variable is set first unless the
 * environment already has it; the count is then also set through the library, which makes
 * `blasThreads` take effect even if the library was loaded earlier.
 */
export function loadNativeAddon(options: LoadNativeAddonOptions = {}): NativeAddonLoad {
  const threads = options.blasThreads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`blasThreads must be a positive integer, got ${threads}`);
  }
  const file = options.addonPath ?? ADDON_PATH;
  if (!existsSync(file)) return { ok: false, reason: `native addon not built (${ENABLE_HINT})` };
  process.env.OPENBLAS_NUM_THREADS ??= String(threads);
  // OpenBLAS reads OPENBLAS_CORETYPE once, when the dynamic loader maps it with the addon.
  const coreNote = loadedCoreNote ?? settleBlasCore(options.blasCore ?? 'auto', readCpu());
  let loaded: unknown;
  try {
    loaded = createRequire(import.meta.url)(file);
  } catch (error) {
    // Typically the addon was built against a BLAS that has since been removed.
    const message = error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
    return { ok: false, reason: `native addon failed to load: ${message} (${ENABLE_HINT})` };
  }
  if (!isAddon(loaded)) return { ok: false, reason: 'native addon is out of date (npm run build:native)' };
  loaded.setBlasThreads(threads);
  loadedCoreNote = coreNote;
  return { ok: true, addon: loaded, coreNote };
}
