/** Prefix-tuning (Li & Liang 2021), the pure half: learned keys and values prepended in chosen layers. */
import type { EncoderShape, PrefixTuningConfig } from '../types.js';
import { checkLayers, checkPositiveInt, failer } from './checks.js';
import type { MethodSpec } from './spec.js';

/** Throws naming the field when a prefix-tuning configuration cannot be built. */
export function validatePrefix(config: PrefixTuningConfig, shape: EncoderShape): void {
  const fail = failer('prefix-tuning');
  checkPositiveInt(fail, 'length', config.length);
  checkLayers(fail, config.layers, shape);
  if (!Number.isInteger(config.reparamSize) || config.reparamSize < 0) {
    fail(`reparamSize must be a non-negative integer, got ${config.reparamSize}`);
  }
}

export const prefixSpec: MethodSpec<PrefixTuningConfig> = {
  title: 'prefix-tuning',
  paradigm: 'additive',
  validate: validatePrefix,
  count(config, shape) {
    const d = shape.hiddenSize;
    const layers = config.layers.length;
    const b = config.reparamSize;
    const stored = 2 * config.length * d * layers;
    // The reparameterising MLP trains (embedding, two linears) but only its output is stored.
    const training = b > 0 ? config.length * d + (d * b + b) + (b * 2 * layers * d + 2 * layers * d) : stored;
    return { stored, training };
  },
  grid: (config) => ({ rows: [{ id: 'prefix', label: 'Prefix', unit: 'vectors', layers: config.layers, size: config.length }], notes: [] }),
  chips: (config) => [
    { label: `Prefix ${config.length}`, title: `prefix-tuning, ${config.length} vectors per layer${config.reparamSize ? `, MLP ${config.reparamSize} while training` : ''}` },
  ],
  layers: (config) => config.layers,
  startsAtBase: false,
  // Every layer: PEFT's prefix-tuning has no per-layer form.
  example: (shape) => ({ prefix: { length: 3, layers: Array.from({ length: shape.numLayers }, (_, i) => i), reparamSize: 8 } }),
};
