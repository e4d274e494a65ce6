/** BitFit (Ben Zaken et al. 2022), the pure half: the base model's biases of chosen layers train. */
import type { BitFitConfig, EncoderShape } from '../types.js';
import { checkLayers, failer } from './checks.js';
import type { MethodSpec } from './spec.js';

/** Throws naming the field when a BitFit configuration cannot be built. */
export function validateBitFit(config: BitFitConfig, shape: EncoderShape): void {
  checkLayers(failer('BitFit'), config.layers, shape);
}

export const bitfitSpec: MethodSpec<BitFitConfig> = {
  title: 'BitFit',
  paradigm: 'selective',
  validate: validateBitFit,
  count(config, shape) {
    // Six projection biases (4d + d_ff + d) and two LayerNorm shifts (2d) per layer.
    const n = (7 * shape.hiddenSize + shape.intermediateSize) * config.layers.length;
    return { stored: n, training: n };
  },
  grid: (config) => ({ rows: [{ id: 'bitfit', label: 'BitFit', unit: '', layers: config.layers, size: 1 }], notes: [] }),
  chips: () => [{ label: 'BitFit', title: 'base biases train' }],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ bitfit: { layers: [0, 1] } }),
};
