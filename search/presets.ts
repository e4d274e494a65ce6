/**
 * Presets: named search spaces for a base model, each with the mapping from a point to the
 * PEFT configuration the workers build and a validity check (invalid points are never
 * proposed). `lora` is the LoRA space; `autopeft` is the AutoPEFT space (serial adapter,
 * parallel adapter, prefix, per-layer switches); `autopeft-lora` extends it with LoRA ranks per
 * target, (IA)3 and BitFit, with module sizes conditional on their on/off switches.
 */
import type { ObjectiveSpec } from './ask.js';
import type { TrialConfiguration } from './lora-space.js';
import { defaultLoraSpace, loraPointToConfig, validateLoraSpace } from './lora-space.js';
import { countBaseParams, countPeftParams, loraTargetDims } from './param-count.js';
import type { SearchSpace } from './space.js';
import { InvalidSearchSpaceError } from './space.js';
import { LORA_TARGETS } from './types.js';
import type { EncoderShape, LoraModuleConfig, LoraTarget, PeftConfig, SearchPoint } from './types.js';

export type { TrialConfiguration } from './lora-space.js';
import { surveyPreset } from './survey-preset.js';
import type { ParameterRule } from './preset-parts.js';
import { longestDefaultPrefix } from './positions.js';
import { activeLayers, checkParameters, halvingSizes, inLayer, layerParam, layerRule, layerSizes, layerSwitches, loraRanks, perLayerParam, perLayerRule, prefixReparamSize } from './preset-parts.js';

export { halvingSizes, layerParam, prefixReparamSize } from './preset-parts.js';

/** Options of a preset's default space (the spec's `presetOptions`). */
export interface PresetOptions {
  /**
   * A size per module per layer (adapter bottlenecks, LoRA ranks per target), each conditional
   * on its layer switch, instead of one size per module. @defaultValue false
   */
  perLayerSizes?: boolean;
}

/** A named search space for a base model and its meaning. */
export interface Preset {
  readonly name: string;
  readonly description: string;
  /** The preset's default space for a base model. */
  space(shape: EncoderShape, options?: PresetOptions): SearchSpace;
  /** The options {@link space} understands (others are refused at submit). */
  readonly options?: readonly (keyof PresetOptions)[];
  /** The PEFT (and training) configuration a point stands for. */
  toConfig(point: SearchPoint, shape: EncoderShape): TrialConfiguration;
  /** Whether the point builds a usable model (some module in some layer). */
  isValid(point: SearchPoint): boolean;
  /** What {@link isValid} asks of a point, in words, for the message when no point passes. */
  readonly validity: string;
  /** Checks a user-given space uses only names and values the preset understands. */
  checkSpace?(space: SearchSpace, shape: EncoderShape): void;
}

const SERIAL = 'serialAdapter.size';
const PARALLEL = 'parallelAdapter.size';
const PREFIX = 'prefix.length';

/**
 * A bottleneck adapter's size fields from its size in each layer (0 = none there): the layers
 * with a size, the largest as `size`, and `sizeByLayer` only for layers that differ from it (so
 * one size everywhere gives the one-size form exactly).
 */
function bottleneckFields(sizes: ReadonlyMap<number, number>): { size: number; layers: number[]; sizeByLayer?: Record<string, number> } | undefined {
  const layers = [...sizes.keys()].filter((layer) => sizes.get(layer)! > 0);
  if (layers.length === 0) return undefined;
  const size = Math.max(...layers.map((layer) => sizes.get(layer)!));
  const sizeByLayer: Record<string, number> = {};
  for (const layer of layers) if (sizes.get(layer) !== size) sizeByLayer[String(layer)] = sizes.get(layer)!;
  return { size, layers, ...(Object.keys(sizeByLayer).length > 0 ? { sizeByLayer } : {}) };
}

/**
 * The serial + parallel adapter + prefix modules on the switched-on layers; `on` says whether a
 * module (by its config key) is switched on as a whole. Sizes 0 = off (in that layer).
 */
