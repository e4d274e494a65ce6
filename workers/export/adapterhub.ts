/**
 * AdapterHub (`adapters` library) `adapter_config.json`: one child configuration per module, a
 * `union` of them for hybrids, `leave_out` listing the layers without the module.
 */
import type { EncoderShape, LoraTarget, PeftConfig } from '../../search/types.js';
import { ExportError } from './errors.js';

/** Who the adapter is for. */
export interface AdapterHubTarget {
  modelType: 'bert' | 'roberta';
  /** Base model name or path, e.g. `bert-base-uncased`. */
  modelName: string;
  /** Adapter name. */
  name: string;
}

/** An `adapter_config.json` and what a user should know about it. */
export interface AdapterHubExport {
  file: Record<string, unknown>;
  /** Ways in which `adapters` would read the configuration differently or refuse it. */
  warnings: string[];
}

/** The `adapters` version whose configuration keys this writes. */
export const ADAPTERS_VERSION = 'adapters.1.2.0';

const leaveOut = (layers: readonly number[], shape: EncoderShape): number[] =>
  Array.from({ length: shape.numLayers }, (_, i) => i).filter((i) => !layers.includes(i));

/** `d / m`, the reduction factor AdapterHub derives the bottleneck from (`m = d // rf`). */
function reductionFactor(hidden: number, size: number, warnings: string[], what: string): number {
  const rf = hidden / size;
  if (Math.floor(hidden / rf) !== size) warnings.push(`${what}: bottleneck ${size} is not hidden_size // reduction_factor; adapters would build ${Math.floor(hidden / rf)}`);
  return rf;
}

const ATTN_MATRIX: Partial<Record<LoraTarget, string>> = { query: 'q', key: 'k', value: 'v' };

/** The `config` object(s) of the configuration, before wrapping. */
function childConfigs(peft: PeftConfig, shape: EncoderShape, warnings: string[]): Record<string, unknown>[] {
  const d = shape.hiddenSize;
  const gates = peft.gates ?? {};
  const children: Record<string, unknown>[] = [];
  if (peft.prefix) {
    const p = peft.prefix;
    children.push({
      architecture: 'prefix_tuning',
      encoder_prefix: true,
      cross_prefix: true,
      leave_out: leaveOut(p.layers, shape),
      flat: p.reparamSize === 0,
      prefix_length: p.length,
      bottleneck_size: p.reparamSize === 0 ? 512 : p.reparamSize,
      non_linearity: 'tanh',
      dropout: 0.0,
      use_gating: gates.prefix === true,
      shared_gating: true,
    });
  }
  const bottleneck = (
    what: string,
    fields: { mh: boolean; lnBefore: boolean; parallel: boolean; scaling: number },
    size: number,
    layers: number[],
    activation: string,
    gated: boolean,
  ): Record<string, unknown> => ({
    mh_adapter: fields.mh,
    output_adapter: true,
    reduction_factor: reductionFactor(d, size, warnings, what),
    non_linearity: activation,
    original_ln_before: fields.lnBefore,
    original_ln_after: true,
    ln_before: false,
    ln_after: false,
    residual_before_ln: true,
    adapter_residual_before_ln: false,
    is_parallel: fields.parallel,
    scaling: fields.scaling,
    init_weights: 'mam_adapter',
    leave_out: leaveOut(layers, shape),
    use_gating: gated,
    dropout: 0.0,
    phm_layer: false,
    inv_adapter: null,
    stochastic_depth: 0.0,
  });
  if (peft.serialAdapter) {
    const s = peft.serialAdapter;
    const houlsby = s.placement === 'houlsby';
    children.push(
      bottleneck(houlsby ? 'Houlsby adapter' : 'Pfeiffer adapter', { mh: houlsby, lnBefore: !houlsby, parallel: false, scaling: 1.0 }, s.size, s.layers, s.activation, gates.serialAdapter === true),
    );
  }
  if (peft.parallelAdapter) {
    const a = peft.parallelAdapter;
    children.push(bottleneck('parallel adapter', { mh: false, lnBefore: false, parallel: true, scaling: a.scaling }, a.size, a.layers, a.activation, false));
  }
  if (peft.lora) {
    const l = peft.lora;
    if (l.targets.includes('attentionOutput')) {
      throw new ExportError('AdapterHub LoRA cannot target the attention output projection (it adapts q/k/v, intermediate and output only)');
    }
    const ranks = new Set(l.targets.map((t) => l.rankPerTarget?.[t] ?? l.rank));
    if (ranks.size > 1) throw new ExportError(`AdapterHub LoRA has one rank for all matrices; this configuration uses ranks ${[...ranks].join(', ')}`);
    const gated = gates.lora === true;
    children.push({
      architecture: 'lora',
      selfattn_lora: l.targets.some((t) => ATTN_MATRIX[t] !== undefined),
      intermediate_lora: l.targets.includes('ffnIn'),
      output_lora: l.targets.includes('ffnOut'),
      leave_out: leaveOut(l.layers, shape),
      r: [...ranks][0]!,
      alpha: l.alpha,
      dropout: l.dropout,
      attn_matrices: l.targets.map((t) => ATTN_MATRIX[t]).filter((m): m is string => m !== undefined),
      composition_mode: 'add',
      init_weights: 'lora',
      use_gating: gated,
    });
    if (gated) warnings.push('gated LoRA: adapters scales the update by both the gate and alpha / r; this model uses the gate alone');
  }
  if (peft.ia3) {
    children.push({
      architecture: 'lora',
      selfattn_lora: true,
      intermediate_lora: true,
      output_lora: false,
      leave_out: leaveOut(peft.ia3.layers, shape),
      r: 1,
      alpha: 1,
      dropout: 0.0,
      attn_matrices: ['k', 'v'],
      composition_mode: 'scale',
      init_weights: 'ia3',
      use_gating: false,
    });
    warnings.push('(IA)3: adapters scales the output of intermediate.dense (before GELU); this model scales the activation after GELU');
  }
  if (peft.promptTuning) {
    children.push({ architecture: 'prompt_tuning', prompt_length: peft.promptTuning.length, prompt_init: 'random_uniform', prompt_init_text: null, combine: 'prefix' });
  }
  if (peft.bitfit) {
    warnings.push('BitFit has no adapters configuration; its trained biases are only in the project export');
  }
  return children;
}

