/**
 * Kernels of the TensorFlow.js wasm backend, replaced by native ones that read and write tensor
 * memory in place in the wasm heap.
 *
 * Heap safety: a kernel allocates its output first (which may grow the heap and so replace its
 * ArrayBuffer), then reads `HEAPU8.buffer` and passes it with byte offsets to the addon, which
 * looks the data pointer up during that one call. Nothing holds a view of the heap between
 * calls. Inputs a kernel does not handle (other dtypes, unusual bias shapes, ...) go to the wasm
 * backend's own kernel, which stays registered underneath.
 */
import type { DataType, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { Tf } from '../backend.js';
import { FUSED_KERNEL, FUSED_KERNEL_NAMES } from '../model/fused-ops.js';
import type { FusedKernelName } from '../model/fused-ops.js';
import type { AttentionDims, NativeAddon } from './addon.js';
import { ActivationCode, BinaryCode, UnaryCode } from './addon.js';

/**
 * Kernels this module provides, by tfjs kernel name: replacements of wasm kernels, then the
 * fused kernels of workers/model/fused-ops.ts, which the wasm backend does not have at all.
 */
export const NATIVE_KERNEL_NAMES = [
  'BatchMatMul',
  'Add',
  'Sub',
  'Multiply',
  'Sum',
  '_FusedMatMul',
  'Softmax',
  'Identity',
  'GatherV2',
  'Erf',
  'Exp',
  'Tanh',
  'Sigmoid',
  'Rsqrt',
  ...FUSED_KERNEL_NAMES,
] as const;

/** A kernel this module provides. */
export type NativeKernelName = (typeof NATIVE_KERNEL_NAMES)[number];

/**
 * The kernels replaced by default: the matrix products, and the kernels that profiling the
 * encoder's training step showed to be slower in wasm than natively. `Identity` is there because
 * tfjs clones every tensor a gradient will need through it, and the wasm kernel copies the data
 * where sharing it (as `Reshape` does) is enough; `Tanh`, `Sigmoid` and `Rsqrt` are no faster
 * natively at the sizes the encoder uses and stay opt-in.
 */
export const DEFAULT_NATIVE_KERNELS: readonly NativeKernelName[] = [
  'BatchMatMul',
  'Add',
  'Sub',
  'Multiply',
  'Sum',
  '_FusedMatMul',
  'Softmax',
  'Identity',
  'GatherV2',
  'Erf',
  'Exp',
  ...FUSED_KERNEL_NAMES,
];

/** What the kernels need of the wasm backend (a structural view of its `BackendWasm`). */
interface WasmHeapBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  incRef(dataId: object): void;
  disposeData(dataId: object): boolean;
}

function isWasmHeapBackend(backend: unknown): backend is WasmHeapBackend {
  if (typeof backend !== 'object' || backend === null) return false;
  const candidate = backend as Record<string, unknown>;
  const wasm = candidate.wasm as Record<string, unknown> | null | undefined;
  return (
    typeof wasm === 'object' &&
    wasm !== null &&
    wasm.HEAPU8 instanceof Uint8Array &&
    typeof candidate.makeOutput === 'function' &&
    typeof candidate.incRef === 'function' &&
    typeof candidate.disposeData === 'function' &&
    typeof candidate.dataIdMap === 'object'
  );
}

type KernelArgs = Parameters<KernelFunc>[0];

function offsetOf(backend: WasmHeapBackend, tensor: TensorInfo): number {
  const data = backend.dataIdMap.get(tensor.dataId);
  if (!data) throw new Error('native kernel: tensor data is not in the wasm backend');
  return data.memoryOffset;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((total, dim) => total * dim, 1);
}

/** Byte-offset form of the heap; read after the output is allocated (allocation may grow it). */
function heapOf(backend: WasmHeapBackend): ArrayBufferLike {
  return backend.wasm.HEAPU8.buffer;
}

/**
 * Per output batch, the index of the batch of `a` and of `b` it multiplies, under numpy-style
 * broadcasting of the batch dimensions (aligned from the right, size-1 dimensions repeat).
 */