function adapterModules(point: SearchPoint, shape: EncoderShape, layers: number[], on: (module: string) => boolean): PeftConfig {
  const peft: PeftConfig = {};
  const serial = on('serialAdapter') ? bottleneckFields(layerSizes(point, SERIAL, layers)) : undefined;
  const parallel = on('parallelAdapter') ? bottleneckFields(layerSizes(point, PARALLEL, layers)) : undefined;
  const prefix = on('prefix') ? Number(point[PREFIX] ?? 0) : 0;
  if (serial) peft.serialAdapter = { placement: 'pfeiffer', size: serial.size, layers: serial.layers, activation: 'relu', ...(serial.sizeByLayer ? { sizeByLayer: serial.sizeByLayer } : {}) };
  if (parallel) peft.parallelAdapter = { size: parallel.size, layers: parallel.layers, scaling: 4, activation: 'relu', ...(parallel.sizeByLayer ? { sizeByLayer: parallel.sizeByLayer } : {}) };
  if (prefix > 0) peft.prefix = { length: prefix, layers, reparamSize: prefixReparamSize(shape) };
  return peft;
}

/** Whether some switched-on layer carries the adapter (a size above 0 there). */
const someLayerSize = (point: SearchPoint, base: string, layers: readonly number[]): boolean => [...layerSizes(point, base, layers).values()].some((size) => size > 0);

/**
 * Size rules shared by the AutoPEFT presets: an adapter bottleneck is at most d (wider would
 * not be a bottleneck); a prefix is at most the model's positions long (its keys and values
 * add to the attention of every token). `min` is 0 where 0 switches the module off.
 */
function moduleSizeRules(shape: EncoderShape, min: number): Record<string, ParameterRule> {
  return {
    [SERIAL]: { kind: 'size', min, max: shape.hiddenSize, what: `the serial adapter's bottleneck (at most the hidden size ${shape.hiddenSize})` },
    [PARALLEL]: { kind: 'size', min, max: shape.hiddenSize, what: `the parallel adapter's bottleneck (at most the hidden size ${shape.hiddenSize})` },
    [PREFIX]: { kind: 'size', min, max: shape.maxPositions, what: `the prefix length (at most the model's ${shape.maxPositions} positions)` },
  };
}

/** The names a space of the preset may use, for the message naming an unknown one. */
function knownNames(rules: Record<string, ParameterRule>, perLayer: readonly string[], shape: EncoderShape): string {
  const last = shape.numLayers - 1;
  return `${Object.keys(rules).join(', ')}, layer.0..layer.${last}, and per layer ${perLayer.map((base) => `${base}.0..${base}.${last}`).join(', ')}`;
}

/**
 * AutoPEFT's space: serial adapter, parallel adapter and prefix sizes from {d, d/2, ..., 1, 0}
 * (0 = off), one switch per layer shared by the three modules. Serial adapter: Pfeiffer
 * placement, ReLU; parallel adapter: scaling 4, ReLU; prefix: reparameterising MLP of width
 * min(800, 4d). Valid: some layer on and some module on. With `perLayerSizes` each adapter has
 * a size per layer (`serialAdapter.size.<i>`, 0 = none in that layer), active only while the
 * layer is on; the prefix keeps one length (its MLP makes every layer's prefix from the same
 * p vectors).
 */
