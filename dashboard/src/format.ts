/** Formatting of numbers, dates and configurations for display. */

import type { TrialRecord } from '../../scheduler/types.js';

/** A LoRA target projection, as the trial configuration names it. */
export type LoraTarget = NonNullable<TrialRecord['peft']['lora']>['targets'][number];

const DASH = '—';

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumSignificantDigits: 3 });
const full = new Intl.NumberFormat('en');

/** A metric value such as accuracy, to three decimals. */
export function fmtMetric(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? DASH : value.toFixed(3);
}

/** A parameter count in compact form: `295K`, `1.2M`. */
export function fmtCount(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? DASH : compact.format(value);
}

/** A parameter count with all digits: `294,912`. */
export function fmtCountFull(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? DASH : full.format(value);
}

/** A percentage with sensible precision across orders of magnitude: `12.5%`, `0.27%`, `0.0031%`. */
export function fmtPercent(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return DASH;
  if (value === 0) return '0%';
  if (value >= 10) return `${trimZeros(value.toFixed(1))}%`;
  if (value >= 1) return `${trimZeros(value.toFixed(2))}%`;
  return `${trimZeros(value.toPrecision(2))}%`;
}

/** A learning rate in short scientific notation: `2e-4`, `1.5e-3`. */
export function fmtLearningRate(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return DASH;
  const [mantissa = '', exponent = ''] = value.toExponential(2).split('e');
  return `${trimZeros(mantissa)}e${exponent.replace('+', '')}`;
}

/** Layer indices as compact ranges: `[0,1,2,3,7]` becomes `0–3, 7`. */
export function fmtLayers(layers: readonly number[] | undefined): string {
  if (!layers || layers.length === 0) return DASH;
  const sorted = [...new Set(layers)].sort((a, b) => a - b);
  const parts: string[] = [];
  let start = sorted[0] ?? 0;
  let prev = start;
  for (const n of sorted.slice(1).concat(Number.NaN)) {
    if (n === prev + 1) {
      prev = n;
      continue;
    }
    parts.push(start === prev ? String(start) : `${start}–${prev}`);
    start = n;
    prev = n;
  }
  return parts.join(', ');
}

const TARGET_LABELS: Record<LoraTarget, string> = {
  query: 'Q',
  key: 'K',
  value: 'V',
  attentionOutput: 'O',
  ffnIn: 'FFN-in',
  ffnOut: 'FFN-out',
};

/** A short label of a LoRA target projection (the full name goes into a tooltip). */
export function targetLabel(target: LoraTarget): string {
  return TARGET_LABELS[target] ?? String(target);
}

/** A date and time in the reader's locale, short form. */
export function fmtDateTime(iso: string | undefined): string {
  if (!iso) return DASH;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return DASH;
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** The time between two instants: `42s`, `3m 05s`, `1h 02m`. */
export function fmtDuration(startIso: string | undefined, endIso: string | undefined): string {
  if (!startIso || !endIso) return DASH;
  const ms = new Date(endIso).getTime() - new Date(startIso).getTime();
  if (!Number.isFinite(ms) || ms < 0) return DASH;
  return fmtElapsed(ms);
}

/** A duration in milliseconds for people: `42s`, `3m 05s`, `1h 02m`. */
export function fmtElapsed(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

function trimZeros(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** One short label per PEFT module of a configuration, with a longer description for a tooltip. */
export function peftModules(peft: TrialRecord['peft']): { label: string; title: string }[] {
  const modules: { label: string; title: string }[] = [];
  const { lora, serialAdapter, parallelAdapter, prefix, ia3, bitfit, promptTuning, gates } = peft;
  if (lora) {
    const targets = lora.targets.map((t) => targetLabel(t)).join(' ');
    modules.push({ label: `LoRA r${lora.rank} ${targets}`, title: `LoRA rank ${lora.rank}, alpha ${lora.alpha} on ${lora.targets.join(', ')}` });
  }
  if (serialAdapter) {
    modules.push({ label: `${serialAdapter.placement === 'houlsby' ? 'Houlsby' : 'Serial'} ${serialAdapter.size}`, title: `serial adapter (${serialAdapter.placement}), bottleneck ${serialAdapter.size}, ${serialAdapter.activation}` });
  }
  if (parallelAdapter) modules.push({ label: `Parallel ${parallelAdapter.size}`, title: `parallel adapter, bottleneck ${parallelAdapter.size}, scaling ${parallelAdapter.scaling}` });
  if (prefix) modules.push({ label: `Prefix ${prefix.length}`, title: `prefix-tuning, ${prefix.length} vectors per layer${prefix.reparamSize ? `, MLP ${prefix.reparamSize} while training` : ''}` });
  if (ia3) modules.push({ label: '(IA)³', title: '(IA)3 scaling vectors on key, value and FFN' });
  if (bitfit) modules.push({ label: 'BitFit', title: 'base biases train' });
  if (promptTuning) modules.push({ label: `Prompt ${promptTuning.length}`, title: `prompt tuning, ${promptTuning.length} virtual tokens` });
  if (gates && (gates.lora || gates.serialAdapter || gates.prefix)) modules.push({ label: 'gates', title: 'UniPELT gates' });
  return modules;
}

/** Every layer some module of the configuration sits in. */
export function peftLayers(peft: TrialRecord['peft']): number[] {
  const layers = new Set<number>();
  for (const module of [peft.lora, peft.serialAdapter, peft.parallelAdapter, peft.prefix, peft.ia3, peft.bitfit]) {
    for (const layer of module?.layers ?? []) layers.add(layer);
  }
  return [...layers];
}
