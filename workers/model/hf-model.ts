/**
 * Loading a local Hugging Face BERT or RoBERTa directory: `config.json`, `model.safetensors`
 * (names of BertModel, BertForSequenceClassification, RobertaModel or
 * RobertaForSequenceClassification; old `gamma`/`beta` LayerNorm names accepted) and the
 * tokenizer files. PyTorch `[out, in]` linear weights become `[in, out]` kernels.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import type { EncoderShape } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { InvalidTrialError } from '../errors.js';
import type { TextTokenizer } from './encoding.js';
import type { HfModelConfig } from './hf-config.js';
import { readHfConfig } from './hf-config.js';
import { loadHfTokenizer } from './hf-tokenizer.js';
import type { SafetensorsFile } from './safetensors.js';
import { SafetensorsError, parseSafetensors } from './safetensors.js';
import type { EncoderWeights, LayerNormWeights, LinearWeights } from './weights.js';
import { PROJECTION_MODULE_PATHS } from './weights.js';

/** A loaded model directory. */
export interface LoadedHfModel {
  config: HfModelConfig;
  weights: EncoderWeights;
  tokenizer: TextTokenizer;
  /** The checkpoint's sequence-classification head (head variable names, kernels `[in, out]`), if any. */
  head?: Map<string, Tensor>;
}

/**
 * Builds encoder weights from a parsed checkpoint. Throws {@link InvalidTrialError} naming
 * the first missing or misshapen tensor (with the name it has in the file).
 */
export function weightsFromSafetensors(tf: Tf, file: SafetensorsFile, config: HfModelConfig, source: string): { weights: EncoderWeights; head?: Map<string, Tensor> } {
  const { shape } = config;
  const names = file.entries;
  const backbone = [`${config.modelType}.`, ''].find((prefix) => names.has(`${prefix}embeddings.word_embeddings.weight`));
  if (backbone === undefined) {
    throw new InvalidTrialError(
      `${source}: tensor "${config.modelType}.embeddings.word_embeddings.weight" (or "embeddings.word_embeddings.weight") is missing; is this a ${config.modelType} checkpoint?`,
    );
  }
  const created: Tensor[] = [];
  const read = (names2: readonly string[], expected: readonly number[]): { name: string; data: Float32Array } => {
    const name = names2.find((n) => names.has(n));
    if (!name) throw new InvalidTrialError(`${source}: tensor "${names2[0]}" is missing`);
    const entry = names.get(name)!;
    if (entry.shape.join(',') !== expected.join(',')) {
      throw new InvalidTrialError(`${source}: tensor "${name}" has shape [${entry.shape.join(', ')}], expected [${expected.join(', ')}]`);
    }
    try {
      return { name, data: file.read(name) };
    } catch (error) {
      if (error instanceof SafetensorsError) throw new InvalidTrialError(error.message);
      throw error;
    }
  };
  const track = <T extends Tensor>(t: T): T => {
    created.push(t);
    return t;
  };
  const matrix = (name: string, rows: number, cols: number): Tensor2D => track(tf.tensor2d(read([name], [rows, cols]).data, [rows, cols]));
  const vector = (names2: readonly string[], size: number): Tensor1D => track(tf.tensor1d(read(names2, [size]).data));
  const linear = (prefix: string, dIn: number, dOut: number): LinearWeights => {
    const weight = read([`${prefix}.weight`], [dOut, dIn]).data;
    // PyTorch stores [out, in]; the encoder multiplies x @ kernel with kernel [in, out].
    const kernel = track(tf.tidy(() => tf.transpose(tf.tensor2d(weight, [dOut, dIn]))));
    return { kernel, bias: vector([`${prefix}.bias`], dOut) };
  };
  const layerNorm = (prefix: string, d: number): LayerNormWeights => ({
    gamma: vector([`${prefix}.weight`, `${prefix}.gamma`], d),
    beta: vector([`${prefix}.bias`, `${prefix}.beta`], d),
  });
  try {
    const d = shape.hiddenSize;
    const p = backbone;
    const weights: EncoderWeights = {
      wordEmbeddings: matrix(`${p}embeddings.word_embeddings.weight`, shape.vocabSize, d),
      positionEmbeddings: matrix(`${p}embeddings.position_embeddings.weight`, shape.maxPositions, d),
      tokenTypeEmbeddings: matrix(`${p}embeddings.token_type_embeddings.weight`, shape.typeVocabSize, d),
      embeddingsLayerNorm: layerNorm(`${p}embeddings.LayerNorm`, d),
      layers: Array.from({ length: shape.numLayers }, (_, i) => {
        const l = `${p}encoder.layer.${i}`;
        return {
          query: linear(`${l}.${PROJECTION_MODULE_PATHS.query}`, d, d),
          key: linear(`${l}.${PROJECTION_MODULE_PATHS.key}`, d, d),
          value: linear(`${l}.${PROJECTION_MODULE_PATHS.value}`, d, d),
          attentionOutput: linear(`${l}.${PROJECTION_MODULE_PATHS.attentionOutput}`, d, d),
          attentionLayerNorm: layerNorm(`${l}.attention.output.LayerNorm`, d),
          ffnIn: linear(`${l}.${PROJECTION_MODULE_PATHS.ffnIn}`, d, shape.intermediateSize),
          ffnOut: linear(`${l}.${PROJECTION_MODULE_PATHS.ffnOut}`, shape.intermediateSize, d),
          outputLayerNorm: layerNorm(`${l}.output.LayerNorm`, d),
        };
      }),
      // Sequence-classification RoBERTa checkpoints are saved without a pooler.
      pooler: names.has(`${p}pooler.dense.weight`) ? linear(`${p}pooler.dense`, d, d) : undefined,
    };
    return { weights, head: readHead(tf, file, config, shape, read, created) };
  } catch (error) {
    for (const tensor of created) tensor.dispose();
    throw error;
  }
}

