/** LoRA (Hu et al. 2021): its build, merge and exports, and the LoRA-shaped export helpers other methods share. */
import { hasPerLayerRanks, loraLayerSites, loraSites, loraSpec } from '../../search/methods/lora.js';
import type { LoraSiteFields } from '../../search/methods/lora.js';
import type { EncoderShape, LoraModuleConfig, LoraTarget } from '../../search/types.js';
import { escapeRegExp, modulePattern, peftModulePath, projectionPath, storedWeight, transpose } from '../export/hf-peft-parts.js';
import type { TensorToWrite } from '../model/safetensors.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { ExportError } from '../export/errors.js';
import { LoraModule } from '../peft/lora.js';
import { torchLinear } from '../export/adapterhub-parts.js';
import type { AdapterHubWeightsContext, HfPeftContext, PeftMethod } from './method.js';

// The pure helpers other method files share live with LoRA's spec.
export { TARGET_LABELS, loraSites, perSiteCount, targetChip, targetList } from '../../search/methods/lora.js';

/** PEFT's `lora_A.weight` `[r, in]` and `lora_B.weight` `[out, r]` from our `[in, r]` and `[r, out]` kernels. */
export function loraPeftTensors(ctx: HfPeftContext, layer: number, target: LoraTarget, a: { shape: number[]; data: Float32Array }, b: { shape: number[]; data: Float32Array }): TensorToWrite[] {
  const [dIn, r] = a.shape as [number, number];
  const dOut = b.shape[1]!;
  const key = peftModulePath(ctx.backbone, layer, target);
  return [
    { name: `${key}.lora_A.weight`, shape: [r, dIn], data: transpose(a.data, dIn, r) },
    { name: `${key}.lora_B.weight`, shape: [dOut, r], data: transpose(b.data, r, dOut) },
  ];
}

/** A `LoraConfig` of PEFT for a LoRA-shaped configuration; `extra` overrides fields (e.g. `use_dora`). */
export function loraPeftConfig(config: Omit<LoraModuleConfig, 'dropout'> & { dropout?: number }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const rankPattern: Record<string, number> = {};
  let targetModules = modulePattern(config.targets, config.layers);
  if (hasPerLayerRanks(config)) {
    // Ranks differ by layer: one pattern key per module, and the targets as exactly the modules that carry LoRA.
    const sites = loraLayerSites(config);
    const sitePath = (s: { layer: number; target: LoraTarget }): string => `${s.layer}\\.${escapeRegExp(PROJECTION_MODULE_PATHS[s.target])}`;
    targetModules = `.*encoder\\.layer\\.(${sites.map(sitePath).join('|')})`;
    for (const site of sites) if (site.rank !== config.rank) rankPattern[`encoder\\.layer\\.${sitePath(site)}`] = site.rank;
  } else {
    for (const [t, r] of Object.entries(config.rankPerTarget ?? {})) {
      if (r !== config.rank) rankPattern[`encoder\\.layer\\.\\d+\\.${escapeRegExp(PROJECTION_MODULE_PATHS[t as LoraTarget])}`] = r;
    }
  }
  return {
    peft_type: 'LORA',
    r: config.rank,
    lora_alpha: config.alpha,
    lora_dropout: config.dropout ?? 0,
    target_modules: targetModules,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: rankPattern,
    alpha_pattern: Object.fromEntries(Object.keys(rankPattern).map((k) => [k, config.alpha])),
    bias: 'none',
    fan_in_fan_out: false,
    modules_to_save: ['classifier', 'score'],
    init_lora_weights: true,
    use_rslora: false,
    use_dora: false,
    ...extra,
  };
}

/** Stored LoRA factors of every site (ours named `{stem}_A.kernel`, `{stem}_B.kernel`) as PEFT tensors. */
export function loraFactorTensors(config: LoraSiteFields, ctx: HfPeftContext, stem = 'lora'): TensorToWrite[] {
  return loraLayerSites(config).flatMap(({ layer, target }) => {
    const path = projectionPath(layer, target);
    return loraPeftTensors(ctx, layer, target, storedWeight(ctx.weights, `${path}.${stem}_A.kernel`), storedWeight(ctx.weights, `${path}.${stem}_B.kernel`));
  });
}

/** Why this export writes no AdapterHub form of a method. */
export const noAdapterHub = (title: string): { refusal: string } => ({
  refusal: `AdapterHub export covers bottleneck adapters, prefix and prompt tuning, LoRA and (IA)3; ${title} is kept in the project export only`,
});

