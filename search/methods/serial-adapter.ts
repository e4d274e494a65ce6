/** The serial bottleneck adapter, the pure half: Pfeiffer (one per layer) or Houlsby (two per layer) placement. */
import type { SerialAdapterConfig } from '../types.js';
import { bottleneckLabel, bottleneckLayerParams, bottleneckRow, hasPerLayerSizes, serialInsertions, validateSerialAdapter } from './adapters.js';
import type { MethodSpec } from './spec.js';

export const serialAdapterSpec: MethodSpec<SerialAdapterConfig> = {
  title: 'serial adapter',
  paradigm: 'additive',
  validate: validateSerialAdapter,
  count(config, shape) {
    const n = serialInsertions(config) * bottleneckLayerParams(shape.hiddenSize, config);
    return { stored: n, training: n };
  },
  grid: (config) => ({
    rows: [
      ...(config.placement === 'houlsby' ? [bottleneckRow('serial.attention', 'Adapter after attention', config)] : []),
      bottleneckRow('serial.ffn', 'Adapter after FFN', config),
    ],
    notes: [],
  }),
  chips: (config) => [
    {
      label: `${config.placement === 'houlsby' ? 'Houlsby' : 'Serial'} ${bottleneckLabel(config)}`,
      title: `serial adapter (${config.placement}), bottleneck ${bottleneckLabel(config)}${hasPerLayerSizes(config) ? ' by layer' : ''}, ${config.activation}`,
    },
  ],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ serialAdapter: { placement: 'houlsby', size: 3, layers: [0, 1], activation: 'swish' } }),
};