export function batchPairs(outBatch: readonly number[], aBatch: readonly number[], bBatch: readonly number[]): Uint32Array {
  const rank = outBatch.length;
  const strides = (dims: readonly number[]): number[] => {
    const result = new Array<number>(rank).fill(0);
    let stride = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const j = d - (rank - dims.length);
      if (j < 0) break;
      const dim = dims[j]!;
      if (dim !== 1) result[d] = stride;
      stride *= dim;
    }
    return result;
  };
  const aStrides = strides(aBatch);
  const bStrides = strides(bBatch);
  const count = sizeOf(outBatch);
  const pairs = new Uint32Array(count * 2);
  for (let i = 0; i < count; i++) {
    let rest = i;
    let ai = 0;
    let bi = 0;
    for (let d = rank - 1; d >= 0; d--) {
      const dim = outBatch[d]!;
      const index = rest % dim;
      rest = (rest - index) / dim;
      ai += index * aStrides[d]!;
      bi += index * bStrides[d]!;
    }
    pairs[2 * i] = ai;
    pairs[2 * i + 1] = bi;
  }
  return pairs;
}

const SINGLE_PAIR = new Uint32Array([0, 0]);

let matMulFlops = 0;

/**
 * Floating-point operations (2 m n k per product) of every native matrix product since the
 * process started; benchmarks difference it around a step to get the step's FLOPs.
 */
export function nativeMatMulFlops(): number {
  return matMulFlops;
}

/**
 * `op(a) @ op(b)` over broadcast batch dimensions into a new output, or undefined (before
 * allocating anything) for inputs left to the wasm kernel.
 */
function matMul(
  tf: Tf,
  addon: NativeAddon,
  backend: WasmHeapBackend,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): { out: TensorInfo; rows: number; cols: number } | undefined {
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || aRank < 2 || bRank < 2) return undefined;
  const m = a.shape[transposeA ? aRank - 1 : aRank - 2]!;
  const k = a.shape[transposeA ? aRank - 2 : aRank - 1]!;
  const kB = b.shape[transposeB ? bRank - 1 : bRank - 2]!;
  const n = b.shape[transposeB ? bRank - 2 : bRank - 1]!;
  // A mismatch is reported by the wasm kernel, with its usual message.
  if (k !== kB) return undefined;
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(aBatch, bBatch);
  const batch = sizeOf(outBatch);

  let pairs: Uint32Array;
  let rows = m;
  if (batch === 1) {
    pairs = SINGLE_PAIR;
  } else if (!transposeA && sizeOf(bBatch) === 1 && sizeOf(aBatch) === batch) {
    // Every batch of a meets the same b: a's batches are consecutive rows of one matrix.
    pairs = SINGLE_PAIR;
    rows = batch * m;
  } else {
    pairs = batchPairs(outBatch, aBatch, bBatch);
  }

  const out = backend.makeOutput([...outBatch, m, n], 'float32');
  matMulFlops += 2 * batch * m * n * k;
  if (batch * m * n > 0) {
    addon.sgemm(heapOf(backend), transposeA, transposeB, rows, n, k, offsetOf(backend, a), offsetOf(backend, b), offsetOf(backend, out), pairs);
  }
  return { out, rows: batch * m, cols: n };
}

/** Length of a bias or prelu-weights tensor that broadcasts along the last axis only, or -1. */
function rowBroadcastLength(t: TensorInfo | undefined, cols: number): number {
  if (!t) return 0;
  if (t.dtype !== 'float32') return -1;
  const size = sizeOf(t.shape);
  if (size === 1) return 1;
  const last = t.shape[t.shape.length - 1];
  return size === cols && last === cols ? cols : -1;
}

/** Makes a kernel from the addon and the wasm kernel it replaces (which handles what it does not). */
type KernelBuilder = (tf: Tf, addon: NativeAddon, original: KernelFunc) => KernelFunc;

/** Makes one of the fused kernels, which have no wasm original. */
type FusedKernelBuilder = (addon: NativeAddon) => KernelFunc;

function flag(attrs: NamedAttrMap | undefined, name: string): boolean {
  return attrs?.[name] === true;
}

const batchMatMulKernel: KernelBuilder = (tf, addon, original) => (args: KernelArgs) => {
  const { a, b } = args.inputs;
  const { backend, attrs } = args;
  if (!a || !b || !isWasmHeapBackend(backend)) return original(args);
  const result = matMul(tf, addon, backend, a, b, flag(attrs, 'transposeA'), flag(attrs, 'transposeB'));
  return result ? result.out : original(args);
};

