/** LayerNorm tuning (Zhao et al. 2023), the pure half: the LayerNorms' scale and shift of chosen layers train. */
import type { EncoderShape, LayerNormTuningConfig } from '../types.js';
import { checkLayers, failer } from './checks.js';
import type { MethodSpec } from './spec.js';

/** Throws naming the field when a LayerNorm-tuning configuration cannot be built. */
export function validateLayerNormTuning(config: LayerNormTuningConfig, shape: EncoderShape): void {
  checkLayers(failer('LayerNorm tuning'), config.layers, shape);
}

export const layerNormSpec: MethodSpec<LayerNormTuningConfig> = {
  title: 'LayerNorm tuning',
  paradigm: 'selective',
  validate: validateLayerNormTuning,
  count(config, shape) {
    // Two LayerNorms per layer, each a scale and a shift of width d.
    const n = 4 * shape.hiddenSize * config.layers.length;
    return { stored: n, training: n };
  },
  grid: (config) => ({ rows: [{ id: 'layerNorm', label: 'LayerNorm tuning', unit: '', layers: config.layers, size: 1 }], notes: [] }),
  chips: () => [{ label: 'LN', title: 'LayerNorm tuning: both LayerNorms train' }],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ layerNorm: { layers: [0, 2] } }),
};
