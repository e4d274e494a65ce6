/**
 * `UnsortedSegmentSum` for the TensorFlow.js wasm backend, which ships without it. tfjs needs it
 * for the gradient of `gather`, i.e. for training embedding tables (pre-training the base model,
 * prompt tuning on wasm). A plain JavaScript loop over the wasm heap: it runs once per step on
 * tensors the size of an embedding gradient, so it is far from the hot path.
 */
import type { DataType, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { Tf } from './backend.js';

interface WasmBackendView {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
}

function isWasmBackendView(backend: unknown): backend is WasmBackendView {
  if (typeof backend !== 'object' || backend === null) return false;
  const candidate = backend as Record<string, unknown>;
  const wasm = candidate.wasm as Record<string, unknown> | null | undefined;
  return typeof wasm === 'object' && wasm !== null && wasm.HEAPU8 instanceof Uint8Array && typeof candidate.makeOutput === 'function';
}

function offsetOf(backend: WasmBackendView, tensor: TensorInfo): number {
  const data = backend.dataIdMap.get(tensor.dataId);
  if (!data) throw new Error('UnsortedSegmentSum: tensor data is not in the wasm backend');
  return data.memoryOffset;
}

/** out[segmentIds[i], ...] += x[i, ...], for float32 x and int32 segment ids of x's first dimension. */
const unsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const x = inputs['x'] as TensorInfo;
  const segmentIds = inputs['segmentIds'] as TensorInfo;
  const numSegments = Number(attrs?.['numSegments']);
  if (!isWasmBackendView(backend)) throw new Error('UnsortedSegmentSum: not the wasm backend');
  if (x.dtype !== 'float32' || segmentIds.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum on wasm supports float32 data and int32 ids, got ${x.dtype} and ${segmentIds.dtype}`);
  }
  if (segmentIds.shape.length !== 1 || segmentIds.shape[0] !== x.shape[0]) {
    throw new Error(`UnsortedSegmentSum on wasm: segment ids must be 1-D over x's first dimension, got [${segmentIds.shape}] for x [${x.shape}]`);
  }
  const rows = x.shape[0] ?? 0;
  const width = x.shape.slice(1).reduce((a, b) => a * b, 1);
  // Allocate first: allocation may grow the heap, which replaces its buffer.
  const out = backend.makeOutput([numSegments, ...x.shape.slice(1)], 'float32');
  const buffer = backend.wasm.HEAPU8.buffer;
  const outData = new Float32Array(buffer, offsetOf(backend, out), numSegments * width);
  const xData = new Float32Array(buffer, offsetOf(backend, x), rows * width);
  const ids = new Int32Array(buffer, offsetOf(backend, segmentIds), rows);
  outData.fill(0);
  for (let i = 0; i < rows; i++) {
    const segment = ids[i]!;
    if (segment < 0 || segment >= numSegments) continue;
    const from = i * width;
    const to = segment * width;
    for (let j = 0; j < width; j++) outData[to + j]! += xData[from + j]!;
  }
  return out;
};

/** Registers the kernel for the wasm backend unless one is registered already. */
export function registerWasmSegmentSum(tf: Tf): void {
  if (tf.getKernel('UnsortedSegmentSum', 'wasm')) return;
  tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum });
}
