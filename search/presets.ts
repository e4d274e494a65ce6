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
import type { EncoderShape, LoraTarget, PeftConfig, SearchPoint } from './types.js';

export type { TrialConfiguration } from './lora-space.js';
import { surveyPreset } from './survey-preset.js';
import type { ParameterRule } from './preset-parts.js';
import { longestDefaultPrefix } from './positions.js';
import { activeLayers, checkParameters, halvingSizes, layerParam, layerRule, layerSwitches, loraRanks, prefixReparamSize } from './preset-parts.js';

export { halvingSizes, layerParam, prefixReparamSize } from './preset-parts.js';

/** A named search space for a base model and its meaning. */
export interface Preset {
  readonly name: string;
  readonly description: string;
  /** The preset's default space for a base model. */
  space(shape: EncoderShape): SearchSpace;
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

/** The serial + parallel adapter + prefix modules on shared layers (sizes 0 = off). */
function adapterModules(point: SearchPoint, shape: EncoderShape, layers: number[]): PeftConfig {
  const peft: PeftConfig = {};
  const serial = Number(point[SERIAL] ?? 0);
  const parallel = Number(point[PARALLEL] ?? 0);
  const prefix = Number(point[PREFIX] ?? 0);
  if (serial > 0) peft.serialAdapter = { placement: 'pfeiffer', size: serial, layers, activation: 'relu' };
  if (parallel > 0) peft.parallelAdapter = { size: parallel, layers, scaling: 4, activation: 'relu' };
  if (prefix > 0) peft.prefix = { length: prefix, layers, reparamSize: prefixReparamSize(shape) };
  return peft;
}

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

/**
 * AutoPEFT's space: serial adapter, parallel adapter and prefix sizes from {d, d/2, ..., 1, 0}
 * (0 = off), one switch per layer shared by the three modules. Serial adapter: Pfeiffer
 * placement, ReLU; parallel adapter: scaling 4, ReLU; prefix: reparameterising MLP of width
 * min(800, 4d). Valid: some layer on and some module on.
 */
export const autopeftPreset: Preset = {
  name: 'autopeft',
  description: 'AutoPEFT: serial adapter, parallel adapter and prefix sizes {d, d/2, ..., 1, off} and a shared per-layer switch',
  space(shape) {
    const sizes = [...halvingSizes(shape.hiddenSize), 0];
    return {
      [SERIAL]: { type: 'categorical', choices: sizes },
      [PARALLEL]: { type: 'categorical', choices: sizes },
      [PREFIX]: { type: 'categorical', choices: sizes.filter((s) => s <= longestDefaultPrefix(shape)) },
      ...layerSwitches(shape),
    };
  },
  toConfig(point, shape) {
    return { peft: adapterModules(point, shape, activeLayers(point)) };
  },
  isValid(point) {
    return activeLayers(point).length > 0 && [SERIAL, PARALLEL, PREFIX].some((k) => Number(point[k] ?? 0) > 0);
  },
  validity: `some layer switch (${layerParam(0)}, ...) true and some module size (${SERIAL}, ${PARALLEL}, ${PREFIX}) above 0`,
  checkSpace(space, shape) {
    const sizes = moduleSizeRules(shape, 0);
    checkParameters(space, (name) => sizes[name] ?? layerRule(name, shape), `${Object.keys(sizes).join(', ')}, layer.0..layer.${shape.numLayers - 1}`);
  },
};

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
 * Sizes are per module, not per layer: PeftConfig holds one size per module.
 */
export const autopeftLoraPreset: Preset = {
  name: 'autopeft-lora',
  description: 'AutoPEFT space plus LoRA rank per target, (IA)3 and BitFit switches; sizes conditional on module switches',
  space(shape) {
    const sizes = halvingSizes(shape.hiddenSize);
    const on = (parent: string): { condition: { parent: string; values: boolean[] } } => ({ condition: { parent, values: [true] } });
    const space: SearchSpace = {
      'serialAdapter.on': { type: 'categorical', choices: [true, false] },
      [SERIAL]: { type: 'categorical', choices: sizes, ...on('serialAdapter.on') },
      'parallelAdapter.on': { type: 'categorical', choices: [true, false] },
      [PARALLEL]: { type: 'categorical', choices: sizes, ...on('parallelAdapter.on') },
      'prefix.on': { type: 'categorical', choices: [true, false] },
      [PREFIX]: { type: 'categorical', choices: sizes.filter((s) => s <= longestDefaultPrefix(shape)), ...on('prefix.on') },
      'lora.on': { type: 'categorical', choices: [true, false] },
      'ia3.on': { type: 'categorical', choices: [true, false] },
      'bitfit.on': { type: 'categorical', choices: [true, false] },
      ...layerSwitches(shape),
    };
    for (const target of LORA_TARGETS) space[loraRankParam(target)] = { type: 'categorical', choices: [0, ...loraRanks(shape)], ...on('lora.on') };
    return space;
  },
  toConfig(point, shape) {
    const layers = activeLayers(point);
    const peft = adapterModules(
      {
        [SERIAL]: point['serialAdapter.on'] === true ? (point[SERIAL] ?? 0) : 0,
        [PARALLEL]: point['parallelAdapter.on'] === true ? (point[PARALLEL] ?? 0) : 0,
        [PREFIX]: point['prefix.on'] === true ? (point[PREFIX] ?? 0) : 0,
      },
      shape,
      layers,
    );
    const ranks = loraRanksOf(point);
    const targets = LORA_TARGETS.filter((t) => (ranks[t] ?? 0) > 0);
    if (targets.length > 0) {
      const rank = Math.max(...targets.map((t) => ranks[t]!));
      const rankPerTarget: Partial<Record<LoraTarget, number>> = {};
      for (const t of targets) if (ranks[t] !== rank) rankPerTarget[t] = ranks[t]!;
      peft.lora = { rank, alpha: 2 * rank, dropout: 0, targets, layers, ...(Object.keys(rankPerTarget).length ? { rankPerTarget } : {}) };
    }
    if (point['ia3.on'] === true) peft.ia3 = { layers };
    if (point['bitfit.on'] === true) peft.bitfit = { layers };
    return { peft };
  },
  isValid(point) {
    if (activeLayers(point).length === 0) return false;
    const loraOn = point['lora.on'] === true && Object.values(loraRanksOf(point)).some((r) => r > 0);
    if (point['lora.on'] === true && !loraOn) return false;
    return loraOn || ['serialAdapter.on', 'parallelAdapter.on', 'prefix.on', 'ia3.on', 'bitfit.on'].some((k) => point[k] === true);
  },
  validity: 'some layer switch (layer.0, ...) true and some module on (lora.on counts only with some lora.rank.<target> above 0)',
  checkSpace(space, shape) {
    const rules: Record<string, ParameterRule> = { ...moduleSizeRules(shape, 0) };
    for (const name of MODULE_SWITCHES) rules[name] = { kind: 'switch' };
    for (const target of LORA_TARGETS) {
      const { dIn, dOut } = loraTargetDims(target, shape);
      const max = Math.min(dIn, dOut);
      rules[loraRankParam(target)] = { kind: 'size', min: 0, max, what: `the LoRA rank of ${target} (at most min(d_in, d_out) = ${max}; 0 = off)` };
    }
    checkParameters(space, (name) => rules[name] ?? layerRule(name, shape), `${Object.keys(rules).join(', ')}, layer.0..layer.${shape.numLayers - 1}`);
  },
};

function loraRanksOf(point: SearchPoint): Partial<Record<LoraTarget, number>> {
  const ranks: Partial<Record<LoraTarget, number>> = {};
  if (point['lora.on'] !== true) return ranks;
  for (const target of LORA_TARGETS) ranks[target] = Number(point[loraRankParam(target)] ?? 0);
  return ranks;
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
