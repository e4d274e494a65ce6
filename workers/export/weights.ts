/** Trained adapter weights as plain arrays, and their safetensors form in the project's own names. */
import type { Tensor } from '@tensorflow/tfjs';
import { writeSafetensors } from '../model/safetensors.js';

/** One named tensor's values (float32, row-major) and shape. */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

/** Copies tensors into plain arrays (e.g. inside `onTrainedWeights`, whose tensors are freed after). */
export function toNamedArrays(tensors: ReadonlyMap<string, Tensor>): Map<string, NamedArray> {
  return new Map([...tensors].map(([name, t]) => [name, { shape: [...t.shape], data: Float32Array.from(t.dataSync()) }]));
}

/**
 * The trained weights under the project's names (kernels `[in, out]`), as safetensors with
 * metadata `{"format": "autopeft"}`; the project configuration JSON describes how to rebuild them.
 */
export function adapterWeightsFile(weights: ReadonlyMap<string, NamedArray>): Uint8Array {
  return writeSafetensors(
    [...weights].map(([name, w]) => ({ name, shape: w.shape, data: w.data })),
    { format: 'autopeft' },
  );
}
