/**
 * The `survey` preset: the survey's paradigms as the first choice. `family` picks additive
 * (a Pfeiffer serial adapter), selective (RoCoFT rows, BitFit or LayerNorm tuning),
 * reparameterised (LoRA, DoRA, LoRA-FA, PiSSA, AdaLoRA, VeRA or FourierFT on query and value) or hybrid
 * (MAM: prefix-tuning plus a parallel adapter); each family's method and sizes are conditional
 * on it, and one switch per layer places whatever was chosen.
 */
import type { ParameterRule } from './preset-parts.js';
import { activeLayers, checkParameters, halvingSizes, layerRule, layerSwitches, loraRanks, prefixReparamSize } from './preset-parts.js';
import type { Preset } from './presets.js';
import type { SearchSpace } from './space.js';
import { InvalidSearchSpaceError } from './space.js';
import type { EncoderShape, LoraTarget, PeftConfig, SearchPoint } from './types.js';
import { LORA_TARGETS } from './types.js';

/** The four families, in the survey's order. */
export const SURVEY_FAMILIES = ['additive', 'selective', 'reparameterised', 'hybrid'] as const;
const SELECTIVE = ['rocoft', 'bitfit', 'layerNorm'] as const;
const REPARAMETERISED = ['lora', 'dora', 'loraFa', 'pissa', 'adalora', 'vera', 'fourierft'] as const;
const LOW_RANK = ['lora', 'dora', 'loraFa', 'pissa', 'adalora'];
/** Where the reparameterised methods act (the survey's "attention" rows: query and value). */
const QV: LoraTarget[] = ['query', 'value'];

const when = (parent: string, ...values: (string | number | boolean)[]): { condition: { parent: string; values: (string | number | boolean)[] } } => ({ condition: { parent, values } });

/** VeRA's shared ranks: d/8 .. d (VeRA's rank is large: the projections are free). */
const veraRanks = (shape: EncoderShape): number[] => [...new Set([8, 4, 2, 1].map((f) => Math.max(1, Math.floor(shape.hiddenSize / f))))];
/** FourierFT's coefficients per projection: d/2, d, 2d (at most d^2). */
const fourierSizes = (shape: EncoderShape): number[] => [...new Set([0.5, 1, 2].map((f) => Math.max(1, Math.floor(f * shape.hiddenSize))))];

/** The PEFT configuration of a survey point on `layers`. */
function surveyConfig(point: SearchPoint, shape: EncoderShape, layers: number[]): PeftConfig {
  const num = (name: string): number => Number(point[name]);
  switch (point.family) {
    case 'additive':
      return { serialAdapter: { placement: 'pfeiffer', size: num('additive.size'), layers, activation: 'relu' } };
    case 'selective': {
      const method = point['selective.method'];
      if (method === 'rocoft') return { rocoft: { k: num('rocoft.k'), mode: 'row', targets: [...LORA_TARGETS], layers } };
      return method === 'bitfit' ? { bitfit: { layers } } : { layerNorm: { layers } };
    }
    case 'reparameterised': {
      const method = String(point['reparameterised.method']);
      if (method === 'vera') return { vera: { rank: num('vera.rank'), targets: QV, layers, projectionSeed: 0 } };
      if (method === 'fourierft') return { fourierft: { frequencies: num('fourierft.frequencies'), scaling: 150, targets: QV, layers, locationSeed: 777 } };
      const rank = num('reparameterised.rank');
      // AdaLoRA's rank is its target average: it starts 1.5 times larger (PEFT's 12 -> 8), falls
      // after the first tenth of the steps and holds for the last fifth.
      if (method === 'adalora') {
        return { adalora: { initRank: Math.ceil(1.5 * rank), targetRank: rank, alpha: 2 * rank, targets: QV, layers, initialFraction: 0.1, finalFraction: 0.2 } };
      }
      const lowRank = { rank, alpha: 2 * rank, targets: QV, layers };
      if (method === 'pissa') return { pissa: lowRank };
      return { [method]: { ...lowRank, dropout: 0 } } as PeftConfig;
    }
    default:
      return {
        prefix: { length: num('hybrid.prefix'), layers, reparamSize: prefixReparamSize(shape) },
        parallelAdapter: { size: num('hybrid.parallel'), layers, scaling: 4, activation: 'relu' },
      };
  }
}

