/** The serial bottleneck adapter, the pure half: Pfeiffer (one per layer) or Houlsby (two per layer) placement. */
import type { SerialAdapterConfig } from '../types.js';
import { bottleneckParams, serialInsertions, validateSerialAdapter } from './adapters.js';
import type { MethodSpec } from './spec.js';

export const serialAdapterSpec: MethodSpec<SerialAdapterConfig> = {
  title: 'serial adapter',
  paradigm: 'additive',
  validate: validateSerialAdapter,
  count(config, shape) {
    const n = serialInsertions(config) * bottleneckParams(shape.hiddenSize, config.size) * config.layers.length;
    return { stored: n, training: n };
  },
  grid: (config) => ({
    rows: [
      ...(config.placement === 'houlsby' ? [{ id: 'serial.attention', label: 'Adapter after attention', unit: 'bottleneck', layers: config.layers, size: config.size }] : []),
      { id: 'serial.ffn', label: 'Adapter after FFN', unit: 'bottleneck', layers: config.layers, size: config.size },
    ],
    notes: [],
  }),
  chips: (config) => [
    {
      label: `${config.placement === 'houlsby' ? 'Houlsby' : 'Serial'} ${config.size}`,
      title: `serial adapter (${config.placement}), bottleneck ${config.size}, ${config.activation}`,
    },
  ],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ serialAdapter: { placement: 'houlsby', size: 3, layers: [0, 1], activation: 'swish' } }),
};
