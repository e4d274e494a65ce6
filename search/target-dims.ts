/** The input and output widths of the projections PEFT methods adapt. */
import type { EncoderShape, LoraTarget } from './types.js';

/** Input and output width of a target projection (`[dIn, dOut]` is its kernel's shape). */
export function loraTargetDims(target: LoraTarget, shape: EncoderShape): { dIn: number; dOut: number } {
  const d = shape.hiddenSize;
  switch (target) {
    case 'ffnIn':
      return { dIn: d, dOut: shape.intermediateSize };
    case 'ffnOut':
      return { dIn: shape.intermediateSize, dOut: d };
    default:
      return { dIn: d, dOut: d };
  }
}
