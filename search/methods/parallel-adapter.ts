/** The parallel bottleneck adapter on the FFN (He et al. 2021), the pure half. */
import type { ParallelAdapterConfig } from '../types.js';
import { bottleneckParams, validateParallelAdapter } from './adapters.js';
import type { MethodSpec } from './spec.js';

export const parallelAdapterSpec: MethodSpec<ParallelAdapterConfig> = {
  title: 'parallel adapter',
  paradigm: 'additive',
  validate: validateParallelAdapter,
  count(config, shape) {
    const n = bottleneckParams(shape.hiddenSize, config.size) * config.layers.length;
    return { stored: n, training: n };
  },
  grid: (config) => ({ rows: [{ id: 'parallel', label: 'Parallel adapter', unit: 'bottleneck', layers: config.layers, size: config.size }], notes: [] }),
  chips: (config) => [{ label: `Parallel ${config.size}`, title: `parallel adapter, bottleneck ${config.size}, scaling ${config.scaling}` }],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ parallelAdapter: { size: 4, layers: [0, 1], scaling: 4, activation: 'relu' } }),
};