export const autopeftPreset: Preset = {
  name: 'autopeft',
  description: 'AutoPEFT: serial adapter, parallel adapter and prefix sizes {d, d/2, ..., 1, off} and a shared per-layer switch',
  options: ['perLayerSizes'],
  space(shape, options = {}) {
    const sizes = [...halvingSizes(shape.hiddenSize), 0];
    const prefix: SearchSpace[string] = { type: 'categorical', choices: sizes.filter((s) => s <= longestDefaultPrefix(shape)) };
    if (options.perLayerSizes !== true) {
      return {
        [SERIAL]: { type: 'categorical', choices: sizes },
        [PARALLEL]: { type: 'categorical', choices: sizes },
        [PREFIX]: prefix,
        ...layerSwitches(shape),
      };
    }
    const space: SearchSpace = { [PREFIX]: prefix, ...layerSwitches(shape) };
    for (let i = 0; i < shape.numLayers; i++) {
      space[perLayerParam(SERIAL, i)] = { type: 'categorical', choices: sizes, ...inLayer(i) };
      space[perLayerParam(PARALLEL, i)] = { type: 'categorical', choices: sizes, ...inLayer(i) };
    }
    return space;
  },
  toConfig(point, shape) {
    return { peft: adapterModules(point, shape, activeLayers(point), () => true) };
  },
  isValid(point) {
    const layers = activeLayers(point);
    return layers.length > 0 && (someLayerSize(point, SERIAL, layers) || someLayerSize(point, PARALLEL, layers) || Number(point[PREFIX] ?? 0) > 0);
  },
  validity: `some layer switch (${layerParam(0)}, ...) true and some module size (${SERIAL}, ${PARALLEL}, ${PREFIX}, or a per-layer ${SERIAL}.<i>, ${PARALLEL}.<i> of a layer that is on) above 0`,
  checkSpace(space, shape) {
    const sizes = moduleSizeRules(shape, 0);
    checkParameters(space, (name) => sizes[name] ?? perLayerRule(name, shape, perLayerRules(sizes)) ?? layerRule(name, shape), knownNames(sizes, [SERIAL, PARALLEL], shape));
  },
};

/** The rules of the sizes that may be given per layer (all but the prefix's length). */
function perLayerRules(rules: Record<string, ParameterRule>): Record<string, ParameterRule> {
  const { [PREFIX]: _prefix, ...perLayer } = rules;
  return perLayer;
}

/** Parameter name of a LoRA target's rank (0 = the target carries no LoRA). */
export function loraRankParam(target: LoraTarget): string {
  return `lora.rank.${target}`;
}

/** The on/off switches of the autopeft-lora space. */
const MODULE_SWITCHES = ['serialAdapter.on', 'parallelAdapter.on', 'prefix.on', 'lora.on', 'ia3.on', 'bitfit.on'] as const;

/**
 * AutoPEFT plus LoRA, (IA)3 and BitFit. Every module has an on/off switch; its size is a
 * conditional parameter present only when the module is on: serial/parallel adapter sizes and
 * prefix lengths from {d, ..., 1}, a LoRA rank per target from {0, 1, ..., 64} (0 = that
 * target off; LoRA alpha = 2 × the largest rank). The per-layer switches are shared by all
 * modules. Valid: some layer on and some module on (LoRA counts as on only with a rank > 0).
 * With `perLayerSizes` the adapter sizes and the LoRA ranks are per layer too
 * (`serialAdapter.size.<i>`, `lora.rank.<target>.<i>`), each active only while both its module
 * and its layer are on; a per-layer rank of 0 leaves that projection of that layer without LoRA.
 */