function readHead(
  tf: Tf,
  file: SafetensorsFile,
  config: HfModelConfig,
  shape: EncoderShape,
  read: (names: readonly string[], expected: readonly number[]) => { data: Float32Array },
  created: Tensor[],
): Map<string, Tensor> | undefined {
  const d = shape.hiddenSize;
  const outName = config.modelType === 'roberta' ? 'classifier.out_proj' : 'classifier';
  const out = file.entries.get(`${outName}.weight`);
  if (!out || out.shape.length !== 2) return undefined;
  const k = out.shape[0]!;
  const head = new Map<string, Tensor>();
  const linear = (prefix: string, dIn: number, dOut: number): void => {
    const weight = read([`${prefix}.weight`], [dOut, dIn]).data;
    const kernel = tf.tidy(() => tf.transpose(tf.tensor2d(weight, [dOut, dIn])));
    const bias = tf.tensor1d(read([`${prefix}.bias`], [dOut]).data);
    created.push(kernel, bias);
    head.set(`${prefix}.kernel`, kernel);
    head.set(`${prefix}.bias`, bias);
  };
  if (config.modelType === 'roberta') linear('classifier.dense', d, d);
  linear(outName, d, k);
  return head;
}

/** Loads a model directory (synchronously: it happens once per process and model). */
export function loadHfModelDir(tf: Tf, dir: string): LoadedHfModel {
  const config = readHfConfig(dir);
  const file = path.join(dir, 'model.safetensors');
  if (!existsSync(file)) {
    throw new InvalidTrialError(`${dir} has no model.safetensors (PyTorch .bin checkpoints are not read; convert with safetensors' save_file)`);
  }
  let parsed: SafetensorsFile;
  try {
    parsed = parseSafetensors(readFileSync(file), file);
  } catch (error) {
    if (error instanceof SafetensorsError) throw new InvalidTrialError(error.message);
    throw error;
  }
  const tokenizer = loadHfTokenizer(dir, config);
  const { weights, head } = weightsFromSafetensors(tf, parsed, config, file);
  return { config, weights, tokenizer, head };
}
