/** The serial and parallel bottleneck adapters, the pure half: checks and counts they share. */
import type { AdapterActivation, EncoderShape, ParallelAdapterConfig, SerialAdapterConfig } from '../types.js';
import { checkLayers, checkPositiveInt, failer } from './checks.js';

/** Known bottleneck activations. */
export const ADAPTER_ACTIVATIONS: readonly AdapterActivation[] = ['relu', 'swish', 'gelu', 'tanh'];

/** Parameters of one bottleneck adapter insertion of width m: `2dm + d + m`. */
export function bottleneckParams(hiddenSize: number, size: number): number {
  return 2 * hiddenSize * size + hiddenSize + size;
}

/** Insertions per layer of a serial adapter: 2 for Houlsby, 1 for Pfeiffer. */
export const serialInsertions = (config: SerialAdapterConfig): number => (config.placement === 'houlsby' ? 2 : 1);

function validateBottleneck(what: string, config: { size: number; layers: number[]; activation: AdapterActivation }, shape: EncoderShape): (message: string) => never {
  const fail = failer(what);
  checkPositiveInt(fail, 'size', config.size);
  checkLayers(fail, config.layers, shape);
  if (!ADAPTER_ACTIVATIONS.includes(config.activation)) {
    fail(`unknown activation "${String(config.activation)}"; known: ${ADAPTER_ACTIVATIONS.join(', ')}`);
  }
  return fail;
}

/** Throws naming the field when a serial adapter configuration cannot be built. */
export function validateSerialAdapter(config: SerialAdapterConfig, shape: EncoderShape): void {
  const fail = validateBottleneck('serial adapter', config, shape);
  if (config.placement !== 'pfeiffer' && config.placement !== 'houlsby') {
    fail(`placement must be "pfeiffer" or "houlsby", got "${String(config.placement)}"`);
  }
}

/** Throws naming the field when a parallel adapter configuration cannot be built. */
export function validateParallelAdapter(config: ParallelAdapterConfig, shape: EncoderShape): void {
  const fail = validateBottleneck('parallel adapter', config, shape);
  if (!Number.isFinite(config.scaling)) fail(`scaling must be a finite number, got ${config.scaling}`);
}
