/**
 * The project's own configuration JSON (format {@link CONFIG_FORMAT}): everything needed to
 * rebuild a trained adapter (base model, modules per layer and their sizes, head) plus how it was
 * trained and how it scored. Its weights live beside it in `adapter_weights.safetensors` under the
 * same names the workers use. The API adds the study's fields (study, task, search point, metric)
 * to the same object when it serves a trial's configuration.
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
import { CONFIG_FORMAT } from './format.js';
import type { NamedArray } from './weights.js';

/** Name of the weights file the configuration refers to. */
export const ADAPTER_WEIGHTS_FILE = 'adapter_weights.safetensors';

export { CONFIG_FORMAT } from './format.js';

/** The project configuration file. */
export interface ProjectConfig {
  format: typeof CONFIG_FORMAT;
  /**
   * The base model: the project's name for it and, when its weights are a Hugging Face
   * directory's own, `huggingFace` (with that directory's `_name_or_path` when its `config.json`
   * records one); `huggingFace: false` when the weights exist only inside the project (seeded).
   */
  baseModel: { name: string; modelType: 'bert' | 'roberta'; shape: EncoderShape; huggingFace: { nameOrPath?: string } | false };
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
  baseModel: { name: string; modelType: 'bert' | 'roberta'; shape: EncoderShape; baseParams: number; huggingFace?: { nameOrPath?: string } };
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
    format: CONFIG_FORMAT,
    baseModel: {
      name: input.baseModel.name,
      modelType: input.baseModel.modelType,
      shape: { ...shape },
      huggingFace: input.baseModel.huggingFace ? { ...input.baseModel.huggingFace } : false,
    },
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
  if (config.format !== CONFIG_FORMAT) throw new ExportError(`format must be "${CONFIG_FORMAT}", got ${JSON.stringify(config.format)}`);
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
