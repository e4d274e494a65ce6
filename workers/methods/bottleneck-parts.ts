/** What the serial and parallel bottleneck adapters' builds share: their AdapterHub child and PEFT refusal. */
import { bottleneckSizeAt, hasPerLayerSizes } from '../../search/methods/adapters.js';
import type { BottleneckFields } from '../../search/methods/adapters.js';
import type { EncoderShape } from '../../search/types.js';
import type { AdapterHubContext } from './method.js';
import { leaveOut } from './lora.js';

/** `d / m`, the reduction factor AdapterHub derives the bottleneck from (`m = d // rf`). */
function reductionFactor(hidden: number, size: number, warnings: string[], what: string): number {
  const rf = hidden / size;
  if (Math.floor(hidden / rf) !== size) warnings.push(`${what}: bottleneck ${size} is not hidden_size // reduction_factor; adapters would build ${Math.floor(hidden / rf)}`);
  return rf;
}

/**
 * The `reduction_factor` of an adapter: one number, or with per-layer widths `adapters`' per-layer
 * map (`{"3": 8, "default": 16}`, layer ids from 0) naming each layer whose width differs.
 */
function reductionFactors(hidden: number, config: BottleneckFields, warnings: string[], what: string): number | Record<string, number> {
  const rf = reductionFactor(hidden, config.size, warnings, what);
  if (!hasPerLayerSizes(config)) return rf;
  const map: Record<string, number> = {};
  for (const layer of config.layers) {
    const size = bottleneckSizeAt(config, layer);
    if (size !== config.size) map[String(layer)] = reductionFactor(hidden, size, warnings, `${what} in layer ${layer}`);
  }
  return { ...map, default: rf };
}

/** An `adapters` bottleneck configuration (no `architecture` key). */
export function bottleneckChild(
  what: string,
  fields: { mh: boolean; lnBefore: boolean; parallel: boolean; scaling: number },
  config: BottleneckFields & { activation: string },
  gated: boolean,
  ctx: AdapterHubContext,
): Record<string, unknown> {
  const shape: EncoderShape = ctx.shape;
  return {
    mh_adapter: fields.mh,
    output_adapter: true,
    reduction_factor: reductionFactors(shape.hiddenSize, config, ctx.warnings, what),
    non_linearity: config.activation,
    original_ln_before: fields.lnBefore,
    original_ln_after: true,
    ln_before: false,
    ln_after: false,
    residual_before_ln: true,
    adapter_residual_before_ln: false,
    is_parallel: fields.parallel,
    scaling: fields.scaling,
    init_weights: 'mam_adapter',
    leave_out: leaveOut(config.layers, shape),
    use_gating: gated,
    dropout: 0.0,
    phm_layer: false,
    inv_adapter: null,
    stochastic_depth: 0.0,
  };
}

/** PEFT's refusal for bottleneck adapters. */
export const NO_PEFT_BOTTLENECK = { refusal: 'Hugging Face PEFT has no bottleneck adapters' } as const;