const fusedMatMulKernel: KernelBuilder = (tf, addon, original) => (args: KernelArgs) => {
  const { a, b, bias, preluActivationWeights } = args.inputs;
  const { backend, attrs } = args;
  const activationName = String(attrs?.activation ?? 'linear');
  const activation = Object.hasOwn(ActivationCode, activationName)
    ? ActivationCode[activationName as keyof typeof ActivationCode]
    : undefined;
  if (!a || !b || !isWasmHeapBackend(backend) || activation === undefined) return original(args);
  const cols = b.shape[flag(attrs, 'transposeB') ? b.shape.length - 2 : b.shape.length - 1] ?? 0;
  const biasLength = rowBroadcastLength(bias, cols);
  const preluLength = activation === ActivationCode.prelu ? rowBroadcastLength(preluActivationWeights, cols) : 0;
  if (biasLength < 0 || preluLength < 0 || (activation === ActivationCode.prelu && preluLength === 0)) return original(args);
  const result = matMul(tf, addon, backend, a, b, flag(attrs, 'transposeA'), flag(attrs, 'transposeB'));
  if (!result) return original(args);
  const { out, rows } = result;
  if (rows * cols > 0 && (biasLength > 0 || activation !== ActivationCode.linear)) {
    const alpha = typeof attrs?.leakyreluAlpha === 'number' ? attrs.leakyreluAlpha : 0;
    addon.biasActivation(
      heapOf(backend),
      offsetOf(backend, out),
      rows,
      cols,
      bias ? offsetOf(backend, bias) : 0,
      biasLength,
      activation,
      alpha,
      preluLength > 0 && preluActivationWeights ? offsetOf(backend, preluActivationWeights) : 0,
      preluLength,
    );
  }
  return out;
};

const softmaxKernel: KernelBuilder = (_tf, addon, original) => (args: KernelArgs) => {
  const { logits } = args.inputs;
  const { backend, attrs } = args;
  if (!logits || logits.dtype !== 'float32' || !isWasmHeapBackend(backend)) return original(args);
  const rank = logits.shape.length;
  const dim = typeof attrs?.dim === 'number' ? attrs.dim : rank - 1;
  if (rank === 0 || (dim !== rank - 1 && dim !== -1)) return original(args);
  const cols = logits.shape[rank - 1]!;
  const size = sizeOf(logits.shape);
  const out = backend.makeOutput([...logits.shape], 'float32');
  if (size > 0) addon.softmax(heapOf(backend), offsetOf(backend, logits), offsetOf(backend, out), size / cols, cols);
  return out;
};

function unaryKernel(code: number): KernelBuilder {
  return (_tf, addon, original) => (args: KernelArgs) => {
    const { x } = args.inputs;
    const { backend } = args;
    if (!x || x.dtype !== 'float32' || !isWasmHeapBackend(backend)) return original(args);
    const size = sizeOf(x.shape);
    const out = backend.makeOutput([...x.shape], 'float32');
    if (size > 0) addon.unary(heapOf(backend), code, offsetOf(backend, x), offsetOf(backend, out), size);
    return out;
  };
}

/**
 * How `b` meets `a` in an elementwise operation whose output has a's shape: all of it (the same
 * size), one row repeated down a's rows (b's size is a's last dimension, every other dimension
 * of b is 1), one scalar; or undefined for any other broadcast, which the wasm kernel handles.
 */
function broadcastLength(a: TensorInfo, b: TensorInfo): number | undefined {
  const size = sizeOf(a.shape);
  const bSize = sizeOf(b.shape);
  if (b.shape.length > a.shape.length) return undefined;
  if (bSize === 1) return 1;
  if (b.shape.join() === a.shape.join()) return size;
  const cols = a.shape[a.shape.length - 1] ?? 0;
  return bSize === cols && b.shape[b.shape.length - 1] === cols ? cols : undefined;
}

/**
 * `Add`, `Sub` and `Multiply` of float32 tensors of one shape, or with a bias row or a scalar
 * on either side (on the left only for the commutative two): the residual adds, bias adds and
 * gradient sums of a training step. Every other broadcast goes to the wasm kernel.
 */
function binaryKernel(op: number): KernelBuilder {
  const commutative = op !== BinaryCode.sub;
  return (_tf, addon, original) => (args: KernelArgs) => {
    const { a, b } = args.inputs;
    const { backend } = args;
    if (!a || !b || a.dtype !== 'float32' || b.dtype !== 'float32' || !isWasmHeapBackend(backend)) return original(args);
    let [full, other] = [a, b];
    let length = broadcastLength(a, b);
    if (length === undefined && commutative) {
      [full, other] = [b, a];
      length = broadcastLength(b, a);
    }
    if (length === undefined) return original(args);
    const size = sizeOf(full.shape);
    const cols = length === size || length === 1 ? Math.max(size, 1) : length;
    const out = backend.makeOutput([...full.shape], 'float32');
    if (size > 0) addon.binary(heapOf(backend), op, offsetOf(backend, full), offsetOf(backend, other), offsetOf(backend, out), size / cols, cols, length);
    return out;
  };
}

