/**
 * Pieces the presets share: module sizes, per-layer switches, and the checks of a user-given
 * space's parameters.
 */
import type { Condition, SearchSpace } from './space.js';
import { InvalidSearchSpaceError } from './space.js';
import { checkSizeDistribution } from './size-rules.js';
import type { EncoderShape, SearchPoint } from './types.js';

/** Width of the prefix reparameterising MLP: AutoPEFT's 800, but at most 4d for small models. */
export function prefixReparamSize(shape: EncoderShape): number {
  return Math.min(800, 4 * shape.hiddenSize);
}

/** Bottleneck sizes d, d/2, ..., 1 (AutoPEFT: k = 0..⌊log2 d⌋, d / 2^k rounded down, at least 1). */
export function halvingSizes(hiddenSize: number): number[] {
  const sizes: number[] = [];
  for (let k = 0; k <= Math.floor(Math.log2(hiddenSize)); k++) sizes.push(Math.max(1, Math.floor(hiddenSize / 2 ** k)));
  return [...new Set(sizes)];
}

/** Parameter name of layer i's switch. */
export function layerParam(i: number): string {
  return `layer.${i}`;
}

/** The layers whose switch is on in a point, ascending. */
export function activeLayers(point: SearchPoint): number[] {
  return Object.keys(point)
    .filter((k) => k.startsWith('layer.') && point[k] === true)
    .map((k) => Number(k.slice(6)))
    .sort((a, b) => a - b);
}

/** Parameter name of a module size in layer i: `serialAdapter.size.3`, `lora.rank.query.3`. */
export function perLayerParam(base: string, i: number): string {
  return `${base}.${i}`;
}

/**
 * A module's size in each of `layers`: its per-layer parameter where the point has one, else
 * its one size for every layer, else 0 (off). So one mapping serves both forms of a space.
 */
export function layerSizes(point: SearchPoint, base: string, layers: readonly number[]): Map<number, number> {
  return new Map(layers.map((layer) => [layer, Number(point[perLayerParam(base, layer)] ?? point[base] ?? 0)]));
}

/** The condition of a per-layer size: its layer on, and each of `switches` (a module's on/off) true. */
export function inLayer(i: number, ...switches: string[]): { condition: Condition } {
  const condition: Condition = { parent: layerParam(i), values: [true] };
  if (switches.length > 0) condition.and = switches.map((parent) => ({ parent, values: [true] }));
  return { condition };
}

/**
 * The rule of a per-layer size `<base>.<i>`: the rule of `base` from `rules`, for a layer the
 * model has; undefined when the name is not of that form.
 */
export function perLayerRule(name: string, shape: EncoderShape, rules: Readonly<Record<string, ParameterRule>>): ParameterRule | undefined {
  const match = /^(.+)\.(\d+)$/.exec(name);
  const base = match ? rules[match[1]!] : undefined;
  if (!match || !base || base.kind !== 'size') return undefined;
  const index = Number(match[2]);
  if (index >= shape.numLayers || String(index) !== match[2]) {
    throw new InvalidSearchSpaceError(name, `the base model has layers 0..${shape.numLayers - 1}, so there is no layer ${match[2]}`);
  }
  return { ...base, what: `${base.what} in layer ${index}` };
}

/** One on/off switch per layer of the model. */
export function layerSwitches(shape: EncoderShape): SearchSpace {
  const space: SearchSpace = {};
  for (let i = 0; i < shape.numLayers; i++) space[layerParam(i)] = { type: 'categorical', choices: [true, false] };
  return space;
}

/** How a user-given parameter of a preset's space is checked: its kind and its bounds. */
export type ParameterRule = { kind: 'switch' } | { kind: 'size'; max: number; min: number; what: string };

/**
 * Checks every parameter of a space against the preset's rules: a name the preset knows, a
 * switch with boolean choices, a size with integer values in [min, max]. Names the culprit.
 */
export function checkParameters(space: SearchSpace, rules: (name: string) => ParameterRule | undefined, known: string): void {
  for (const [name, dist] of Object.entries(space)) {
    const rule = rules(name);
    if (!rule) throw new InvalidSearchSpaceError(name, `unknown parameter for this preset; known: ${known}`);
    if (rule.kind === 'switch') {
      if (dist.type !== 'categorical' || dist.choices.some((c) => typeof c !== 'boolean')) {
        throw new InvalidSearchSpaceError(name, 'a switch must be categorical with choices true and/or false');
      }
      continue;
    }
    checkSizeDistribution(name, dist, rule.min, rule.max, rule.what);
  }
}

/** The rule of a layer switch `layer.i`: only for layers the model has. */
export function layerRule(name: string, shape: EncoderShape): ParameterRule | undefined {
  const match = /^layer\.(\d+)$/.exec(name);
  if (!match) return undefined;
  const index = Number(match[1]);
  if (index >= shape.numLayers || String(index) !== match[1]) {
    throw new InvalidSearchSpaceError(name, `the base model has layers 0..${shape.numLayers - 1}, so there is no layer ${match[1]}`);
  }
  return { kind: 'switch' };
}

/** LoRA ranks searched per target: 1..64, at most d/4. */
export function loraRanks(shape: EncoderShape): number[] {
  return [1, 2, 4, 8, 16, 32, 64].filter((r) => r <= Math.max(1, shape.hiddenSize / 4));
}

