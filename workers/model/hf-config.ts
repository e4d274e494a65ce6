/**
 * Reading a Hugging Face `config.json` of a BERT or RoBERTa checkpoint: the encoder's shape
 * and numerics. Anything the encoder cannot reproduce exactly (another activation, relative
 * positions, another architecture) is rejected with a message naming the field.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EncoderShape } from '../../search/types.js';
import { InvalidTrialError } from '../errors.js';

/** The model families the encoder implements. */
export type HfModelType = 'bert' | 'roberta';

/** What the worker needs from `config.json`. */
export interface HfModelConfig {
  modelType: HfModelType;
  shape: EncoderShape;
  layerNormEps: number;
  padTokenId: number;
  hiddenDropout: number;
  attentionDropout: number;
  /** `architectures[0]`, e.g. `BertForSequenceClassification`, when given. */
  architecture?: string;
  /** `_name_or_path` (what `save_pretrained` records the checkpoint was loaded from), when given. */
  nameOrPath?: string;
}

/** Parses the JSON text of a `config.json`; `source` names it in errors. */
export function parseHfConfig(text: string, source: string): HfModelConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InvalidTrialError(`${source} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InvalidTrialError(`${source} must hold a JSON object`);
  const config = raw as Record<string, unknown>;
  const fail = (message: string): never => {
    throw new InvalidTrialError(`${source}: ${message}`);
  };
  const modelType = config.model_type;
  if (modelType !== 'bert' && modelType !== 'roberta') {
    fail(`model_type must be "bert" or "roberta", got ${JSON.stringify(modelType)}`);
  }
  const int = (key: string, fallback?: number): number => {
    const value = config[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail(`${key} must be a non-negative integer, got ${JSON.stringify(value)}`);
    return value as number;
  };
  const num = (key: string, fallback: number): number => {
    const value = config[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${key} must be a number, got ${JSON.stringify(value)}`);
    return value as number;
  };
  const hiddenAct = config.hidden_act ?? 'gelu';
  if (hiddenAct !== 'gelu') fail(`hidden_act ${JSON.stringify(hiddenAct)} is not supported (only the exact "gelu")`);
  const positionType = config.position_embedding_type ?? 'absolute';
  if (positionType !== 'absolute') fail(`position_embedding_type ${JSON.stringify(positionType)} is not supported (only "absolute")`);
  const roberta = modelType === 'roberta';
  const shape: EncoderShape = {
    vocabSize: int('vocab_size'),
    hiddenSize: int('hidden_size'),
    numLayers: int('num_hidden_layers'),
    numHeads: int('num_attention_heads'),
    intermediateSize: int('intermediate_size'),
    maxPositions: int('max_position_embeddings'),
    typeVocabSize: int('type_vocab_size', roberta ? 1 : 2),
    headKind: modelType as HfModelType,
  };
  if (shape.hiddenSize === 0 || shape.numHeads === 0 || shape.hiddenSize % shape.numHeads !== 0) {
    fail(`hidden_size ${shape.hiddenSize} must be a positive multiple of num_attention_heads ${shape.numHeads}`);
  }
  const architectures = config.architectures;
  return {
    modelType: modelType as HfModelType,
    shape,
    layerNormEps: num('layer_norm_eps', 1e-12),
    padTokenId: int('pad_token_id', roberta ? 1 : 0),
    hiddenDropout: num('hidden_dropout_prob', 0.1),
    attentionDropout: num('attention_probs_dropout_prob', 0.1),
    architecture: Array.isArray(architectures) && typeof architectures[0] === 'string' ? architectures[0] : undefined,
    nameOrPath: typeof config._name_or_path === 'string' && config._name_or_path.length > 0 ? config._name_or_path : undefined,
  };
}

/** Reads and parses `dir/config.json`. */
export function readHfConfig(dir: string): HfModelConfig {
  const file = path.join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidTrialError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseHfConfig(text, file);
}

/** The encoder shape of a model directory. */
export function readHfShape(dir: string): EncoderShape {
  return readHfConfig(dir).shape;
}