/**
 * `Sum` of a float32 tensor over every axis but the last (a bias gradient: the column sums of
 * `[rows, cols]`), with or without kept dimensions; other reductions go to the wasm kernel.
 */
const sumKernel: KernelBuilder = (_tf, addon, original) => (args: KernelArgs) => {
  const { x } = args.inputs;
  const { backend, attrs } = args;
  if (!x || x.dtype !== 'float32' || x.shape.length < 2 || !isWasmHeapBackend(backend)) return original(args);
  const rank = x.shape.length;
  const raw = attrs?.axis;
  // No axis (null or undefined) means every axis: a full reduction, left to the wasm kernel.
  if (raw === null || raw === undefined) return original(args);
  const axes = (Array.isArray(raw) ? raw : [raw]).map((axis) => (Number(axis) + rank) % rank);
  const leading = new Set(axes);
  if (leading.size !== rank - 1 || leading.has(rank - 1) || axes.some((axis) => !Number.isInteger(axis))) return original(args);
  const cols = x.shape[rank - 1]!;
  const shape = attrs?.keepDims === true ? [...x.shape.slice(0, -1).map(() => 1), cols] : [cols];
  const out = backend.makeOutput(shape, 'float32');
  if (cols > 0) addon.columnSums(heapOf(backend), offsetOf(backend, x), offsetOf(backend, out), sizeOf(x.shape) / cols, cols);
  return out;
};

/**
 * A new tensor on the same memory, as the wasm backend's `Reshape` does: no kernel of the wasm
 * backend writes into an existing tensor's memory, and the shared memory is freed with its last
 * reference. (tfjs runs this for every tensor it saves for the backward pass.)
 */
const identityKernel: KernelBuilder = (_tf, _addon, original) => (args: KernelArgs) => {
  const { x } = args.inputs;
  const { backend } = args;
  if (!x || x.dtype === 'string' || !isWasmHeapBackend(backend)) return original(args);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
};

/**
 * Rows of a float table picked by int32 indices (`tf.gather` on axis 0): the embedding lookup,
 * a row copy each, where the wasm kernel walks every element through generic strides.
 */
const gatherKernel: KernelBuilder = (_tf, addon, original) => (args: KernelArgs) => {
  const { x, indices } = args.inputs;
  const { backend, attrs } = args;
  if (!x || !indices || x.dtype !== 'float32' || indices.dtype !== 'int32' || x.shape.length < 1 || !isWasmHeapBackend(backend)) {
    return original(args);
  }
  const axis = Number(attrs?.axis ?? 0);
  if ((axis !== 0 && axis !== -x.shape.length) || Number(attrs?.batchDims ?? 0) !== 0) return original(args);
  const tableRows = x.shape[0]!;
  const cols = sizeOf(x.shape.slice(1));
  const count = sizeOf(indices.shape);
  const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], 'float32');
  if (count * cols === 0) return out;
  const bad = addon.gatherRows(heapOf(backend), offsetOf(backend, x), tableRows, cols, offsetOf(backend, indices), count, offsetOf(backend, out));
  if (bad >= 0) {
    const index = new Int32Array(heapOf(backend), offsetOf(backend, indices) + 4 * bad, 1)[0];
    backend.disposeData(out.dataId);
    throw new RangeError(`gather: index ${index} at position ${bad} is outside [0, ${tableRows - 1}] (a token id beyond the vocabulary?)`);
  }
  return out;
};

/** The wasm heap backend of a fused kernel's call, and float32 inputs by name; throws otherwise. */
function fusedArgs(args: KernelArgs, kernel: string, names: readonly string[]): { backend: WasmHeapBackend; inputs: TensorInfo[] } {
  const { backend } = args;
  if (!isWasmHeapBackend(backend)) throw new Error(`${kernel}: needs the wasm backend`);
  const inputs = names.map((name) => {
    const input = args.inputs[name];
    if (!input || input.dtype !== 'float32') throw new TypeError(`${kernel}: input ${name} must be a float32 tensor`);
    return input;
  });
  return { backend, inputs };
}

