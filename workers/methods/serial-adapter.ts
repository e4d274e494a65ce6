/** The serial bottleneck adapter, Pfeiffer (one per layer) or Houlsby (two per layer) placement. */
import { serialAdapterSpec } from '../../search/methods/serial-adapter.js';
import type { SerialAdapterConfig } from '../../search/types.js';
import { SerialAdapterModule } from '../peft/adapters.js';
import { NO_PEFT_BOTTLENECK, bottleneckChild } from './bottleneck-parts.js';
import { bottleneckHubPath, bottleneckTensors } from '../export/adapterhub-parts.js';
import type { PeftMethod } from './method.js';

export const serialAdapterMethod: PeftMethod<SerialAdapterConfig> = {
  ...serialAdapterSpec,
  salt: 0x5e7a,
  build: (config, ctx) => new SerialAdapterModule(ctx.tf, config, ctx.shape, ctx.seed, ctx.gates.serialAdapter === true),
  merge: { refusal: 'a serial adapter is non-linear in the hidden state' },
  hfPeft: NO_PEFT_BOTTLENECK,
  adapterHub: {
    position: 1,
    children(config, ctx) {
      const houlsby = config.placement === 'houlsby';
      const fields = { mh: houlsby, lnBefore: !houlsby, parallel: false, scaling: 1 };
      return [bottleneckChild(houlsby ? 'Houlsby adapter' : 'Pfeiffer adapter', fields, config, ctx.gates.serialAdapter === true, ctx)];
    },
    // SeqBn keeps one adapter after the FFN (`output.adapters`); DoubleSeqBn a second after attention.
    tensors: (config, ctx) =>
      config.layers.flatMap((layer) =>
        (config.placement === 'houlsby' ? (['attention', 'ffn'] as const) : (['ffn'] as const)).flatMap((sublayer) =>
          bottleneckTensors(
            ctx.weights,
            `encoder.layer.${layer}.${sublayer === 'attention' ? 'attention.output' : 'output'}.adapter`,
            bottleneckHubPath(ctx.backbone, layer, sublayer, ctx.name),
            ctx.gates.serialAdapter === true,
          ),
        ),
      ),
  },
};
