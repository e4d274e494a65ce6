/** AdaLoRA (Zhang et al. 2023), the pure half: SVD-form updates whose ranks are allocated to a budget while training. */
import { loraTargetDims } from '../target-dims.js';
import type { AdaloraConfig, EncoderShape } from '../types.js';
import { checkLayers, checkPositiveInt, checkTargets, failer } from './checks.js';
import { perSiteCount, targetChip, targetRows } from './lora.js';
import type { MethodSpec } from './spec.js';

/** The defaults of the optional fields (Hugging Face PEFT's `AdaLoraConfig` defaults). */
export const ADALORA_DEFAULTS = { dropout: 0, initialFraction: 0, finalFraction: 0, deltaT: 1, beta1: 0.85, beta2: 0.85, orthRegWeight: 0.5 } as const;

/** Throws naming the field when an AdaLoRA configuration cannot be built. */
export function validateAdalora(config: AdaloraConfig, shape: EncoderShape): void {
  const fail = failer('AdaLoRA');
  checkPositiveInt(fail, 'initRank', config.initRank);
  checkPositiveInt(fail, 'targetRank', config.targetRank);
  if (config.targetRank > config.initRank) fail(`targetRank ${config.targetRank} is more than initRank ${config.initRank}: the allocator only removes ranks`);
  if (!(Number.isFinite(config.alpha) && config.alpha > 0)) fail(`alpha must be positive, got ${config.alpha}`);
  const dropout = config.dropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) fail(`dropout must be in [0, 1), got ${dropout}`);
  checkTargets(fail, config.targets);
  checkLayers(fail, config.layers, shape);
  for (const target of config.targets) {
    const { dIn, dOut } = loraTargetDims(target, shape);
    if (config.initRank > Math.min(dIn, dOut)) fail(`initRank ${config.initRank} is more than min(d_in, d_out) = ${Math.min(dIn, dOut)} of ${target}`);
  }
  const initial = config.initialFraction ?? 0;
  const final = config.finalFraction ?? 0;
  for (const [name, value] of [['initialFraction', initial], ['finalFraction', final]] as const) {
    if (!(value >= 0 && value < 1)) fail(`${name} must be in [0, 1), got ${value}`);
  }
  if (!(initial + final < 1)) fail(`initialFraction + finalFraction must be below 1 (the budget needs steps to fall), got ${initial + final}`);
  if (config.deltaT !== undefined) checkPositiveInt(fail, 'deltaT', config.deltaT);
  for (const name of ['beta1', 'beta2'] as const) {
    const value = config[name];
    if (value !== undefined && !(value > 0 && value < 1)) fail(`${name} must be in (0, 1), got ${value}`);
  }
  // PEFT refuses to train with a weight of 0 (its forward raises), so its export could not either.
  if (config.orthRegWeight !== undefined && !(Number.isFinite(config.orthRegWeight) && config.orthRegWeight > 0)) fail(`orthRegWeight must be positive, got ${config.orthRegWeight}`);
}

export const adaloraSpec: MethodSpec<AdaloraConfig> = {
  title: 'AdaLoRA',
  paradigm: 'reparameterised',
  validate: validateAdalora,
  count(config, shape) {
    // P, E and Q at their initial rank: the allocator zeroes singular values, it never shrinks a
    // tensor, so training and the project's download both hold initRank (d_in + d_out + 1) per
    // projection (PEFT's trainable count; its own download keeps only the unmasked ranks).
    const n = perSiteCount({ ...config, rank: config.initRank }, shape, ({ dIn, dOut }, r) => r * (dIn + dOut + 1));
    return { stored: n, training: n };
  },
  grid: (config) => ({ rows: targetRows('adalora', 'AdaLoRA', 'initial rank', config, () => config.initRank), notes: [`AdaLoRA target average rank ${config.targetRank}, alpha ${config.alpha}`] }),
  chips: (config) => [
    targetChip(`AdaLoRA r${config.initRank}→${config.targetRank}`, `AdaLoRA initial rank ${config.initRank}, target average rank ${config.targetRank}, alpha ${config.alpha}`, config.targets),
  ],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ adalora: { initRank: 3, targetRank: 2, alpha: 4, targets: ['query', 'ffnIn'], layers: [0, 2], initialFraction: 0.25, finalFraction: 0.25 } }),
};