/** Rows and columns of a layer-normalised tensor, checking gamma's length. */
function layerNormDims(kernel: string, x: TensorInfo, gamma: TensorInfo): { rows: number; cols: number } {
  const cols = x.shape[x.shape.length - 1] ?? 0;
  if (cols === 0 || sizeOf(gamma.shape) !== cols) throw new RangeError(`${kernel}: gamma must have the last dimension's length ${cols}`);
  return { rows: sizeOf(x.shape) / cols, cols };
}

/** Attention's sizes from its inputs and attrs, checked: the addon's trailing arguments. */
function attentionDims(kernel: string, q: TensorInfo, k: TensorInfo, v: TensorInfo, mask: TensorInfo, attrs: NamedAttrMap | undefined): AttentionDims {
  const batch = Number(attrs?.batch ?? 0);
  const heads = Number(attrs?.heads ?? 0);
  const hidden = q.shape[1] ?? 0;
  const ok =
    q.shape.length === 2 &&
    k.shape.length === 2 &&
    v.shape.length === 2 &&
    Number.isInteger(batch) &&
    batch > 0 &&
    Number.isInteger(heads) &&
    heads > 0 &&
    hidden % heads === 0 &&
    q.shape[0]! % batch === 0 &&
    k.shape[0]! % batch === 0 &&
    k.shape[1] === hidden &&
    v.shape[0] === k.shape[0] &&
    v.shape[1] === hidden &&
    sizeOf(mask.shape) === k.shape[0];
  if (!ok) throw new RangeError(`${kernel}: q [batch * seqQ, d], k and v [batch * seqK, d] and a mask of batch * seqK values expected`);
  const rate = Number(attrs?.rate ?? 0);
  return [batch, heads, q.shape[0]! / batch, k.shape[0]! / batch, hidden / heads, Number(attrs?.scale ?? 1), rate, Number(attrs?.seed ?? 0)];
}

/** A projection's sizes from its inputs, checked: rows, dIn, dOut and the update's rank (0: none). */
function projectionSizes(kernel: string, x: TensorInfo, w: TensorInfo, bias: TensorInfo, update?: [TensorInfo, TensorInfo, TensorInfo]): [number, number, number, number] {
  const [rows = 0, dIn = 0] = x.shape;
  const dOut = w.shape[1] ?? 0;
  let ok = x.shape.length === 2 && w.shape.length === 2 && w.shape[0] === dIn && sizeOf(bias.shape) === dOut;
  let rank = 0;
  if (update) {
    const [input, a, b] = update;
    rank = a.shape[1] ?? 0;
    ok &&= input.shape.join() === x.shape.join() && a.shape.length === 2 && a.shape[0] === dIn && b.shape.length === 2 && b.shape[0] === rank && b.shape[1] === dOut;
  }
  if (!ok) throw new RangeError(`${kernel}: x [rows, dIn], kernel [dIn, dOut], bias [dOut] (and loraInput like x, loraA [dIn, r], loraB [r, dOut]) expected`);
  return [rows, dIn, dOut, rank];
}

/** Both projection kernels: without an update, and with LoRA's. */
function projectionBuilder(withUpdate: boolean): FusedKernelBuilder {
  const kernel = withUpdate ? FUSED_KERNEL.loraProjection : FUSED_KERNEL.projection;
  const names = withUpdate ? ['x', 'kernel', 'bias', 'loraInput', 'loraA', 'loraB'] : ['x', 'kernel', 'bias'];
  return (addon) => (args: KernelArgs) => {
    const { backend, inputs } = fusedArgs(args, kernel, names);
    const [x, w, bias, input, a, b] = inputs as [TensorInfo, TensorInfo, TensorInfo, TensorInfo?, TensorInfo?, TensorInfo?];
    const update = input && a && b ? ([input, a, b] as [TensorInfo, TensorInfo, TensorInfo]) : undefined;
    const [rows, dIn, dOut, rank] = projectionSizes(kernel, x, w, bias, update);
    const out = backend.makeOutput([rows, dOut], 'float32');
    matMulFlops += 2 * rows * dOut * dIn + 2 * rows * rank * (dIn + dOut);
    const at = (t: TensorInfo | undefined): number => (t ? offsetOf(backend, t) : 0);
    const scale = withUpdate ? Number(args.attrs?.scale ?? 1) : 0;
    addon.projection(heapOf(backend), at(x), at(w), at(bias), at(input), at(a), at(b), at(out), rows, dIn, dOut, rank, scale);
    return out;
  };
}

