/** The serial and parallel bottleneck adapters, the pure half: checks and counts they share. */
import type { AdapterActivation, EncoderShape, ParallelAdapterConfig, SerialAdapterConfig } from '../types.js';
import { checkLayers, checkPositiveInt, failer } from './checks.js';
import type { GridRow } from './spec.js';

/** Known bottleneck activations. */
export const ADAPTER_ACTIVATIONS: readonly AdapterActivation[] = ['relu', 'swish', 'gelu', 'tanh'];

/** Parameters of one bottleneck adapter insertion of width m: `2dm + d + m`. */
export function bottleneckParams(hiddenSize: number, size: number): number {
  return 2 * hiddenSize * size + hiddenSize + size;
}

/** The bottleneck fields of a serial or parallel adapter. */
export type BottleneckFields = Pick<SerialAdapterConfig, 'size' | 'layers' | 'sizeByLayer'>;

/** The bottleneck width of an adapter in a layer: `sizeByLayer` there, else `size`. */
export function bottleneckSizeAt(config: BottleneckFields, layer: number): number {
  return config.sizeByLayer?.[String(layer)] ?? config.size;
}

/** Parameters of one insertion per layer of the adapter, summed over its layers. */
export function bottleneckLayerParams(hiddenSize: number, config: BottleneckFields): number {
  return config.layers.reduce((sum, layer) => sum + bottleneckParams(hiddenSize, bottleneckSizeAt(config, layer)), 0);
}

/** Whether the adapter's width differs between its layers. */
export function hasPerLayerSizes(config: BottleneckFields): boolean {
  return config.layers.some((layer) => bottleneckSizeAt(config, layer) !== config.size);
}

/** `16`, or `4–16` when the widths differ by layer. */
export function bottleneckLabel(config: BottleneckFields): string {
  if (!hasPerLayerSizes(config)) return String(config.size);
  const sizes = config.layers.map((layer) => bottleneckSizeAt(config, layer));
  return `${Math.min(...sizes)}–${Math.max(...sizes)}`;
}

/** A grid row of an adapter placement: each layer's cell its own width when they differ. */
export function bottleneckRow(id: string, label: string, config: BottleneckFields): GridRow {
  const row: GridRow = { id, label, unit: 'bottleneck', layers: config.layers, size: config.size };
  return hasPerLayerSizes(config) ? { ...row, sizes: config.layers.map((layer) => bottleneckSizeAt(config, layer)) } : row;
}

/** Insertions per layer of a serial adapter: 2 for Houlsby, 1 for Pfeiffer. */
export const serialInsertions = (config: SerialAdapterConfig): number => (config.placement === 'houlsby' ? 2 : 1);

function validateBottleneck(what: string, config: BottleneckFields & { activation: AdapterActivation }, shape: EncoderShape): (message: string) => never {
  const fail = failer(what);
  checkPositiveInt(fail, 'size', config.size);
  checkLayers(fail, config.layers, shape);
  if (config.sizeByLayer !== undefined) {
    if (typeof config.sizeByLayer !== 'object' || config.sizeByLayer === null) fail('sizeByLayer must map layer indices to bottleneck widths');
    for (const [layer, size] of Object.entries(config.sizeByLayer)) {
      if (!config.layers.some((l) => String(l) === layer)) fail(`sizeByLayer names layer "${layer}", which is not among the layers`);
      checkPositiveInt(fail, `sizeByLayer.${layer}`, size);
    }
  }
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
