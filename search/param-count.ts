/**
 * Closed-form parameter counts. The search uses them to know a configuration's size without
 * building a model; the workers' live counts must agree with them exactly. Each PEFT method's
 * own counts live in its pure spec (search/methods/); this module sums them.
 */
import { countMethods } from './methods/registry.js';
import type { EncoderShape, HeadKind, PeftConfig } from './types.js';

export { loraTargetDims } from './target-dims.js';
export { countBaseParams } from './base-params.js';

/**
 * When the parameters are counted: `stored` is what the trained adapter keeps (the search's
 * objective); `training` is what the optimiser updates (prefix-tuning's reparameterising MLP
 * instead of its output, LoRA-FA without its frozen A), which is what a live count of trainable
 * tensors sees.
 */
export type CountMode = 'stored' | 'training';

/** Parameters of the PEFT modules alone (the task head excluded), counted as `mode` says. */
export function countPeftParams(peft: PeftConfig, shape: EncoderShape, mode: CountMode = 'stored'): number {
  return countMethods(peft, shape)[mode];
}

/** Trainable parameters of a task head with `outputs` outputs: `d k + k` (bert), `d^2 + d + d k + k` (roberta). */
export function headParamCount(kind: HeadKind, hiddenSize: number, outputs: number): number {
  const classifier = hiddenSize * outputs + outputs;
  return kind === 'roberta' ? hiddenSize * hiddenSize + hiddenSize + classifier : classifier;
}

/** Trainable parameters of the task head the encoder's family uses (see {@link EncoderShape.headKind}). */
export function countHeadParams(shape: EncoderShape, numLabels: number): number {
  return headParamCount(shape.headKind ?? 'bert', shape.hiddenSize, numLabels);
}