const FUSED_BUILDERS: Record<FusedKernelName, FusedKernelBuilder> = {
  [FUSED_KERNEL.projection]: projectionBuilder(false),
  [FUSED_KERNEL.loraProjection]: projectionBuilder(true),
  [FUSED_KERNEL.loraGrad]: (addon) => (args: KernelArgs) => {
    const { backend, inputs } = fusedArgs(args, FUSED_KERNEL.loraGrad, ['dy', 'loraInput', 'loraA', 'loraB']);
    const [dy, input, a, b] = inputs as [TensorInfo, TensorInfo, TensorInfo, TensorInfo];
    const [rows = 0, dIn = 0] = input.shape;
    const [rank = 0, dOut = 0] = b.shape;
    const ok = input.shape.length === 2 && a.shape.join() === [dIn, rank].join() && b.shape.length === 2 && dy.shape.join() === [rows, dOut].join();
    if (!ok) throw new RangeError(`${FUSED_KERNEL.loraGrad}: dy [rows, dOut], loraInput [rows, dIn], loraA [dIn, r] and loraB [r, dOut] expected`);
    const outputs = [input, a, b].map((t) => backend.makeOutput([...t.shape], 'float32'));
    const [dInput, dA, dB] = outputs as [TensorInfo, TensorInfo, TensorInfo];
    // Recomputing u = input A, then t = dy B^T and the three gradient products.
    matMulFlops += 2 * rows * rank * (2 * dOut + 3 * dIn);
    const scale = Number(args.attrs?.scale ?? 1);
    addon.loraGrad(heapOf(backend), offsetOf(backend, dy), offsetOf(backend, input), offsetOf(backend, a), offsetOf(backend, b), offsetOf(backend, dInput), offsetOf(backend, dA), offsetOf(backend, dB), rows, dIn, dOut, rank, scale);
    return outputs;
  },
  [FUSED_KERNEL.attention]: (addon) => (args: KernelArgs) => {
    const { backend, inputs } = fusedArgs(args, FUSED_KERNEL.attention, ['q', 'k', 'v', 'mask']);
    const [q, k, v, mask] = inputs as [TensorInfo, TensorInfo, TensorInfo, TensorInfo];
    const dims = attentionDims(FUSED_KERNEL.attention, q, k, v, mask, args.attrs);
    const out = backend.makeOutput([...q.shape], 'float32');
    const [batch, heads, seqQ, seqK, headSize] = dims;
    matMulFlops += 4 * batch * heads * seqQ * seqK * headSize;
    addon.attention(heapOf(backend), offsetOf(backend, q), offsetOf(backend, k), offsetOf(backend, v), offsetOf(backend, mask), offsetOf(backend, out), ...dims);
    return out;
  },
  [FUSED_KERNEL.attentionGrad]: (addon) => (args: KernelArgs) => {
    const { backend, inputs } = fusedArgs(args, FUSED_KERNEL.attentionGrad, ['dy', 'q', 'k', 'v', 'mask']);
    const [dy, q, k, v, mask] = inputs as [TensorInfo, TensorInfo, TensorInfo, TensorInfo, TensorInfo];
    const dims = attentionDims(FUSED_KERNEL.attentionGrad, q, k, v, mask, args.attrs);
    if (dy.shape.join() !== q.shape.join()) throw new RangeError(`${FUSED_KERNEL.attentionGrad}: dy must have the queries' shape`);
    const outputs = [q, k, v].map((t) => backend.makeOutput([...t.shape], 'float32'));
    const [dq, dk, dv] = outputs as [TensorInfo, TensorInfo, TensorInfo];
    const [batch, heads, seqQ, seqK, headSize] = dims;
    // The recomputed scores and four gradient products.
    matMulFlops += 10 * batch * heads * seqQ * seqK * headSize;
    addon.attentionGrad(
      heapOf(backend),
      offsetOf(backend, dy),
      offsetOf(backend, q),
      offsetOf(backend, k),
      offsetOf(backend, v),
      offsetOf(backend, mask),
      offsetOf(backend, dq),
      offsetOf(backend, dk),
      offsetOf(backend, dv),
      ...dims,
    );
    return outputs;
  },
  [FUSED_KERNEL.sumSquares]: (addon) => (args: KernelArgs) => {
    const count = Number(args.attrs?.count ?? Object.keys(args.inputs).length);
    const names = Array.from({ length: count }, (_, i) => `x${i}`);
    const { backend, inputs } = fusedArgs(args, FUSED_KERNEL.sumSquares, names);
    const out = backend.makeOutput([], 'float32');
    // Empty tensors add nothing (and may have no memory of their own).
    const present = inputs.filter((t) => sizeOf(t.shape) > 0);
    const ranges = new Uint32Array(present.length * 2);
    present.forEach((t, i) => {
      ranges[2 * i] = offsetOf(backend, t);
      ranges[2 * i + 1] = sizeOf(t.shape);
    });
    addon.sumSquares(heapOf(backend), ranges, offsetOf(backend, out));
    return out;
  },
  [FUSED_KERNEL.layerNorm]: (addon) => (args: KernelArgs) => {
    const { backend, inputs } = fusedArgs(args, FUSED_KERNEL.layerNorm, ['x', 'gamma', 'beta']);
    const [x, gamma, beta] = inputs as [TensorInfo, TensorInfo, TensorInfo];
    const { rows, cols } = layerNormDims(FUSED_KERNEL.layerNorm, x, gamma);
    if (sizeOf(beta.shape) !== cols) throw new RangeError(`${FUSED_KERNEL.layerNorm}: beta must have length ${cols}`);
    const out = backend.makeOutput([...x.shape], 'float32');
    const eps = Number(args.attrs?.eps ?? 0);
    const heap = heapOf(backend);
    addon.layerNorm(heap, offsetOf(backend, x), offsetOf(backend, gamma), offsetOf(backend, beta), offsetOf(backend, out), rows, cols, eps);
    return out;
  },
  [FUSED_KERNEL.layerNormGrad]: (addon) => (args: KernelArgs) => {
    const { backend, inputs } = fusedArgs(args, FUSED_KERNEL.layerNormGrad, ['dy', 'x', 'gamma']);
    const [dy, x, gamma] = inputs as [TensorInfo, TensorInfo, TensorInfo];
    const { rows, cols } = layerNormDims(FUSED_KERNEL.layerNormGrad, x, gamma);
    const dx = backend.makeOutput([...x.shape], 'float32');
    const dgamma = backend.makeOutput([...gamma.shape], 'float32');
    const dbeta = backend.makeOutput([...gamma.shape], 'float32');
    const eps = Number(args.attrs?.eps ?? 0);
    addon.layerNormGrad(
      heapOf(backend),
      offsetOf(backend, dy),
      offsetOf(backend, x),
      offsetOf(backend, gamma),
      offsetOf(backend, dx),
      offsetOf(backend, dgamma),
      offsetOf(backend, dbeta),
      rows,
      cols,
      eps,
    );
    return [dx, dgamma, dbeta];
  },
  [FUSED_KERNEL.gelu]: (addon) => (args: KernelArgs) => {
    const { backend, inputs } = fusedArgs(args, FUSED_KERNEL.gelu, ['x']);
    const [x] = inputs as [TensorInfo];
    const out = backend.makeOutput([...x.shape], 'float32');
    addon.gelu(heapOf(backend), offsetOf(backend, x), offsetOf(backend, out), sizeOf(x.shape));
    return out;
  },
  [FUSED_KERNEL.geluGrad]: (addon) => (args: KernelArgs) => {
    const { backend, inputs } = fusedArgs(args, FUSED_KERNEL.geluGrad, ['dy', 'x']);
    const [dy, x] = inputs as [TensorInfo, TensorInfo];
    const out = backend.makeOutput([...x.shape], 'float32');
    addon.geluGrad(heapOf(backend), offsetOf(backend, dy), offsetOf(backend, x), offsetOf(backend, out), sizeOf(x.shape));
    return out;
  },
  [FUSED_KERNEL.dropout]: (addon) => (args: KernelArgs) => {
    const { backend, inputs } = fusedArgs(args, FUSED_KERNEL.dropout, ['x']);
    const [x] = inputs as [TensorInfo];
    const out = backend.makeOutput([...x.shape], 'float32');
    const seed = Number(args.attrs?.seed ?? 0);
    const rate = Number(args.attrs?.rate ?? 0);
    addon.dropout(heapOf(backend), offsetOf(backend, x), offsetOf(backend, out), sizeOf(x.shape), seed, rate);
    return out;
  },
  [FUSED_KERNEL.adamw]: (addon) => (args: KernelArgs) => {
    const { backend, inputs } = fusedArgs(args, FUSED_KERNEL.adamw, ['param', 'grad', 'm', 'v', 'scale']);
    const [param, grad, m, v, scale] = inputs as [TensorInfo, TensorInfo, TensorInfo, TensorInfo, TensorInfo];
    const count = sizeOf(param.shape);
    if ([grad, m, v].some((t) => sizeOf(t.shape) !== count) || sizeOf(scale.shape) !== 1) {
      throw new RangeError(`${FUSED_KERNEL.adamw}: grad, m and v must have the parameter's size, scale one element`);
    }
    const outputs = [param, m, v].map((t) => backend.makeOutput([...t.shape], 'float32'));
    const [pOut, mOut, vOut] = outputs as [TensorInfo, TensorInfo, TensorInfo];
    const a = args.attrs ?? {};
    const settings = [a.learningRate, a.beta1, a.beta2, a.epsilon, a.keep, a.correction1, a.correction2].map(Number);
    if (count > 0) {
      addon.adamw(
        heapOf(backend),
        offsetOf(backend, param),
        offsetOf(backend, grad),
        offsetOf(backend, m),
        offsetOf(backend, v),
        offsetOf(backend, scale),
        offsetOf(backend, pOut),
        offsetOf(backend, mOut),
        offsetOf(backend, vOut),
        count,
        settings,
      );
    }
    return outputs;
  },
};

