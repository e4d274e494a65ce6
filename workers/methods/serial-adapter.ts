/** The serial bottleneck adapter, Pfeiffer (one per layer) or Houlsby (two per layer) placement. */
import type { SerialAdapterConfig } from '../../search/types.js';
import { SerialAdapterModule, validateSerialAdapter } from '../peft/adapters.js';
import { NO_PEFT_BOTTLENECK, bottleneckChild, bottleneckParams } from './bottleneck-parts.js';
import type { PeftMethod } from './method.js';

/** Insertions per layer: 2 for Houlsby, 1 for Pfeiffer. */
export const serialInsertions = (config: SerialAdapterConfig): number => (config.placement === 'houlsby' ? 2 : 1);

export const serialAdapterMethod: PeftMethod<SerialAdapterConfig> = {
  title: 'serial adapter',
  paradigm: 'additive',
  salt: 0x5e7a,
  validate: validateSerialAdapter,
  count(config, shape) {
    const n = serialInsertions(config) * bottleneckParams(shape.hiddenSize, config.size) * config.layers.length;
    return { stored: n, training: n };
  },
  build: (config, ctx) => new SerialAdapterModule(ctx.tf, config, ctx.shape, ctx.seed, ctx.gates.serialAdapter === true),
  merge: { refusal: 'a serial adapter is non-linear in the hidden state' },
  hfPeft: NO_PEFT_BOTTLENECK,
  adapterHub: {
    position: 1,
    children(config, ctx) {
      const houlsby = config.placement === 'houlsby';
      const fields = { mh: houlsby, lnBefore: !houlsby, parallel: false, scaling: 1.0 };
      return [bottleneckChild(houlsby ? 'Houlsby adapter' : 'Pfeiffer adapter', fields, config, ctx.gates.serialAdapter === true, ctx)];
    },
  },
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
