/** The parallel bottleneck adapter on the FFN (He et al. 2021), scaled by a constant. */
import { parallelAdapterSpec } from '../../search/methods/parallel-adapter.js';
import type { ParallelAdapterConfig } from '../../search/types.js';
import { ParallelAdapterModule } from '../peft/adapters.js';
import { NO_PEFT_BOTTLENECK, bottleneckChild } from './bottleneck-parts.js';
import { bottleneckHubPath, bottleneckTensors } from '../export/adapterhub-parts.js';
import type { PeftMethod } from './method.js';

export const parallelAdapterMethod: PeftMethod<ParallelAdapterConfig> = {
  ...parallelAdapterSpec,
  salt: 0x9a7a,
  build: (config, ctx) => new ParallelAdapterModule(ctx.tf, config, ctx.shape, ctx.seed),
  merge: { refusal: 'a parallel adapter is non-linear in the hidden state' },
  hfPeft: NO_PEFT_BOTTLENECK,
  adapterHub: {
    position: 2,
    children: (config, ctx) => [bottleneckChild('parallel adapter', { mh: false, lnBefore: false, parallel: true, scaling: config.scaling }, config, false, ctx)],
    // ParBn sits where SeqBn does (`output.adapters`), reading the FFN's input instead of its output.
    tensors: (config, ctx) =>
      config.layers.flatMap((layer) => bottleneckTensors(ctx.weights, `encoder.layer.${layer}.output.parallel_adapter`, bottleneckHubPath(ctx.backbone, layer, 'ffn', ctx.name), false)),
  },
};