function isFusedKernel(name: NativeKernelName): name is keyof typeof FUSED_BUILDERS {
  return Object.hasOwn(FUSED_BUILDERS, name);
}

const BUILDERS: Record<Exclude<NativeKernelName, keyof typeof FUSED_BUILDERS>, KernelBuilder> = {
  BatchMatMul: batchMatMulKernel,
  Add: binaryKernel(BinaryCode.add),
  Sub: binaryKernel(BinaryCode.sub),
  Multiply: binaryKernel(BinaryCode.mul),
  Sum: sumKernel,
  _FusedMatMul: fusedMatMulKernel,
  Softmax: softmaxKernel,
  Identity: identityKernel,
  GatherV2: gatherKernel,
  Erf: unaryKernel(UnaryCode.erf),
  Exp: unaryKernel(UnaryCode.exp),
  Tanh: unaryKernel(UnaryCode.tanh),
  Sigmoid: unaryKernel(UnaryCode.sigmoid),
  Rsqrt: unaryKernel(UnaryCode.rsqrt),
};

/**
 * The kernels installed by {@link registerNativeKernels}: for a replacement the wasm backend's
 * own kernel (restored on unregistering), for a fused kernel null (removed on unregistering).
 */
const installed = new Map<NativeKernelName, KernelConfig | null>();