const ATTN_MATRIX: Partial<Record<LoraTarget, string>> = { query: 'q', key: 'k', value: 'v' };

/** The `adapters` LoRA child of a LoRA-shaped configuration; refuses what `adapters` cannot express. */
export function loraAdapterHubChild(config: Omit<LoraModuleConfig, 'dropout'> & { dropout?: number }, leaveOut: number[], gated: boolean): Record<string, unknown> {
  if (config.targets.includes('attentionOutput')) {
    throw new ExportError('AdapterHub LoRA cannot target the attention output projection (it adapts q/k/v, intermediate and output only)');
  }
  if (hasPerLayerRanks(config)) {
    throw new ExportError(
      'AdapterHub LoRA has one rank for the same matrices of every layer it adapts; this configuration sets LoRA ranks per layer (per-layer sizes): its Hugging Face PEFT export (rank_pattern) or the project export keeps them',
    );
  }
  const ranks = new Set(loraSites(config).map((s) => s.rank));
  if (ranks.size > 1) throw new ExportError(`AdapterHub LoRA has one rank for all matrices; this configuration uses ranks ${[...ranks].join(', ')}`);
  return {
    architecture: 'lora',
    selfattn_lora: config.targets.some((t) => ATTN_MATRIX[t] !== undefined),
    intermediate_lora: config.targets.includes('ffnIn'),
    output_lora: config.targets.includes('ffnOut'),
    leave_out: leaveOut,
    r: [...ranks][0]!,
    alpha: config.alpha,
    dropout: config.dropout ?? 0,
    attn_matrices: config.targets.map((t) => ATTN_MATRIX[t]).filter((m): m is string => m !== undefined),
    composition_mode: 'add',
    init_weights: 'lora',
    use_gating: gated,
  };
}

/**
 * `adapters`' LoRA parameters of every site: `{module}.loras.{name}.lora_A` `[r, in]` and
 * `lora_B` `[out, r]` (bare parameters, no `.weight`), and with a UniPELT gate its
 * `gate` Linear `[1, in]` (`adapters` gates LoRA from the projection's input).
 */
export function loraHubTensors(config: LoraSiteFields, ctx: AdapterHubWeightsContext, stem = 'lora', gated = false): TensorToWrite[] {
  return loraLayerSites(config).flatMap(({ layer, target }) => {
      const ours = projectionPath(layer, target);
      const hub = `${ctx.backbone}${ours}.loras.${ctx.name}`;
      const a = storedWeight(ctx.weights, `${ours}.${stem}_A.kernel`);
      const b = storedWeight(ctx.weights, `${ours}.${stem}_B.kernel`);
      const [dIn, r] = a.shape as [number, number];
      const dOut = b.shape[1]!;
      const tensors: TensorToWrite[] = [
        { name: `${hub}.lora_A`, shape: [r, dIn], data: transpose(a.data, dIn, r) },
        { name: `${hub}.lora_B`, shape: [dOut, r], data: transpose(b.data, r, dOut) },
      ];
      if (gated) {
        if (dIn !== ctx.shape.hiddenSize) throw new ExportError(`adapters gates LoRA from the projection's input (${dIn} wide); this model's gates read the ${ctx.shape.hiddenSize}-wide hidden state`);
        tensors.push(...torchLinear(ctx.weights, `${ours}.lora_gate`, `${hub}.gate`));
      }
      return tensors;
  });
}

/** The layers of the model a configuration leaves out (AdapterHub's `leave_out`). */
export function leaveOut(layers: readonly number[], shape: EncoderShape): number[] {
  return Array.from({ length: shape.numLayers }, (_, i) => i).filter((i) => !layers.includes(i));
}

export const loraMethod: PeftMethod<LoraModuleConfig> = {
  ...loraSpec,
  salt: 0x10ca,
  build: (config, ctx) => new LoraModule(ctx.tf, config, ctx.shape, ctx.seed, { gated: ctx.gates.lora === true }),
  merge: 'merges',
  hfPeft: {
    write: (config, ctx) => ({ config: loraPeftConfig(config), tensors: loraFactorTensors(config, ctx), headPrefix: 'base_model.model.' }),
  },
  adapterHub: {
    position: 3,
    children(config, ctx) {
      const gated = ctx.gates.lora === true;
      if (gated) ctx.warnings.push('gated LoRA: adapters scales the update by both the gate and alpha / r; this model uses the gate alone');
      return [loraAdapterHubChild(config, leaveOut(config.layers, ctx.shape), gated)];
    },
    tensors: (config, ctx) => loraHubTensors(config, ctx, 'lora', ctx.gates.lora === true),
  },
};
