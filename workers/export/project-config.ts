/**
 * The project's own configuration JSON: everything needed to rebuild a trained adapter (base
 * model, modules per layer and their sizes, head) plus how it was trained and how it scored.
 * Its weights live beside it in `adapter_weights.safetensors` under the same names the workers use.
 */
import type { Tensor } from '@tensorflow/tfjs';
import { countPeftParams } from '../../search/param-count.js';
import type { EncoderShape, PeftConfig, TrainingConfig } from '../../search/types.js';
import type { Tf } from '../backend.js';
import type { HeadKind } from '../model/head.js';
import { headParamCount } from '../../search/param-count.js';
import { SequenceClassificationHead } from '../model/head.js';
import { parseSafetensors } from '../model/safetensors.js';
import type { EncoderWeights } from '../model/weights.js';
import { buildPeftModules, loadPeftWeights } from '../peft/build.js';
import type { PeftModule } from '../peft/peft-module.js';
import { ExportError } from './errors.js';
import type { NamedArray } from './weights.js';

/** Name of the weights file the configuration refers to. */
export const ADAPTER_WEIGHTS_FILE = 'adapter_weights.safetensors';

/** The current format version. */
export const PROJECT_CONFIG_VERSION = 1;

/** The project configuration file. */
export interface ProjectConfig {
  format: 'autopeft-adapter';
  version: number;
  baseModel: { name: string; modelType: 'bert' | 'roberta'; shape: EncoderShape };
  peft: PeftConfig;
  head: { kind: HeadKind; task: 'classification' | 'regression'; outputs: number; labels: string[] };
  /** Hyperparameters of the training run (optimiser settings included when given). */
  training?: TrainingConfig & Record<string, unknown>;
  /** Dev metrics of the trained adapter. */
  metrics?: Record<string, number>;
  parameters: {
    /** What trained (the prefix MLP included), head included. */
    trainable: number;
    /** What the adapter stores, head excluded. */
    stored: number;
    head: number;
    base: number;
    /** `stored / base`, in percent. */
    storedPercentOfBase: number;
  };
  weights: { file: string; tensors: Record<string, number[]> };
}

/** What {@link projectConfig} needs. */
export interface ProjectConfigInput {
  baseModel: { name: string; modelType: 'bert' | 'roberta'; shape: EncoderShape; baseParams: number };
  peft: PeftConfig;
  head: { kind: HeadKind; task: 'classification' | 'regression'; outputs: number; labels: readonly string[] };
  training?: TrainingConfig;
  metrics?: Record<string, number>;
  /** The stored weights (PEFT modules and head) that go to {@link ADAPTER_WEIGHTS_FILE}. */
  weights: ReadonlyMap<string, NamedArray>;
}

/** Builds the configuration object. */
export function projectConfig(input: ProjectConfigInput): ProjectConfig {
  const { shape } = input.baseModel;
  const head = headParamCount(input.head.kind, shape.hiddenSize, input.head.outputs);
  const stored = countPeftParams(input.peft, shape, 'stored');
  return {
    format: 'autopeft-adapter',
    version: PROJECT_CONFIG_VERSION,
    baseModel: { name: input.baseModel.name, modelType: input.baseModel.modelType, shape: { ...shape } },
    peft: structuredClone(input.peft),
    head: { ...input.head, labels: [...input.head.labels] },
    ...(input.training ? { training: { ...input.training } } : {}),
    ...(input.metrics ? { metrics: { ...input.metrics } } : {}),
    parameters: {
      trainable: countPeftParams(input.peft, shape, 'training') + head,
      stored,
      head,
      base: input.baseModel.baseParams,
      storedPercentOfBase: (100 * stored) / input.baseModel.baseParams,
    },
    weights: { file: ADAPTER_WEIGHTS_FILE, tensors: Object.fromEntries([...input.weights].map(([name, w]) => [name, [...w.shape]])) },
  };
}

/** Parses and checks a configuration file's text; errors name the missing or wrong field. */
export function parseProjectConfig(text: string): ProjectConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ExportError(`project configuration is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const config = raw as Partial<ProjectConfig> | null;
  if (!config || typeof config !== 'object') throw new ExportError('project configuration must be a JSON object');
  if (config.format !== 'autopeft-adapter') throw new ExportError(`format must be "autopeft-adapter", got ${JSON.stringify(config.format)}`);
  if (config.version !== PROJECT_CONFIG_VERSION) throw new ExportError(`version ${String(config.version)} is not supported (expected ${PROJECT_CONFIG_VERSION})`);
  for (const field of ['baseModel', 'peft', 'head', 'parameters', 'weights'] as const) {
    if (typeof config[field] !== 'object' || config[field] === null) throw new ExportError(`${field} is required`);
  }
  return config as ProjectConfig;
}

/** A rebuilt adapter: modules (in stored form) and head, ready to run on the base encoder. */
export interface RebuiltAdapter {
  modules: PeftModule[];
  head: SequenceClassificationHead;
  dispose(): void;
}

/**
 * Rebuilds the modules and head of an exported adapter from its configuration and weights file.
 * `baseWeights` are the base model's (BitFit needs their shapes).
 */
export function rebuildAdapter(tf: Tf, config: ProjectConfig, weightsFile: Uint8Array, baseWeights: EncoderWeights, dropout = 0.1): RebuiltAdapter {
  const file = parseSafetensors(weightsFile, config.weights.file);
  const tensors = new Map<string, Tensor>([...file.entries].map(([name, e]) => [name, tf.tensor(file.read(name), e.shape)]));
  const { shape } = config.baseModel;
  let modules: PeftModule[] = [];
  try {
    modules = buildPeftModules(tf, config.peft, shape, 0, { weights: baseWeights, mode: 'stored' });
    loadPeftWeights(modules, tensors);
    const head = new SequenceClassificationHead(tf, config.head.kind, shape.hiddenSize, config.head.outputs, 0, dropout, tensors);
    return {
      modules,
      head,
      dispose: () => {
        head.dispose();
        for (const m of modules) m.dispose();
      },
    };
  } catch (error) {
    for (const m of modules) m.dispose();
    throw error;
  } finally {
    tf.dispose([...tensors.values()]);
  }
}