/** Names of the native kernels currently installed on the wasm backend. */
export function activeNativeKernels(): NativeKernelName[] {
  return [...installed.keys()];
}

/**
 * Removes native kernels (all, or those named): replaced wasm kernels get their own kernel
 * back, fused kernels are removed, e.g. to compare outputs or to measure plain wasm in the same
 * process.
 */
export function unregisterNativeKernels(tf: Tf, names: readonly NativeKernelName[] = [...installed.keys()]): void {
  for (const name of names) {
    if (!installed.has(name)) continue;
    const original = installed.get(name);
    tf.unregisterKernel(name, 'wasm');
    if (original) tf.registerKernel(original);
    installed.delete(name);
  }
}

/**
 * Installs the named native kernels on the wasm backend (already installed ones are installed
 * again, so calling this twice is harmless) and returns the names now native. Replacements of
 * kernels the installed wasm backend does not have are skipped. Call after the wasm backend
 * package is imported.
 */
export function registerNativeKernels(
  tf: Tf,
  addon: NativeAddon,
  names: readonly NativeKernelName[] = DEFAULT_NATIVE_KERNELS,
): NativeKernelName[] {
  for (const name of names) {
    if (!(NATIVE_KERNEL_NAMES as readonly string[]).includes(name)) {
      throw new RangeError(`Unknown native kernel "${String(name)}"; known: ${NATIVE_KERNEL_NAMES.join(', ')}`);
    }
  }
  unregisterNativeKernels(tf, names);
  for (const name of names) {
    if (isFusedKernel(name)) {
      tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: FUSED_BUILDERS[name](addon) });
      installed.set(name, null);
      continue;
    }
    const original = tf.getKernel(name, 'wasm');
    if (!original) continue;
    tf.unregisterKernel(name, 'wasm');
    // The original's setup stays attached: a re-initialised wasm backend runs it, and the
    // fallback path calls the original kernel.
    tf.registerKernel({ ...original, kernelFunc: BUILDERS[name](tf, addon, original.kernelFunc) });
    installed.set(name, original);
  }
  return activeNativeKernels();
}
