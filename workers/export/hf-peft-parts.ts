/**
 * Pieces the Hugging Face PEFT writers of several methods share: module-name patterns, the
 * `[in, out]` to PyTorch `[out, in]` transpose, and the common config fields.
 */
import type { LoraTarget } from '../../search/types.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { ExportError } from './errors.js';
import type { NamedArray } from './weights.js';

/** Where PEFT's tuner methods (LoRA, (IA)3, ...) keep the wrapped model. */
export const TUNER_PREFIX = 'base_model.model.';

/** A string escaped for a regular expression. */
export const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A full-match regular expression over module names for targets in layers. Suffix lists cannot
 * tell `output.dense` from `attention.output.dense`, so a pattern anchored at the layer is used.
 */
export function modulePattern(targets: readonly LoraTarget[], layers: readonly number[]): string {
  const paths = targets.map((t) => escapeRegExp(PROJECTION_MODULE_PATHS[t])).join('|');
  return `.*encoder\\.layer\\.(${[...layers].sort((a, b) => a - b).join('|')})\\.(${paths})`;
}

/** `[rows, cols]` row-major data transposed. */
export function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** A stored weight by name; an export error naming it when it is missing. */
export function storedWeight(weights: ReadonlyMap<string, NamedArray>, name: string): NamedArray {
  const w = weights.get(name);
  if (!w) throw new ExportError(`trained weights lack "${name}"`);
  return w;
}

/** The PEFT module path of a projection of a layer, e.g. `base_model.model.bert.encoder.layer.0.attention.self.query`. */
export function peftModulePath(backbone: string, layer: number, target: LoraTarget): string {
  return `${TUNER_PREFIX}${backbone}encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[target]}`;
}

/** Our module path of a projection of a layer, e.g. `encoder.layer.0.attention.self.query`. */
export function projectionPath(layer: number, target: LoraTarget): string {
  return `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[target]}`;
}
