/** LoRA (Hu et al. 2021), the pure half: `W0 x + (alpha / r) B A x` on chosen projections of chosen layers. */
import { loraTargetDims } from '../target-dims.js';
import type { EncoderShape, LoraModuleConfig, LoraTarget } from '../types.js';
import { LORA_TARGETS } from '../types.js';
import { checkLayers, checkPositiveInt, checkTargets, failer } from './checks.js';
import type { Chip, GridRow, MethodKey, MethodSpec } from './spec.js';

/** Short dashboard names of the targets. */
export const TARGET_LABELS: Readonly<Record<LoraTarget, string>> = {
  query: 'Q',
  key: 'K',
  value: 'V',
  attentionOutput: 'O',
  ffnIn: 'FFN-in',
  ffnOut: 'FFN-out',
};

/** Targets as a chip's label: `Q V FFN-out`. */
export const targetList = (targets: readonly LoraTarget[]): string => targets.map((t) => TARGET_LABELS[t]).join(' ');

/** Chips of a method on targets with a size: `DoRA r8 Q V`. */
export const targetChip = (label: string, title: string, targets: readonly LoraTarget[]): Chip => ({
  label: `${label} ${targetList(targets)}`,
  title: `${title} on ${targets.join(', ')}`,
});

/** One grid row per target, in the model's order: `DoRA Q`, its size from `size`. */
export function targetRows(key: MethodKey, title: string, unit: string, config: { targets: readonly LoraTarget[]; layers: readonly number[] }, size: (target: LoraTarget) => number): GridRow[] {
  return LORA_TARGETS.filter((t) => config.targets.includes(t)).map((t) => ({ id: `${key}.${t}`, label: `${title} ${TARGET_LABELS[t]}`, unit, layers: config.layers, size: size(t) }));
}

/** The targets a configuration adapts, in the model's order, with their ranks. */
export function loraSites(config: Pick<LoraModuleConfig, 'rank' | 'targets' | 'rankPerTarget'>): { target: LoraTarget; rank: number }[] {
  return LORA_TARGETS.filter((t) => config.targets.includes(t)).map((target) => ({ target, rank: config.rankPerTarget?.[target] ?? config.rank }));
}

/** `sum over targets of per-target size(dIn, dOut, rank)`, times the layers. */
export function perSiteCount(
  config: Pick<LoraModuleConfig, 'rank' | 'targets' | 'rankPerTarget' | 'layers'>,
  shape: EncoderShape,
  size: (dims: { dIn: number; dOut: number }, rank: number) => number,
): number {
  return loraSites(config).reduce((sum, { target, rank }) => sum + size(loraTargetDims(target, shape), rank), 0) * config.layers.length;
}

/**
 * Rejects configurations that cannot be built, naming the offending field. Duplicated layers
 * or targets are rejected too: they would make the closed-form count disagree with the model.
 */
export function validateLoraConfig(config: Omit<LoraModuleConfig, 'dropout'> & { dropout?: number }, shape: EncoderShape, what = 'LoRA'): void {
  const fail = failer(what);
  checkPositiveInt(fail, 'rank', config.rank);
  if (!(Number.isFinite(config.alpha) && config.alpha > 0)) fail(`alpha must be positive, got ${config.alpha}`);
  const dropout = config.dropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) fail(`dropout must be in [0, 1), got ${dropout}`);
  checkTargets(fail, config.targets);
  for (const [target, rank] of Object.entries(config.rankPerTarget ?? {})) {
    if (!config.targets.includes(target as LoraTarget)) fail(`rankPerTarget names "${target}", which is not among the targets`);
    if (!Number.isInteger(rank) || rank < 1) fail(`rankPerTarget.${target} must be a positive integer, got ${rank}`);
  }
  checkLayers(fail, config.layers, shape);
}

export const loraSpec: MethodSpec<LoraModuleConfig> = {
  title: 'LoRA',
  paradigm: 'reparameterised',
  validate: validateLoraConfig,
  count(config, shape) {
    const n = perSiteCount(config, shape, ({ dIn, dOut }, r) => r * (dIn + dOut));
    return { stored: n, training: n };
  },
  grid: (config) => ({
    rows: targetRows('lora', 'LoRA', 'rank', config, (t) => config.rankPerTarget?.[t] ?? config.rank),
    notes: [`LoRA alpha ${config.alpha}${config.dropout ? `, dropout ${config.dropout}` : ''}`],
  }),
  chips: (config) => [{ label: `LoRA r${config.rank} ${targetList(config.targets)}`, title: `LoRA rank ${config.rank}, alpha ${config.alpha} on ${config.targets.join(', ')}` }],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ lora: { rank: 2, alpha: 4, dropout: 0, targets: ['query', 'value', 'ffnOut'], layers: [0, 1] } }),
};
