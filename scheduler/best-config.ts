/**
 * The project's configuration JSON of a trial (the one format, {@link CONFIG_FORMAT}): the
 * adapter's own configuration as the worker stored it beside its weights (base model and its
 * shape, PEFT modules, head and labels, parameter counts, weight names), with the study's view of
 * the trial added: study, task, training settings, search point, metric, downloads.
 */
import type { EncoderShape } from '../search/types.js';
import { CONFIG_FORMAT } from '../workers/export/format.js';
import type { StudyRecord, TrialRecord } from './types.js';

export { CONFIG_FORMAT };

/** Where a trial's stored project configuration lives among its files (old trials: at the top). */
export const STORED_CONFIG_FILES = ['autopeft/autopeft_config.json', 'autopeft_config.json'] as const;

/**
 * Builds the downloadable configuration of one complete trial. `stored` is the parsed
 * configuration the worker stored with the trial's weights, when it has some.
 */
export function buildTrialConfig(study: StudyRecord, trial: TrialRecord, shape: EncoderShape, stored?: Record<string, unknown>) {
  const storedBase = (stored?.baseModel ?? {}) as Record<string, unknown>;
  // `version` belonged to the configuration a worker stored before the one format.
  const { version: _legacyVersion, ...adapterPart } = stored ?? {};
  return {
    ...adapterPart,
    format: CONFIG_FORMAT,
    study: { id: study.id, name: study.spec.name },
    trial: trial.number,
    task: study.spec.task,
    baseModel: { ...storedBase, name: study.spec.task.baseModel, shape, params: study.baseParams },
    peft: trial.peft,
    training: trial.training,
    searchPoint: trial.params,
    metric: { name: study.spec.task.metric, value: trial.metric, all: trial.metrics, majorityBaseline: trial.majorityBaseline },
    trainableParams: trial.trainableParams,
    trainablePercent: trial.trainablePercent,
    /** The trained adapter's files (project config, weights, AdapterHub, PEFT), by API path. */
    downloads: Object.fromEntries((trial.artifact?.files ?? []).map((file) => [file, `/api/studies/${study.id}/trials/${trial.number}/files/${file}`])),
    exportNotes: trial.artifact?.notes ?? [],
  };
}
