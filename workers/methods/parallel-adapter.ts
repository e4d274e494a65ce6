/** The parallel bottleneck adapter on the FFN (He et al. 2021), scaled by a constant. */
import type { ParallelAdapterConfig } from '../../search/types.js';
import { ParallelAdapterModule, validateParallelAdapter } from '../peft/adapters.js';
import { NO_PEFT_BOTTLENECK, bottleneckChild, bottleneckParams } from './bottleneck-parts.js';
import type { PeftMethod } from './method.js';

export const parallelAdapterMethod: PeftMethod<ParallelAdapterConfig> = {
  title: 'parallel adapter',
  paradigm: 'additive',
  salt: 0x9a7a,
  validate: validateParallelAdapter,
  count(config, shape) {
    const n = bottleneckParams(shape.hiddenSize, config.size) * config.layers.length;
    return { stored: n, training: n };
  },
  build: (config, ctx) => new ParallelAdapterModule(ctx.tf, config, ctx.shape, ctx.seed),
  merge: { refusal: 'a parallel adapter is non-linear in the hidden state' },
  hfPeft: NO_PEFT_BOTTLENECK,
  adapterHub: {
    position: 2,
    children: (config, ctx) => [bottleneckChild('parallel adapter', { mh: false, lnBefore: false, parallel: true, scaling: config.scaling }, config, false, ctx)],
  },
  chips: (config) => [{ label: `Parallel ${config.size}`, title: `parallel adapter, bottleneck ${config.size}, scaling ${config.scaling}` }],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ parallelAdapter: { size: 4, layers: [0, 1], scaling: 4, activation: 'relu' } }),
};