/** The size rules of the survey space's parameters (for user-given spaces). */
function surveyRules(shape: EncoderShape): Record<string, ParameterRule> {
  const d = shape.hiddenSize;
  return {
    'additive.size': { kind: 'size', min: 1, max: d, what: `the serial adapter's bottleneck (at most the hidden size ${d})` },
    'rocoft.k': { kind: 'size', min: 1, max: d, what: `RoCoFT's rows per matrix (at most ${d})` },
    'reparameterised.rank': { kind: 'size', min: 1, max: Math.floor(d / 2), what: `the low-rank methods' rank (at most d/2 = ${Math.floor(d / 2)}: PiSSA stores rank 2r, AdaLoRA starts at 1.5r)` },
    'vera.rank': { kind: 'size', min: 1, max: d, what: `VeRA's shared rank (at most ${d})` },
    'fourierft.frequencies': { kind: 'size', min: 1, max: d * d, what: `FourierFT's coefficients per projection (at most d^2 = ${d * d})` },
    'hybrid.prefix': { kind: 'size', min: 1, max: shape.maxPositions, what: `the prefix length (at most the model's ${shape.maxPositions} positions)` },
    'hybrid.parallel': { kind: 'size', min: 1, max: d, what: `the parallel adapter's bottleneck (at most the hidden size ${d})` },
  };
}

/** Categorical parameters whose values are names, and the names allowed. */
const CHOICES: Record<string, readonly string[]> = { family: SURVEY_FAMILIES, 'selective.method': SELECTIVE, 'reparameterised.method': REPARAMETERISED };

export const surveyPreset: Preset = {
  name: 'survey',
  description: "the survey's paradigms: family (additive, selective, reparameterised, hybrid), then its method and sizes, and per-layer switches",
  space(shape) {
    const sizes = halvingSizes(shape.hiddenSize);
    return {
      family: { type: 'categorical', choices: [...SURVEY_FAMILIES] },
      'additive.size': { type: 'categorical', choices: sizes, ...when('family', 'additive') },
      'selective.method': { type: 'categorical', choices: [...SELECTIVE], ...when('family', 'selective') },
      'rocoft.k': { type: 'categorical', choices: [1, 2, 3], ...when('selective.method', 'rocoft') },
      'reparameterised.method': { type: 'categorical', choices: [...REPARAMETERISED], ...when('family', 'reparameterised') },
      'reparameterised.rank': { type: 'categorical', choices: loraRanks(shape), ...when('reparameterised.method', ...LOW_RANK) },
      'vera.rank': { type: 'categorical', choices: veraRanks(shape), ...when('reparameterised.method', 'vera') },
      'fourierft.frequencies': { type: 'categorical', choices: fourierSizes(shape), ...when('reparameterised.method', 'fourierft') },
      'hybrid.prefix': { type: 'categorical', choices: sizes.filter((s) => s <= Math.min(shape.maxPositions, 16)), ...when('family', 'hybrid') },
      'hybrid.parallel': { type: 'categorical', choices: sizes, ...when('family', 'hybrid') },
      ...layerSwitches(shape),
    } satisfies SearchSpace;
  },
  toConfig(point, shape) {
    return { peft: surveyConfig(point, shape, activeLayers(point)) };
  },
  isValid: (point) => activeLayers(point).length > 0 && SURVEY_FAMILIES.includes(point.family as (typeof SURVEY_FAMILIES)[number]),
  validity: 'some layer switch (layer.0, ...) true and a family',
  checkSpace(space, shape) {
    const sizes = surveyRules(shape);
    for (const [name, allowed] of Object.entries(CHOICES)) {
      const dist = space[name];
      if (dist && (dist.type !== 'categorical' || dist.choices.some((c) => !allowed.includes(String(c))))) {
        throw new InvalidSearchSpaceError(name, `must be categorical with choices from ${allowed.join(', ')}`);
      }
    }
    const rest = Object.fromEntries(Object.entries(space).filter(([name]) => !(name in CHOICES)));
    checkParameters(rest, (name) => sizes[name] ?? layerRule(name, shape), `${[...Object.keys(CHOICES), ...Object.keys(sizes)].join(', ')}, layer.0..layer.${shape.numLayers - 1}`);
  },
};
