/**
 * UniPELT gates (Mao et al. 2022), the pure half: a learned per-example scalar scaling each gated
 * module instance. Not a module of its own: LoRA, the serial adapter and prefix-tuning build their
 * gates when the configuration asks for them; this spec counts and labels them.
 */
import type { GatesConfig, PeftConfig } from '../types.js';
import { serialInsertions } from './adapters.js';
import { loraLayerSites } from './lora.js';
import type { MethodSpec } from './spec.js';

/** Gated module instances of a configuration: per LoRA site, per serial-adapter insertion, per prefix layer. */
function gatedInstances(gates: GatesConfig, peft: PeftConfig): number {
  let n = 0;
  if (gates.lora && peft.lora) n += loraLayerSites(peft.lora).length;
  if (gates.serialAdapter && peft.serialAdapter) n += serialInsertions(peft.serialAdapter) * peft.serialAdapter.layers.length;
  if (gates.prefix && peft.prefix) n += peft.prefix.layers.length;
  return n;
}

const anyGate = (gates: GatesConfig): boolean => gates.lora === true || gates.serialAdapter === true || gates.prefix === true;

export const gatesSpec: MethodSpec<GatesConfig> = {
  title: 'UniPELT gates',
  paradigm: 'modifier',
  validate: () => {},
  count(gates, shape, peft) {
    // Each gate is a [d, 1] kernel and a bias.
    const n = (shape.hiddenSize + 1) * gatedInstances(gates, peft);
    return { stored: n, training: n };
  },
  grid(gates) {
    const gated = (['lora', 'serialAdapter', 'prefix'] as const).filter((k) => gates[k]);
    return { rows: [], notes: gated.length > 0 ? [`UniPELT gates on ${gated.join(', ')}`] : [] };
  },
  chips: (gates) => (anyGate(gates) ? [{ label: 'gates', title: 'UniPELT gates' }] : []),
  layers: () => [],
  startsAtBase: true,
  example: () => ({ lora: { rank: 2, alpha: 2, dropout: 0, targets: ['query', 'value'], layers: [0, 1] }, gates: { lora: true } }),
};
