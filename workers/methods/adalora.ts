/** AdaLoRA (Zhang et al. 2023): SVD-form updates whose ranks are allocated to a budget while training. */
import { ADALORA_DEFAULTS, adaloraSpec } from '../../search/methods/adalora.js';
import type { AdaloraConfig } from '../../search/types.js';
import { peftModulePath, projectionPath, storedWeight } from '../export/hf-peft-parts.js';
import { AdaloraModule } from '../peft/adalora.js';
import { adaloraSchedule } from '../peft/adalora-schedule.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { loraPeftConfig, loraSites } from './lora.js';
import type { HfPeftContext, HfPeftPart, PeftMethod } from './method.js';

/**
 * PEFT's `total_step` when the exporter is not told the trial's steps: the schedule's fractions
 * are written against it. PEFT needs a value to load the config; only further training reads it.
 */
const NOMINAL_TOTAL_STEPS = 1000;

/**
 * PEFT's files of an AdaLoRA adapter, written from what its loader expects
 * (`AdaLoraModel._remap_adapter_state_dict_for_load` and `resize_modules_by_rank_pattern`):
 * per projection `lora_A` `[r, in]`, `lora_E` `[r, 1]` and `lora_B` `[out, r]` (parameters, so
 * no `.weight` suffix). When some singular value is masked (zero), the tensors keep only the
 * ranks that carry the update and `rank_pattern` maps each projection's
 * `{backbone}…{module}.lora_E` to its initRank booleans, which PEFT resizes its modules by
 * before loading, as its own `save_pretrained` writes it after an allocation. Dropping a zero
 * singular value changes nothing: the exported adapter computes exactly what trained.
 */
function writeAdalora(config: AdaloraConfig, ctx: HfPeftContext): HfPeftPart {
  const r = config.initRank;
  const sites = config.layers.flatMap((layer) =>
    loraSites({ ...config, rank: r }).map(({ target }) => {
      const path = projectionPath(layer, target);
      const a = storedWeight(ctx.weights, `${path}.adalora_A.kernel`);
      const e = storedWeight(ctx.weights, `${path}.adalora_E`);
      const b = storedWeight(ctx.weights, `${path}.adalora_B.kernel`);
      return { layer, target, a, e, b, kept: Array.from(e.data, (v) => v !== 0) };
    }),
  );
  const masked = sites.some((s) => !s.kept.every(Boolean));
  const tensors = sites.flatMap(({ layer, target, a, e, b, kept }) => {
    const ranks = kept.flatMap((k, i) => (k || !masked ? [i] : []));
    const dIn = a.shape[0]!;
    const dOut = b.shape[1]!;
    const key = peftModulePath(ctx.backbone, layer, target);
    const loraA = new Float32Array(ranks.length * dIn);
    const loraB = new Float32Array(dOut * ranks.length);
    ranks.forEach((rank, j) => {
      for (let i = 0; i < dIn; i++) loraA[j * dIn + i] = a.data[i * r + rank]!;
      for (let o = 0; o < dOut; o++) loraB[o * ranks.length + j] = b.data[rank * dOut + o]!;
    });
    return [
      { name: `${key}.lora_A`, shape: [ranks.length, dIn], data: loraA },
      { name: `${key}.lora_B`, shape: [dOut, ranks.length], data: loraB },
      { name: `${key}.lora_E`, shape: [ranks.length, 1], data: Float32Array.from(ranks, (rank) => e.data[rank]!) },
    ];
  });
  const rankPattern = masked
    ? Object.fromEntries(sites.map((s) => [`${ctx.backbone}encoder.layer.${s.layer}.${PROJECTION_MODULE_PATHS[s.target]}.lora_E`, s.kept]))
    : null;
  const schedule = adaloraSchedule(config, sites.length, ctx.trainingSteps ?? NOMINAL_TOTAL_STEPS);
  return {
    // `r` is unused by AdaLoRA (PEFT warns unless it is LoRA's default 8); init_r is the rank.
    config: loraPeftConfig(
      { rank: 8, alpha: config.alpha, dropout: config.dropout, targets: config.targets, layers: config.layers },
      {
        peft_type: 'ADALORA',
        init_r: r,
        target_r: config.targetRank,
        tinit: schedule.tinit,
        tfinal: schedule.tfinal,
        deltaT: schedule.deltaT,
        beta1: config.beta1 ?? ADALORA_DEFAULTS.beta1,
        beta2: config.beta2 ?? ADALORA_DEFAULTS.beta2,
        orth_reg_weight: config.orthRegWeight ?? ADALORA_DEFAULTS.orthRegWeight,
        total_step: schedule.totalSteps,
        rank_pattern: rankPattern,
      },
    ),
    tensors,
    headPrefix: 'base_model.model.',
  };
}

export const adaloraMethod: PeftMethod<AdaloraConfig> = {
  ...adaloraSpec,
  salt: 0xada1,
  build: (config, ctx) => new AdaloraModule(ctx.tf, config, ctx.shape, ctx.seed),
  merge: 'merges',
  hfPeft: { write: writeAdalora },
  adapterHub: { refusal: 'AdapterHub (the adapters library) has no AdaLoRA: its LoRA has no singular values to mask and no rank allocation; the Hugging Face PEFT export has it' },
};
