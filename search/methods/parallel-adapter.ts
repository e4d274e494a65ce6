/** The parallel bottleneck adapter on the FFN (He et al. 2021), the pure half. */
import type { ParallelAdapterConfig } from '../types.js';
import { bottleneckLabel, bottleneckLayerParams, bottleneckRow, hasPerLayerSizes, validateParallelAdapter } from './adapters.js';
import type { MethodSpec } from './spec.js';

export const parallelAdapterSpec: MethodSpec<ParallelAdapterConfig> = {
  title: 'parallel adapter',
  paradigm: 'additive',
  validate: validateParallelAdapter,
  count(config, shape) {
    const n = bottleneckLayerParams(shape.hiddenSize, config);
    return { stored: n, training: n };
  },
  grid: (config) => ({ rows: [bottleneckRow('parallel', 'Parallel adapter', config)], notes: [] }),
  chips: (config) => [
    { label: `Parallel ${bottleneckLabel(config)}`, title: `parallel adapter, bottleneck ${bottleneckLabel(config)}${hasPerLayerSizes(config) ? ' by layer' : ''}, scaling ${config.scaling}` },
  ],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ parallelAdapter: { size: 4, layers: [0, 1], scaling: 4, activation: 'relu' } }),
};