/** Conflicts `adapters`' ConfigUnion.validate would raise (it checks only children without `leave_out`). */
function unionWarnings(children: readonly Record<string, unknown>[], warnings: string[]): void {
  for (let i = 0; i < children.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = children[i]!;
      const b = children[j]!;
      if (a.architecture !== b.architecture) continue;
      const hasLeaveOut = (c: Record<string, unknown>): boolean => Array.isArray(c.leave_out) && c.leave_out.length > 0;
      if (hasLeaveOut(a) || hasLeaveOut(b)) continue;
      const bottlenecks = a.architecture === undefined;
      if (bottlenecks && a.mh_adapter !== b.mh_adapter && a.output_adapter !== b.output_adapter) continue;
      warnings.push(
        `adapters' ConfigUnion refuses two ${bottlenecks ? 'bottleneck adapters at the same location' : `"${String(a.architecture)}" children`} when neither has a leave_out list; load the children as separate adapters or skip the union's validation`,
      );
    }
  }
}

/**
 * The AdapterHub `adapter_config.json` of a configuration. Throws {@link ExportError} for a
 * module AdapterHub cannot express (LoRA on the attention output, LoRA with several ranks) or an
 * empty configuration.
 */
export function adapterHubConfig(peft: PeftConfig, shape: EncoderShape, target: AdapterHubTarget): AdapterHubExport {
  const warnings: string[] = [];
  const children = childConfigs(peft, shape, warnings);
  if (children.length === 0) throw new ExportError('the configuration has no module AdapterHub can describe');
  unionWarnings(children, warnings);
  const config = children.length === 1 ? children[0]! : { architecture: 'union', configs: children };
  return {
    file: {
      config,
      hidden_size: shape.hiddenSize,
      model_class: target.modelType === 'roberta' ? 'RobertaAdapterModel' : 'BertAdapterModel',
      model_name: target.modelName,
      model_type: target.modelType,
      name: target.name,
      version: ADAPTERS_VERSION,
    },
    warnings,
  };
}