export const autopeftLoraPreset: Preset = {
  name: 'autopeft-lora',
  description: 'AutoPEFT space plus LoRA rank per target, (IA)3 and BitFit switches; sizes conditional on module switches',
  options: ['perLayerSizes'],
  space(shape, options = {}) {
    const sizes = halvingSizes(shape.hiddenSize);
    const perLayer = options.perLayerSizes === true;
    const on = (parent: string): { condition: { parent: string; values: boolean[] } } => ({ condition: { parent, values: [true] } });
    const space: SearchSpace = {
      'serialAdapter.on': { type: 'categorical', choices: [true, false] },
      ...(perLayer ? {} : { [SERIAL]: { type: 'categorical', choices: sizes, ...on('serialAdapter.on') } }),
      'parallelAdapter.on': { type: 'categorical', choices: [true, false] },
      ...(perLayer ? {} : { [PARALLEL]: { type: 'categorical', choices: sizes, ...on('parallelAdapter.on') } }),
      'prefix.on': { type: 'categorical', choices: [true, false] },
      [PREFIX]: { type: 'categorical', choices: sizes.filter((s) => s <= longestDefaultPrefix(shape)), ...on('prefix.on') },
      'lora.on': { type: 'categorical', choices: [true, false] },
      'ia3.on': { type: 'categorical', choices: [true, false] },
      'bitfit.on': { type: 'categorical', choices: [true, false] },
      ...layerSwitches(shape),
    };
    const ranks = [0, ...loraRanks(shape)];
    if (!perLayer) {
      for (const target of LORA_TARGETS) space[loraRankParam(target)] = { type: 'categorical', choices: ranks, ...on('lora.on') };
      return space;
    }
    for (let i = 0; i < shape.numLayers; i++) {
      space[perLayerParam(SERIAL, i)] = { type: 'categorical', choices: sizes, ...inLayer(i, 'serialAdapter.on') };
      space[perLayerParam(PARALLEL, i)] = { type: 'categorical', choices: sizes, ...inLayer(i, 'parallelAdapter.on') };
      for (const target of LORA_TARGETS) space[perLayerParam(loraRankParam(target), i)] = { type: 'categorical', choices: ranks, ...inLayer(i, 'lora.on') };
    }
    return space;
  },
  toConfig(point, shape) {
    const layers = activeLayers(point);
    const peft = adapterModules(point, shape, layers, (module) => point[`${module}.on`] === true);
    const lora = loraFields(loraRankGrid(point, layers));
    if (lora) peft.lora = { rank: lora.rank, alpha: 2 * lora.rank, dropout: 0, targets: lora.targets, layers: lora.layers, ...lora.sizes };
    if (point['ia3.on'] === true) peft.ia3 = { layers };
    if (point['bitfit.on'] === true) peft.bitfit = { layers };
    return { peft };
  },
  isValid(point) {
    const layers = activeLayers(point);
    if (layers.length === 0) return false;
    const loraOn = point['lora.on'] === true && loraFields(loraRankGrid(point, layers)) !== undefined;
    if (point['lora.on'] === true && !loraOn) return false;
    return loraOn || ['serialAdapter.on', 'parallelAdapter.on', 'prefix.on', 'ia3.on', 'bitfit.on'].some((k) => point[k] === true);
  },
  validity: 'some layer switch (layer.0, ...) true and some module on (lora.on counts only with some lora.rank.<target> (or lora.rank.<target>.<i> of a layer that is on) above 0)',
  checkSpace(space, shape) {
    const rules: Record<string, ParameterRule> = { ...moduleSizeRules(shape, 0) };
    for (const name of MODULE_SWITCHES) rules[name] = { kind: 'switch' };
    for (const target of LORA_TARGETS) {
      const { dIn, dOut } = loraTargetDims(target, shape);
      const max = Math.min(dIn, dOut);
      rules[loraRankParam(target)] = { kind: 'size', min: 0, max, what: `the LoRA rank of ${target} (at most min(d_in, d_out) = ${max}; 0 = off)` };
    }
    const perLayerBases = [SERIAL, PARALLEL, ...LORA_TARGETS.map(loraRankParam)];
    checkParameters(space, (name) => rules[name] ?? perLayerRule(name, shape, perLayerRules(rules)) ?? layerRule(name, shape), knownNames(rules, perLayerBases, shape));
  },
};

/** Each switched-on layer's LoRA rank per target (0 = none there); empty when LoRA is off. */
function loraRankGrid(point: SearchPoint, layers: readonly number[]): Map<LoraTarget, Map<number, number>> {
  const grid = new Map<LoraTarget, Map<number, number>>();
  if (point['lora.on'] !== true) return grid;
  for (const target of LORA_TARGETS) grid.set(target, layerSizes(point, loraRankParam(target), layers));
  return grid;
}

