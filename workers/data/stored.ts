/**
 * Uploaded datasets as stored in Redis: the normalised dataset as JSON, so a worker on any host
 * loads exactly what the API validated, without re-parsing the user's file.
 */
import type { MetricName } from '../../search/types.js';
import { isMetricName } from '../train/metrics.js';
import type { Dataset, Example } from './dataset.js';
import { DatasetError } from './errors.js';

/** Version of the stored JSON; bumped when its shape changes. */
export const STORED_DATASET_VERSION = 1;

/** An upload's id: what `upload:<id>` references carry. */
export const UPLOAD_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Redis key of an uploaded dataset's JSON. */
export function uploadKey(prefix: string, id: string): string {
  return `${prefix}:dataset:${id}`;
}

/** Redis key of the hash of every upload's summary (field: id). */
export function uploadIndexKey(prefix: string): string {
  return `${prefix}:datasets`;
}

/** What the API reports about an upload. */
export interface UploadSummary {
  id: string;
  /** The reference a study spec uses: `upload:<id>`. */
  ref: string;
  name: string;
  kind: Dataset['kind'];
  labels: string[];
  defaultMetric: MetricName;
  metrics: MetricName[];
  /** Example counts of the splits. */
  train: number;
  dev: number;
  createdAt: string;
  /** Name of the token that uploaded it. */
  owner?: string;
  /** Size of the uploaded file, for the upload quota. */
  bytes?: number;
}

/** The stored form of an upload. */
export interface StoredDataset {
  version: number;
  id: string;
  createdAt: string;
  dataset: Dataset;
}

/** The summary of a dataset stored under `id`. */
export function summarise(id: string, dataset: Dataset, createdAt: string): UploadSummary {
  return {
    id,
    ref: `upload:${id}`,
    name: dataset.name,
    kind: dataset.kind,
    labels: dataset.labels,
    defaultMetric: dataset.defaultMetric,
    metrics: dataset.metrics,
    train: dataset.train.length,
    dev: dataset.dev.length,
    createdAt,
  };
}

/** The JSON to store for a dataset. */
export function serialiseDataset(id: string, dataset: Dataset, createdAt: string): string {
  const stored: StoredDataset = { version: STORED_DATASET_VERSION, id, createdAt, dataset };
  return JSON.stringify(stored);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The dataset of a stored upload, checked field by field (Redis is shared, so the value may
 * have been written by another version or damaged).
 * @throws DatasetError naming the upload and what is wrong.
 */
export function parseStoredDataset(json: string, id: string): Dataset {
  const fail = (problem: string): never => {
    throw new DatasetError({ file: `upload:${id}` }, `stored dataset is unusable: ${problem}`);
  };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return fail('not valid JSON');
  }
  if (!isRecord(value)) return fail('not an object');
  if (value.version !== STORED_DATASET_VERSION) return fail(`version ${String(value.version)}, expected ${STORED_DATASET_VERSION}`);
  const d = value.dataset;
  if (!isRecord(d)) return fail('no dataset');
  if (typeof d.name !== 'string') return fail('name is not a string');
  if (d.kind !== 'classification' && d.kind !== 'regression') return fail(`unknown kind ${String(d.kind)}`);
  if (!Array.isArray(d.labels) || !d.labels.every((l) => typeof l === 'string')) return fail('labels are not strings');
  const labels = d.labels as string[];
  if (!Array.isArray(d.metrics) || d.metrics.length === 0 || !d.metrics.every((m) => typeof m === 'string' && isMetricName(m))) {
    return fail('metrics are not metric names');
  }
  if (typeof d.defaultMetric !== 'string' || !isMetricName(d.defaultMetric)) return fail('defaultMetric is not a metric name');
  const examples = (split: string): Example[] => {
    const list = d[split];
    if (!Array.isArray(list) || list.length === 0) return fail(`${split} is not a non-empty list`);
    return list.map((e: unknown, i): Example => {
      if (!isRecord(e) || typeof e.text !== 'string' || typeof e.label !== 'number' || !Number.isFinite(e.label)) {
        return fail(`${split}[${i}] is not an example`);
      }
      if (e.textPair !== undefined && typeof e.textPair !== 'string') return fail(`${split}[${i}].textPair is not a string`);
      if (d.kind === 'classification' && !(Number.isInteger(e.label) && e.label >= 0 && e.label < labels.length)) {
        return fail(`${split}[${i}].label ${e.label} is not a class id`);
      }
      return e.textPair === undefined ? { text: e.text, label: e.label } : { text: e.text, textPair: e.textPair, label: e.label };
    });
  };
  return {
    name: d.name,
    kind: d.kind,
    labels,
    train: examples('train'),
    dev: examples('dev'),
    defaultMetric: d.defaultMetric,
    metrics: d.metrics as MetricName[],
  };
}
