/**
 * What this installation offers (built-in datasets, uploads, files under the data root, base
 * models) in the form the API and the scheduler need to check a spec, without training anything.
 */
import type { RedisClient } from '../workers/redis-connection.js';
import type { DatasetFacts, SpecContext } from '../scheduler/spec.js';
import { STUDY_ID_PATTERN, StudyStore } from '../scheduler/store.js';
import { DATASET_INFO } from '../workers/data/catalog.js';
import { outputCount } from '../workers/data/dataset.js';
import { loadDataset, parseDatasetRef } from '../workers/data/registry.js';
import type { UploadSummary } from '../workers/data/stored.js';
import { uploadIndexKey } from '../workers/data/stored.js';
import { resolveBaseModel } from '../workers/models/resolve.js';

/** Where datasets other than the built-ins come from. */
export interface DatasetSources {
  redis: RedisClient;
  keyPrefix: string;
  /** Root of `file:` datasets; without it they are refused. */
  dataRoot?: string;
  /** Root of users' model directories, by name. */
  modelRoot?: string;
  /** Largest estimated memory of one trial, in bytes (see {@link SpecContext.trialMaxMemoryBytes}). */
  trialMaxMemoryBytes?: number;
}

/** Facts of the dataset a reference names: built-ins from the catalogue, uploads from their summary, files by loading them. */
export async function describeDataset(ref: string, sources: DatasetSources): Promise<DatasetFacts> {
  const parsed = parseDatasetRef(ref);
  switch (parsed.type) {
    case 'builtin': {
      const info = DATASET_INFO[parsed.name]!;
      return { kind: info.kind, outputs: outputCount(info), metrics: info.metrics, defaultMetric: info.defaultMetric };
    }
    case 'upload': {
      const json = await sources.redis.hget(uploadIndexKey(sources.keyPrefix), parsed.id);
      if (json === null) throw new Error(`no upload with id "${parsed.id}" (POST /api/datasets lists and creates uploads)`);
      const summary = JSON.parse(json) as UploadSummary;
      return { kind: summary.kind, outputs: outputCount(summary), metrics: summary.metrics, defaultMetric: summary.defaultMetric };
    }
    case 'file': {
      // Loading checks the path stays under the root and that every row parses.
      const dataset = await loadDataset(ref, sources.dataRoot ? { dataRoot: sources.dataRoot } : {});
      return { kind: dataset.kind, outputs: outputCount(dataset), metrics: dataset.metrics, defaultMetric: dataset.defaultMetric };
    }
  }
}

/** What spec validation knows about this installation. */
export function createSpecContext(sources: DatasetSources): SpecContext {
  return {
    describeDataset: (ref) => describeDataset(ref, sources),
    baseModelShape: async (name) => (await resolveBaseModel(name, sources.modelRoot)).shape,
    studyExists: async (id) => STUDY_ID_PATTERN.test(id) && (await new StudyStore(sources.redis, sources.keyPrefix).getStudy(id)) !== undefined,
    ...(sources.trialMaxMemoryBytes !== undefined ? { trialMaxMemoryBytes: sources.trialMaxMemoryBytes } : {}),
  };
}
