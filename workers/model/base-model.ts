/**
 * Base models by catalog name, built once per process and backend: the frozen weights are the
 * same for every trial, and creating them for each trial would cost time and memory churn.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { EncoderShape } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { InvalidTrialError } from '../errors.js';
import { BASE_MODELS, findBaseModel } from '../models/catalog.js';
import { BertEncoder } from './encoder.js';
import type { TextTokenizer } from './encoding.js';
import type { HeadKind } from './head.js';
import type { HfModelType } from './hf-config.js';
import { loadHfModelDir } from './hf-model.js';
import { HashedWordTokenizer } from './tokenizer.js';
import { countWeights, createRandomWeights, disposeWeights } from './weights.js';

/** A ready base model: frozen encoder plus the tokenizer that matches it. */
export interface BaseModel {
  name: string;
  modelType: HfModelType;
  shape: EncoderShape;
  encoder: BertEncoder;
  tokenizer: TextTokenizer;
  /** The task head this architecture uses. */
  headKind: HeadKind;
  /** Scalars in the frozen weights, counted from the tensors. */
  baseParams: number;
  /** Longest input (special tokens and prompts included) the position table allows. */
  maxSequenceLength: number;
  /** A fine-tuned checkpoint's own classifier, under head variable names, when it had one. */
  checkpointHead?: ReadonlyMap<string, Tensor>;
  /**
   * Whether the weights are a Hugging Face directory's own (so transformers loads the same base
   * model), and that directory's `_name_or_path` when its `config.json` records one.
   */
  huggingFace?: { nameOrPath?: string };
}

const cache = new Map<string, BaseModel>();

/**
 * The base model of that name, built (or loaded from its directory) on first use for the active
 * backend and cached. Throws {@link InvalidTrialError} naming an unknown model and listing the
 * known ones, or naming what is wrong with a model directory.
 */
export function getBaseModel(tf: Tf, name: string): BaseModel {
  const entry = findBaseModel(name);
  if (!entry) {
    throw new InvalidTrialError(`Unknown base model "${name}"; known base models: ${Object.keys(BASE_MODELS).join(', ')}`);
  }
  // Tensors belong to a backend; a process that switches backend gets its own copy.
  const key = `${tf.getBackend()}:${name}`;
  let model = cache.get(key);
  if (!model) {
    if (entry.kind === 'hf-dir') {
      const loaded = loadHfModelDir(tf, entry.path);
      if (entry.randomInitSeed !== undefined) {
        disposeWeights(loaded.weights);
        loaded.weights = createRandomWeights(tf, loaded.config.shape, entry.randomInitSeed);
      }
      const { config } = loaded;
      const encoder = new BertEncoder(tf, config.shape, loaded.weights, {
        layerNormEps: config.layerNormEps,
        hiddenDropout: config.hiddenDropout,
        attentionDropout: config.attentionDropout,
        positionStyle: config.modelType === 'roberta' ? 'roberta' : 'bert',
        paddingId: config.padTokenId,
      });
      model = {
        name,
        modelType: config.modelType,
        shape: config.shape,
        encoder,
        tokenizer: loaded.tokenizer,
        headKind: config.modelType,
        baseParams: countWeights(loaded.weights),
        maxSequenceLength: config.modelType === 'roberta' ? config.shape.maxPositions - config.padTokenId - 1 : config.shape.maxPositions,
        checkpointHead: loaded.head,
        ...(entry.randomInitSeed === undefined ? { huggingFace: config.nameOrPath ? { nameOrPath: config.nameOrPath } : {} } : {}),
      };
    } else {
      const weights = createRandomWeights(tf, entry.shape, entry.initSeed);
      model = {
        name,
        modelType: 'bert',
        shape: entry.shape,
        encoder: new BertEncoder(tf, entry.shape, weights),
        tokenizer: new HashedWordTokenizer(entry.shape.vocabSize),
        headKind: 'bert',
        baseParams: countWeights(weights),
        maxSequenceLength: entry.shape.maxPositions,
      };
    }
    cache.set(key, model);
  }
  return model;
}

/** Disposes every cached base model (for tests and shutdown). */
export function clearBaseModelCache(): void {
  for (const model of cache.values()) {
    model.encoder.dispose();
    disposeWeights(model.encoder.weights);
    for (const tensor of model.checkpointHead?.values() ?? []) tensor.dispose();
  }
  cache.clear();
}
