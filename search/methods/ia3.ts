/** (IA)3 (Liu et al. 2022), the pure half: learned vectors scaling keys, values and the FFN activation. */
import type { EncoderShape, Ia3Config } from '../types.js';
import { checkLayers, failer } from './checks.js';
import type { MethodSpec } from './spec.js';

/** Throws naming the field when an (IA)3 configuration cannot be built. */
export function validateIa3(config: Ia3Config, shape: EncoderShape): void {
  checkLayers(failer('(IA)3'), config.layers, shape);
}

export const ia3Spec: MethodSpec<Ia3Config> = {
  title: '(IA)3',
  paradigm: 'additive',
  validate: validateIa3,
  count(config, shape) {
    const n = (2 * shape.hiddenSize + shape.intermediateSize) * config.layers.length;
    return { stored: n, training: n };
  },
  grid: (config) => ({ rows: [{ id: 'ia3', label: '(IA)³', unit: '', layers: config.layers, size: 1 }], notes: [] }),
  chips: () => [{ label: '(IA)³', title: '(IA)3 scaling vectors on key, value and FFN' }],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ ia3: { layers: [0, 1] } }),
};