/**
 * LoRA's fields from its rank at every (target, layer): the targets and layers that carry some
 * factor, the largest rank as `rank`; `rankPerTarget` when each target keeps one rank over its
 * layers (the one-size-per-target form, exactly as without per-layer sizes), else `rankByLayer`
 * for the sites that differ from `rank`.
 */
function loraFields(grid: ReadonlyMap<LoraTarget, ReadonlyMap<number, number>>): { rank: number; targets: LoraTarget[]; layers: number[]; sizes: Pick<LoraModuleConfig, 'rankPerTarget' | 'rankByLayer'> } | undefined {
  const at = (t: LoraTarget, layer: number): number => grid.get(t)?.get(layer) ?? 0;
  const allLayers = [...new Set([...grid.values()].flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  const targets = LORA_TARGETS.filter((t) => allLayers.some((layer) => at(t, layer) > 0));
  const layers = allLayers.filter((layer) => targets.some((t) => at(t, layer) > 0));
  if (targets.length === 0) return undefined;
  const rank = Math.max(...targets.flatMap((t) => layers.map((layer) => at(t, layer))));
  const uniform = targets.every((t) => layers.every((layer) => at(t, layer) === at(t, layers[0]!)));
  if (uniform) {
    const rankPerTarget: Partial<Record<LoraTarget, number>> = {};
    for (const t of targets) if (at(t, layers[0]!) !== rank) rankPerTarget[t] = at(t, layers[0]!);
    return { rank, targets, layers, sizes: Object.keys(rankPerTarget).length > 0 ? { rankPerTarget } : {} };
  }
  const rankByLayer: Record<string, Partial<Record<LoraTarget, number>>> = {};
  for (const layer of layers) {
    const differing: Partial<Record<LoraTarget, number>> = {};
    for (const t of targets) if (at(t, layer) !== rank) differing[t] = at(t, layer);
    if (Object.keys(differing).length > 0) rankByLayer[String(layer)] = differing;
  }
  return { rank, targets, layers, sizes: { rankByLayer } };
}

/** The LoRA space of lora-space.ts (user spaces may use its parameter names). */
export const loraPreset: Preset = {
  name: 'lora',
  description: 'LoRA: rank, alpha, targets, layers and learning rate',
  space: defaultLoraSpace,
  toConfig: loraPointToConfig,
  isValid: () => true,
  validity: 'any point (every LoRA point builds)',
  checkSpace: validateLoraSpace,
};

/** Every preset by name. */
export const PRESETS = { lora: loraPreset, autopeft: autopeftPreset, 'autopeft-lora': autopeftLoraPreset, survey: surveyPreset } as const;

/** A preset name. */
export type PresetName = keyof typeof PRESETS;

/** Names of the presets. */
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** The preset of a name. */
export function getPreset(name: PresetName): Preset {
  return PRESETS[name];
}

/** Options of presetObjectives. */
export interface PresetObjectiveOptions {
  /** Parameters added to every configuration (e.g. the task head). @defaultValue 0 */
  extraParams?: number;
  /** Constraint: at most this percentage of the base model's parameters trainable. */
  maxTrainablePercent?: number;
}

/**
 * The study's objectives for a preset: maximise the metric (modelled), minimise trainable
 * parameters (computed exactly with countPeftParams, 'stored' mode, plus `extraParams`).
 */
export function presetObjectives(preset: Preset, shape: EncoderShape, options: PresetObjectiveOptions = {}): ObjectiveSpec[] {
  const extra = options.extraParams ?? 0;
  const params: ObjectiveSpec = { direction: 'minimize', compute: (point) => countPeftParams(preset.toConfig(point, shape).peft, shape) + extra };
  if (options.maxTrainablePercent !== undefined) {
    if (!(options.maxTrainablePercent > 0)) throw new InvalidSearchSpaceError('', `maxTrainablePercent must be > 0, but got ${options.maxTrainablePercent}`);
    params.max = (options.maxTrainablePercent / 100) * countBaseParams(shape);
  }
  return [{ direction: 'maximize' }, params];
}
