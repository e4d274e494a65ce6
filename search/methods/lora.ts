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

/** The targets a configuration adapts, in the model's order, with their ranks (per-layer ranks aside: see {@link loraLayerSites}). */
export function loraSites(config: Pick<LoraModuleConfig, 'rank' | 'targets' | 'rankPerTarget'>): { target: LoraTarget; rank: number }[] {
  return LORA_TARGETS.filter((t) => config.targets.includes(t)).map((target) => ({ target, rank: config.rankPerTarget?.[target] ?? config.rank }));
}

/** The LoRA-shaped fields that say where the factors sit and how wide they are. */
export type LoraSiteFields = Pick<LoraModuleConfig, 'rank' | 'targets' | 'rankPerTarget' | 'rankByLayer' | 'layers'>;

/** The rank of a target in a layer: `rankByLayer`, else `rankPerTarget`, else `rank` (0: no LoRA there). */
export function loraRankAt(config: Omit<LoraSiteFields, 'layers' | 'targets'>, layer: number, target: LoraTarget): number {
  return config.rankByLayer?.[String(layer)]?.[target] ?? config.rankPerTarget?.[target] ?? config.rank;
}

/** Every projection that carries factors, layer by layer and in the model's order within a layer, with its rank. */
export function loraLayerSites(config: LoraSiteFields): { layer: number; target: LoraTarget; rank: number }[] {
  return config.layers.flatMap((layer) => loraSites(config).map(({ target }) => ({ layer, target, rank: loraRankAt(config, layer, target) })).filter((s) => s.rank > 0));
}

/** Whether `rankByLayer` moves some site off its per-target rank (or leaves it without LoRA), so that ranks differ by layer. */
export function hasPerLayerRanks(config: LoraSiteFields): boolean {
  return config.rankByLayer !== undefined && config.layers.some((layer) => loraSites(config).some(({ target, rank }) => loraRankAt(config, layer, target) !== rank));
}

/** `sum over sites of size(dIn, dOut, rank)`: per target times the layers, unless ranks differ by layer. */
export function perSiteCount(config: LoraSiteFields, shape: EncoderShape, size: (dims: { dIn: number; dOut: number }, rank: number) => number): number {
  return loraLayerSites(config).reduce((sum, { target, rank }) => sum + size(loraTargetDims(target, shape), rank), 0);
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
  if (config.rankByLayer !== undefined) checkRankByLayer(fail, { ...config, rankByLayer: config.rankByLayer });
}

/** Per-layer ranks name listed layers and targets only, and leave every listed layer and target some factor. */
function checkRankByLayer(fail: (message: string) => never, config: LoraSiteFields & { rankByLayer: NonNullable<LoraModuleConfig['rankByLayer']> }): void {
  if (typeof config.rankByLayer !== 'object' || config.rankByLayer === null) fail('rankByLayer must map layer indices to per-target ranks');
  for (const [layer, ranks] of Object.entries(config.rankByLayer)) {
    if (!config.layers.some((l) => String(l) === layer)) fail(`rankByLayer names layer "${layer}", which is not among the layers`);
    for (const [target, rank] of Object.entries(ranks ?? {})) {
      if (!config.targets.includes(target as LoraTarget)) fail(`rankByLayer.${layer} names "${target}", which is not among the targets`);
      if (!Number.isInteger(rank) || rank < 0) fail(`rankByLayer.${layer}.${target} must be a non-negative integer (0: no LoRA there), got ${rank}`);
    }
  }
  // A layer or target without any factor would make `layers` and `targets` claim what is not there.
  const sites = loraLayerSites(config);
  for (const layer of config.layers) if (!sites.some((s) => s.layer === layer)) fail(`rankByLayer leaves layer ${layer} without LoRA; drop it from layers instead`);
  for (const target of config.targets) if (!sites.some((s) => s.target === target)) fail(`rankByLayer leaves target ${target} without LoRA in every layer; drop it from targets instead`);
}

/** Grid rows of LoRA-shaped sites: one per target, each layer's cell its own rank. */
export function loraGridRows(key: MethodKey, title: string, config: LoraSiteFields): GridRow[] {
  if (!hasPerLayerRanks(config)) return targetRows(key, title, 'rank', config, (t) => config.rankPerTarget?.[t] ?? config.rank);
  const sites = loraLayerSites(config);
  return LORA_TARGETS.filter((t) => config.targets.includes(t)).map((t) => {
    const mine = sites.filter((s) => s.target === t);
    return { id: `${key}.${t}`, label: `${title} ${TARGET_LABELS[t]}`, unit: 'rank', layers: mine.map((s) => s.layer), size: Math.max(...mine.map((s) => s.rank)), sizes: mine.map((s) => s.rank) };
  });
}

/** Whether the targets' ranks differ (`rankPerTarget`), layer by layer alike. */
function hasPerTargetRanks(config: LoraSiteFields): boolean {
  return new Set(loraSites(config).map((s) => s.rank)).size > 1;
}

/** `r8`, or `r2–8` when the ranks differ by layer. */
function rankLabel(config: LoraSiteFields): string {
  const ranks = loraLayerSites(config).map((s) => s.rank);
  const low = Math.min(...ranks);
  const high = Math.max(...ranks);
  return low === high ? `r${high}` : `r${low}–${high}`;
}

export const loraSpec: MethodSpec<LoraModuleConfig> = {
  title: 'LoRA',
  paradigm: 'reparameterised',
  validate: (config, shape) => validateLoraConfig(config, shape),
  count(config, shape) {
    const n = perSiteCount(config, shape, ({ dIn, dOut }, r) => r * (dIn + dOut));
    return { stored: n, training: n };
  },
  grid: (config) => ({
    rows: loraGridRows('lora', 'LoRA', config),
    notes: [`LoRA alpha ${config.alpha}${config.dropout ? `, dropout ${config.dropout}` : ''}`],
  }),
  chips: (config) => [
    hasPerLayerRanks(config)
      ? { label: `LoRA ${rankLabel(config)} ${targetList(config.targets)}`, title: `LoRA ranks ${rankLabel(config).slice(1)} by layer, alpha ${config.alpha} on ${config.targets.join(', ')}` }
      : hasPerTargetRanks(config)
        ? // Each target its own rank (`LoRA Q8 K2 V4 O16`), never the largest for all (issue 12).
          { label: `LoRA ${loraSites(config).map(({ target, rank }) => `${TARGET_LABELS[target]}${rank}`).join(' ')}`, title: `LoRA ranks ${loraSites(config).map(({ target, rank }) => `${target} ${rank}`).join(', ')}, alpha ${config.alpha}` }
        : { label: `LoRA r${config.rank} ${targetList(config.targets)}`, title: `LoRA rank ${config.rank}, alpha ${config.alpha} on ${config.targets.join(', ')}` },
  ],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ lora: { rank: 2, alpha: 4, dropout: 0, targets: ['query', 'value', 'ffnOut'], layers: [0, 1] } }),
};
